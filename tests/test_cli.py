"""The command line: info (text, JSON, PHI), convert, demo; info never imports VTK."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import medvis
from medvis.cli import main
from medvis.phantoms import chest_phantom


@pytest.fixture
def phantom_file(tmp_path: Path) -> Path:
    path = tmp_path / "phantom.nii.gz"
    medvis.save(chest_phantom(shape_ijk=(24, 20, 16), spacing=(10.0, 10.0, 12.0)), path)
    return path


def test_info_text(phantom_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(phantom_file)]) == 0
    out = capsys.readouterr().out
    for expected in (
        "NIfTI-1",
        "24 x 20 x 16",
        "(10, 10, 12) mm",
        "axis codes:    LPS",
        "int16",
        "value range:   -1000 .. 1500",
        "memory:",
    ):
        assert expected in out, f"{expected!r} missing from:\n{out}"


def test_info_json(phantom_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(phantom_file), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    volume = medvis.load(phantom_file)
    assert summary["dimensions"] == [24, 20, 16]
    assert np.allclose(summary["index_to_world"], volume.index_to_world)
    assert summary["axis_codes"] == "LPS" and summary["world"] == "LPS"
    assert summary["value_range"] == [-1000.0, 1500.0]
    assert summary["memory_bytes"] == 24 * 20 * 16 * 2


def test_info_hides_phi_unless_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    volume = chest_phantom(shape_ijk=(8, 8, 4)).replace(
        metadata={"format": "test", "patient_name": "Doe^Jane", "modality": "CT"}
    )
    from medvis.cli_info import format_summary, summarise

    hidden = format_summary(summarise(volume))
    assert "Doe^Jane" not in hidden and "<hidden>" in hidden
    shown = format_summary(summarise(volume, phi=True))
    assert "Doe^Jane" in shown


def test_info_missing_file_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.nrrd"
    assert main(["info", str(missing)]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "no such file" in err
    assert "Traceback" not in err


def test_info_does_not_import_vtk(phantom_file: Path) -> None:
    code = (
        "import sys\n"
        "from medvis.cli import main\n"
        f"assert main(['info', {str(phantom_file)!r}]) == 0\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('vtk', 'vtkmodules')))\n"
        "print('VTK-MODULES:', bad)\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize("ext", [".nrrd", ".mha", ".vti", ".nii"])
def test_convert(
    phantom_file: Path, tmp_path: Path, ext: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"out{ext}"
    assert main(["convert", str(phantom_file), str(out)]) == 0
    back = medvis.load(out)
    original = medvis.load(phantom_file)
    assert np.array_equal(back.array, original.array)
    assert np.allclose(back.index_to_world, original.index_to_world, atol=1e-4)
    assert main(["convert", str(phantom_file), str(out)]) == 1
    assert "force" in capsys.readouterr().err
    assert main(["convert", str(phantom_file), str(out), "--force"]) == 0


def test_convert_unknown_output_fails_before_reading(
    phantom_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["convert", str(phantom_file), str(tmp_path / "x.jpg")]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_console_script_demo(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "medvis", "demo", "--out", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "voxels identical: True" in result.stdout
    assert (tmp_path / "demo" / "chest-phantom.nii.gz").exists()


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [("--preset", "NoSuch", "unknown volume preset"), ("--camera", "sideways", "unknown camera")],
)
def test_render_bad_name_is_a_message_not_a_traceback(
    phantom_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    words: str,
) -> None:
    out = tmp_path / "x.png"
    assert main(["render", str(phantom_file), option, value, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not out.exists()


def test_lung_error_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mr_like = tmp_path / "mr.nrrd"
    medvis.save(
        chest_phantom(shape_ijk=(16, 16, 8)).replace(array=np.full((8, 16, 16), 300, np.int16)),
        mr_like,
    )
    assert main(["lung", str(mr_like), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert str(mr_like) in err and "HU" in err
