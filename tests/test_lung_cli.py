"""``medvis lung``: outputs, options, label-map mode, and the picture (offscreen, subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import medvis
from medvis.cli import main
from medvis.lung.phantom import lung_phantom
from tests._data import shared_data

SMALL = {"shape_ijk": (118, 98, 72), "spacing": (3.0, 3.0, 4.0)}


@pytest.fixture(scope="module")
def phantom_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lung") / "chest.nii.gz"
    medvis.save(lung_phantom(**SMALL).volume, path)
    return path


def test_parser_stays_light() -> None:
    """Building the parser (every medvis command does) must not import medvis.lung."""
    code = textwrap.dedent(
        """
        import sys
        from medvis.cli import build_parser
        build_parser().parse_args(["lung", "ct", "-o", "out"])
        print(sorted(m for m in sys.modules if m.startswith("medvis.lung")))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_defaults_match_the_library() -> None:
    from medvis import cli_lung
    from medvis.lung import DEFAULT_HU_RANGE, MESH_FORMATS

    assert cli_lung._DEFAULT_HU_RANGE == DEFAULT_HU_RANGE
    assert cli_lung._MESH_FORMATS == MESH_FORMATS


def test_lung_command_writes_everything(
    phantom_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["lung", str(phantom_file), "-o", str(out), "--no-png", "--formats", "stl,obj,ply,vtp"]
    assert main([*args, "--hu-range", "-1100", "-450", "--smoothing", "10"]) == 0
    text = capsys.readouterr().out
    assert "right lung (label 1)" in text and "total:" in text
    names = sorted(p.name for p in out.iterdir())
    expected = [
        f"{side}_lung.{ext}" for side in ("left", "right") for ext in ("obj", "ply", "stl", "vtp")
    ]
    assert names == sorted([*expected, "lung_labels.nii.gz", "lung_report.json", "lung_report.txt"])
    report = json.loads((out / "lung_report.json").read_text())
    assert report["parameters"]["hu_range"] == [-1100.0, -450.0]
    assert report["parameters"]["smoothing_iterations"] == 10
    mask = medvis.load(out / "lung_labels.nii.gz")
    source = medvis.load(phantom_file)
    assert mask.array.shape == source.array.shape
    assert np.allclose(mask.index_to_world, source.index_to_world, atol=1e-4)
    for name, value in (("right_lung", 1), ("left_lung", 2)):
        entry = report["structures"][name]
        assert entry["voxel_count"] == int(np.count_nonzero(mask.array == value))
        assert entry["mesh_closed"]
    # Existing outputs are not overwritten without --force.
    assert main(args) == 1
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force", "--json", "--ras", "--mask-format", "nrrd"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["parameters"]["mesh_world"] == "RAS"
    assert (out / "lung_labels.nrrd").exists()


def test_bad_options(phantom_file: Path, tmp_path: Path) -> None:
    for bad in (["--formats", "stl,off"], ["--hu-range", "-400", "-900"], ["--hu-range", "x", "1"]):
        with pytest.raises(SystemExit) as exc:
            main(["lung", str(phantom_file), "-o", str(tmp_path), *bad])
        assert exc.value.code == 2


def test_label_map_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    label_file = shared_data("nrrd-shapes", "breast1_label.nrrd")
    out = tmp_path / "breast"
    assert (
        main(
            [
                "lung",
                str(label_file),
                "-o",
                str(out),
                "--label-map",
                "--smoothing",
                "0",
                "--no-png",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    entry = report["structures"]["label_1"]
    assert entry["voxel_volume_mm3"] == pytest.approx(132.426, abs=1e-3)  # pyradiomics VoxelVolume
    assert entry["mesh_volume_mm3"] == pytest.approx(124.091, rel=0.01)  # pyradiomics MeshVolume
    assert "hu" not in entry
    assert sorted(p.name for p in out.iterdir()) == [
        "label_1.stl",
        "label_1.vtp",
        "lung_report.json",
        "lung_report.txt",
    ]


def _colour_columns(rgb: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    target = np.array(colour) * 255
    # Shading darkens the colour: compare hue by normalised RGB.
    norm = rgb.astype(float) / np.maximum(rgb.astype(float).sum(axis=2, keepdims=True), 1)
    want = target / target.sum()
    close = np.abs(norm - want).sum(axis=2) < 0.06
    close &= rgb.astype(int).sum(axis=2) > 120
    return np.nonzero(close)[1]


def _run_and_check_picture(source: Path, out: Path) -> dict:
    """Run ``medvis lung`` in a subprocess (VTK may crash without OpenGL) and check the PNG."""
    result = subprocess.run(
        [sys.executable, "-m", "medvis", "lung", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    from medvis.render import read_png

    picture = read_png(out / "lungs.png")
    height = picture.shape[0]
    assert picture.shape[1] == 4 * height  # 3-D view + axial, coronal, sagittal planes
    view = picture[:, :height]
    from medvis.lung import LUNG_COLOURS as _COLOURS

    right = _colour_columns(view, _COLOURS[1])
    left = _colour_columns(view, _COLOURS[2])
    assert len(right) > 1000 and len(left) > 1000
    # Anterior view: the patient's right lung on the image left, the left lung on the right.
    assert right.mean() < height / 2 < left.mean()
    # The planes show lung outlines in both colours.
    planes = picture[:, height:]
    assert len(_colour_columns(planes, _COLOURS[1])) > 50
    assert len(_colour_columns(planes, _COLOURS[2])) > 50
    return json.loads((out / "lung_report.json").read_text())


def test_picture_phantom(phantom_file: Path, tmp_path: Path) -> None:
    _run_and_check_picture(phantom_file, tmp_path / "pic")


def test_picture_and_outputs_chest_ct(tmp_path: Path) -> None:
    report = _run_and_check_picture(shared_data("chest-ct", "dicom"), tmp_path / "ct")
    total = report["total"]["voxel_volume_ml"]
    assert 2500 < total < 8000
    assert report["structures"]["left_lung"]["centroid_lps_mm"][0] > 0
