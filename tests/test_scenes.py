"""Scene files: parsing, validation, relative paths, the shipped scenes, ``medvis render``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medvis.cli import main
from medvis.errors import MissingFileError
from medvis.scenes import (
    FORMAT_VERSION,
    SceneError,
    load_scene,
    parse_scene,
    render_scene,
    resolve_input,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "scenes").glob("*.toml"))

MINIMAL = {
    "medvis_scene": 1,
    "input": {"path": "phantom:chest"},
    "layers": [{"type": "volume", "preset": "CT-Bone"}],
}


def test_shipped_scenes_parse():
    names = {p.stem for p in SHIPPED}
    assert {"chest-ct-lung", "chest-ct-bone", "chest-ct-lung-window", "mr-head"} <= names
    for path in SHIPPED:
        scene = load_scene(path)
        assert scene.base == path.parent
        assert scene.output_path() is not None and scene.output_path().parent == path.parent
    lung = load_scene(REPO / "scenes" / "chest-ct-lung.toml")
    assert lung.data["layers"][0]["preset"] == "CT-Lung"
    assert load_scene(REPO / "scenes" / "chest-ct-lung-window.toml").is_montage


@pytest.mark.parametrize(
    "change, message",
    [
        ({"medvis_scene": 2}, "scene format 1"),
        ({"colour": 1}, "unknown key"),
        ({"input": {"file": "x"}}, "unknown key"),
        ({"layers": []}, "non-empty"),
        ({"layers": [{"type": "hologram"}]}, "type"),
        ({"layers": [{"type": "volume", "presett": "CT-Bone"}]}, "presett"),
        ({"layers": [{"type": "surface"}]}, "level"),
        ({"layers": [{"type": "slice", "point": [1, 2]}]}, "3 numbers"),
        ({"montage": {"window": "lung"}}, "exactly one"),
        ({"output": {"size": [512]}}, "2 numbers"),
        ({"camera": {"view": "anterior", "fov": 3}}, "fov"),
    ],
)
def test_invalid_scenes_name_the_problem(change, message):
    with pytest.raises(SceneError, match=message):
        parse_scene({**MINIMAL, **change}, source=Path("x.toml"))


def test_missing_input_and_version():
    with pytest.raises(SceneError, match="input"):
        parse_scene({"medvis_scene": FORMAT_VERSION, "layers": MINIMAL["layers"]})
    with pytest.raises(SceneError, match="medvis_scene"):
        parse_scene({"input": "phantom:chest", "layers": MINIMAL["layers"]})


def test_files_and_relative_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    bad = tmp_path / "bad.toml"
    bad.write_text("medvis_scene = [")
    with pytest.raises(SceneError, match=r"bad\.toml: cannot parse"):
        load_scene(bad)
    with pytest.raises(MissingFileError):
        load_scene(tmp_path / "none.toml")
    yaml_scene = tmp_path / "sub" / "s.yaml"
    yaml_scene.write_text(
        "medvis_scene: 1\ninput: {path: ../data.nii.gz}\nlayers: [{type: volume}]\noutput: {path: out.png}\n"
    )
    scene = load_scene(yaml_scene)
    assert scene.output_path() == tmp_path / "sub" / "out.png"
    with pytest.raises(MissingFileError, match=r"data\.nii\.gz"):
        resolve_input(scene.input, base=scene.base)
    unsafe = tmp_path / "u.yaml"
    unsafe.write_text("medvis_scene: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(SceneError, match="cannot parse"):
        load_scene(unsafe)


def test_inputs_that_ship():
    phantom = resolve_input("phantom:chest")
    assert phantom.metadata["modality"] == "CT"
    head = resolve_input("nibabel-data:example4d.nii.gz", frame=0)
    assert head.shape_ijk == (128, 96, 24) and head.is_flipped


def test_render_scenes_on_the_phantom(tmp_path):
    pytest.importorskip("vtkmodules.vtkRenderingOpenGL2")
    from tests._gl import run_smoke

    if run_smoke().returncode != 0:
        pytest.skip("offscreen OpenGL unavailable; see test_render_smoke_in_subprocess")
    phantom = resolve_input("phantom:chest")
    three_d = parse_scene(
        {
            **MINIMAL,
            "camera": {"view": "left", "zoom": 1.2},
            "layers": [
                {"type": "volume", "preset": {"base": "CT-MIP"}},
                {"type": "slice", "plane": "axial", "window": "lung", "opacity": 0.8},
                {"type": "surface", "level": 300, "color": [1, 1, 0.8]},
            ],
        }
    )
    rgb = render_scene(three_d, volume=phantom, size=(96, 80))
    assert rgb.shape == (80, 96, 3) and rgb.any()
    montage = render_scene(
        load_scene(REPO / "scenes" / "chest-ct-lung-window.toml"), volume=phantom, size=(64, 64)
    )
    assert montage.shape == (64, 192, 3)
    out = tmp_path / "lung.png"
    scene = str(REPO / "scenes" / "chest-ct-lung.toml")
    assert main(["render", scene, "--input", "phantom:chest", "--size", "64", "-o", str(out)]) == 0
    assert out.stat().st_size > 100
    mr = tmp_path / "mr.png"
    assert (
        main(["render", str(REPO / "scenes" / "mr-head.toml"), "--size", "64", "-o", str(mr)]) == 0
    )
    from medvis.render import read_png

    assert (read_png(mr).max(axis=2) > 20).mean() > 0.05
    assert np.asarray(read_png(out)).shape == (64, 64, 3)


def test_render_shipped_chest_scene_on_real_data(tmp_path, data_root):
    out = tmp_path / "bone.png"
    scene = str(REPO / "scenes" / "chest-ct-bone.toml")
    assert main(["render", scene, "--size", "96", "-o", str(out)]) == 0
    assert out.exists()
