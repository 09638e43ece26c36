"""``medvis view``: the viewer's logic without a window, and a real window under Xvfb.

Window tests start their own Xvfb (skipped with the reason when it is not installed) and
run the viewer in a subprocess driven by a ``--script`` of actions, so a VTK crash or
hang cannot take pytest down; every one has a timeout.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from medvis.phantoms import chest_phantom
from medvis.render.viewer.logic import FORWARD, ViewerLogic
from tests.image_compare import check_image, image_error

REPO = Path(__file__).resolve().parents[1]
MARKER = (90.0, -60.0, 80.0)  # chest_phantom's marker (patient left, anterior, superior)
SIZE = (800, 600)


def _rotation(axis, degrees):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    angle = np.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


# ---------------------------------------------------------------------- logic (no window)
def test_cursor_steps_one_voxel_along_each_forward_direction():
    logic = ViewerLogic(chest_phantom(), window="lung")
    for plane, forward in FORWARD.items():
        before = logic.slice_position(plane)
        start = logic.cursor.copy()
        logic.step(plane, 3)
        moved = logic.cursor - start
        assert logic.slice_position(plane).index == before.index + 3
        assert np.allclose(moved, np.asarray(forward) * 3 * logic.step_mm(plane))
    # Clamped at the edge of the volume.
    logic.step("axial", 1000)
    position = logic.slice_position("axial")
    assert position.index == position.count - 1 == 79


def test_cursor_is_the_same_world_point_in_a_mirrored_storage():
    straight = chest_phantom()
    mirrored = chest_phantom(direction=np.diag([-1.0, 1.0, 1.0]))  # stored R..L: det -1
    assert mirrored.is_flipped
    values = []
    for volume in (straight, mirrored):
        logic = ViewerLogic(volume, window="bone")
        logic.set_cursor((89.0, -59.0, 79.0))  # not half-way between voxels
        logic.step("sagittal", 2)  # two voxels to the patient's right
        values.append((logic.cursor.copy(), logic.voxel()[1], logic.slice_position("sagittal")))
    assert np.allclose(values[0][0], values[1][0])
    assert values[0][1] == values[1][1] == 1500  # inside the marker
    assert values[0][2] == values[1][2]


def test_oblique_volume_cursor_is_not_snapped_but_value_is_right():
    rotated = chest_phantom(
        shape_ijk=(150, 130, 110), spacing=(2.5, 2.5, 3.0), direction=_rotation((1, 2, 3), 20)
    )
    logic = ViewerLogic(rotated)
    assert not logic.axis_aligned
    logic.set_cursor(MARKER)
    assert np.allclose(logic.cursor, MARKER)
    assert logic.voxel()[1] == 1500


def test_windows_presets_and_status_line():
    logic = ViewerLogic(chest_phantom(), window="lung")
    assert logic.window_for_key("4") and logic.window.name == "bone"
    assert not logic.window_for_key("x")
    logic.cycle_window(1)
    assert logic.window.name == "brain"
    logic.cycle_window(-2)
    assert logic.window.name == "soft_tissue"
    start = logic.window
    logic.drag_window(start, 100, -50, view_size=(400, 300))
    assert logic.window.width > start.width and logic.window.center < start.center
    assert logic.preset.name == "CT-Bone"  # CT by default
    following = logic.cycle_preset(1)
    assert following.name != "CT-Bone" and logic.cycle_preset(-1).name == "CT-Bone"
    logic.set_cursor((0.0, 0.0, 0.0))
    text = logic.status_text()
    assert "LPS (" in text and "HU" in text and "voxel (" in text and "CT-Bone" in text


def test_import_medvis_does_not_import_vtk():
    code = "import sys, medvis; assert callable(medvis.view); print(any('vtk' in m for m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_view_without_a_display_says_so(monkeypatch, capsys, tmp_path):
    from medvis.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("the display check is for Linux")
    assert main(["view", "phantom:chest"]) == 2
    assert "no display" in capsys.readouterr().err


def _two_series_folder(folder: Path) -> Path:
    from pydicom.data import get_testdata_file

    folder.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(get_testdata_file(name), folder / name)
    return folder


def test_a_folder_with_several_series_asks_which(tmp_path):
    from medvis.cli_view import choose_series
    from medvis.io.dicom_scan import list_series

    folder = _two_series_folder(tmp_path / "two")
    found, _ = list_series(folder)
    assert len(found) == 2
    mr = next(s["id"] for s in found if s["modality"] == "MR")
    questions: list[str] = []
    answers = iter(["7", "", "2"])  # out of range, then Enter (the default), ...

    def ask(prompt: str) -> str:
        questions.append(prompt)
        return next(answers)

    out = io.StringIO()
    first = choose_series(folder, interactive=True, ask=ask, out=out)
    second = choose_series(folder, interactive=True, ask=ask, out=out)
    quiet = choose_series(folder, interactive=False, out=out)
    given = choose_series(folder, series=mr, ask=ask, out=out)
    assert len(questions) == 3 and "[1-2" in questions[0]
    listing = out.getvalue()
    assert "holds 2 series" in listing and "1. " in listing and "2. " in listing
    assert "no series '7'" in listing and "pass --series ID" in listing
    assert {first, second} == {s["id"] for s in found} and first == quiet
    assert given == mr
    assert choose_series(tmp_path / "missing.nii") is None


# ---------------------------------------------------------------------- a real window
def _free_display() -> int:
    for number in range(91, 160):
        if (
            not Path(f"/tmp/.X{number}-lock").exists()
            and not Path(f"/tmp/.X11-unix/X{number}").exists()
        ):
            return number
    raise RuntimeError("no free X display number in 91..159")


@pytest.fixture(scope="module")
def xvfb():
    """An Xvfb server of our own (stopped by its PID), or a skip saying why not."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb; .ci/run installs it)")
    for _attempt in range(3):
        number = _free_display()
        process = subprocess.Popen(
            [binary, f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.05)
        if process.poll() is None and Path(f"/tmp/.X11-unix/X{number}").exists():
            try:
                yield f":{number}"
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            return
        process.kill()
        process.wait(timeout=10)
    pytest.skip("Xvfb did not start")


def _view(display: str, source: Path, actions: list, tmp: Path, *extra: str):
    """Run ``medvis view`` on ``source`` with a script; returns the finished process."""
    script = tmp / "script.json"
    script.write_text(json.dumps(actions), encoding="utf-8")
    env = {**os.environ, "DISPLAY": display}
    command = [sys.executable, "-m", "medvis", "view", str(source), "--script", str(script)]
    command += ["--size", f"{SIZE[0]}x{SIZE[1]}", *extra]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=tmp, env=env, timeout=50, check=False
    )


def _box(state: dict, view: str) -> tuple[int, int, int, int]:
    left, top, width, height = state["views"][view]["box"]
    return left, top, width, height


def _bright_blob(rgb: np.ndarray, box) -> np.ndarray:
    """(row, col) centroid of the near-white pixels (the marker) in a view's box."""
    left, top, width, height = box
    panel = rgb[top : top + height, left : left + width].astype(int)
    mask = (panel > 245).all(axis=2)
    assert mask.sum() > 20, "no marker-bright pixels in the view"
    rows, cols = np.nonzero(mask)
    return np.array([rows.mean() + top, cols.mean() + left])


def _read(path: Path) -> np.ndarray:
    from medvis.render import read_png

    return read_png(path)[..., :3]


#: Put the cursor on the marker: click it in the coronal view, then in the axial view.
TO_MARKER = [
    {"click_world": list(MARKER), "view": "coronal"},
    {"click_world": list(MARKER), "view": "axial"},
]


@pytest.mark.display
@pytest.mark.timeout(60)
def test_window_opens_responds_and_quits(xvfb, tmp_path):
    source = tmp_path / "phantom.vti"
    import medvis

    medvis.save(chest_phantom(), source)
    shots = tmp_path / "shots"
    actions = [
        {"wait": 0.2},
        {"settle": True},
        {"screenshot": str(tmp_path / "start.png")},
        {"state": str(tmp_path / "s0.json")},
        {"key": "Up", "view": "axial"},
        {"key": "Up", "view": "axial"},
        {"scroll": -3, "view": "coronal"},
        {"key": "Prior", "view": "sagittal"},
        {"state": str(tmp_path / "s1.json")},
        {"click": [0.25, 0.5], "view": "axial"},
        {"state": str(tmp_path / "s2.json")},
        {"drag": [[0.5, 0.5], [0.8, 0.5]], "view": "axial", "button": "right", "steps": 4},
        {"state": str(tmp_path / "s3.json")},
        {"key": "3"},
        {"key": "v"},
        {"key": "h"},
        {"key": "L"},
        {"key": "x"},
        {"resize": [900, 700]},
        {"wait": 0.2},
        {"state": str(tmp_path / "s4.json")},
        {"key": "q"},
    ]
    done = _view(
        xvfb, source, actions, tmp_path, "--window", "lung", "--preset", "CT-MIP",
        "--screenshot-dir", str(shots),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    s0, s1, s2, s3, s4 = (json.loads((tmp_path / f"s{n}.json").read_text()) for n in range(5))
    # Opens with the expected content: the baseline (800x600, phantom, lung window, MIP).
    start = _read(tmp_path / "start.png")
    assert start.shape == (SIZE[1], SIZE[0], 3)
    check_image(start, "viewer_phantom")
    assert s0["window"]["name"] == "lung" and s0["preset"] == "CT-MIP"
    assert s0["views"]["axial"]["labels"] == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert s0["views"]["sagittal"]["labels"]["left"] == "A"
    # Keys and the wheel move the slice under the mouse.
    assert s1["views"]["axial"]["index"] == s0["views"]["axial"]["index"] + 2
    assert s1["views"]["coronal"]["index"] == s0["views"]["coronal"]["index"] - 3
    assert s1["views"]["sagittal"]["index"] == s0["views"]["sagittal"]["index"] + 10
    assert s1["cursor"][2] == pytest.approx(s0["cursor"][2] + 2 * 3.0)  # 2 axial slices up
    # A click in the left half of the axial view is the patient's right (-x, radiological).
    assert s2["cursor"][0] < s1["cursor"][0] - 40
    assert s2["cursor"][2] == s1["cursor"][2]  # the axial plane stays
    assert s2["views"]["sagittal"]["index"] != s1["views"]["sagittal"]["index"]
    # A right drag to the right widens the window.
    assert s3["window"]["width"] > s2["window"]["width"]
    # Window key, preset cycling, help overlay, camera key, screenshot key.
    assert s4["window"]["name"] == "soft_tissue"
    assert s4["preset"] != "CT-MIP" and s4["help_visible"] and s4["camera"] == "left"
    # The layout follows a resized window.
    assert s4["size"] == [900, 700] and s4["views"]["axial"]["box"][0] in (450, 451)
    written = list(shots.glob("medvis-view-*.png"))
    assert len(written) == 1 and _read(written[0]).shape == start.shape
    assert "screenshot:" in done.stdout
    # Interactive frames were drawn at the lower quality, and a full one after them.
    qualities = {quality for _, quality, _ in s4["frames"]}
    assert qualities == {"interactive", "full"}


def _marker_session(display, volume, tmp, name):
    import medvis

    source = tmp / f"{name}.vti"
    medvis.save(volume, source)
    shot, state = tmp / f"{name}.png", tmp / f"{name}.json"
    actions = [
        {"wait": 0.1},
        *TO_MARKER,
        {"screenshot": str(shot)},
        {"state": str(state), "points": [list(MARKER)]},
        {"quit": True},
    ]
    done = _view(display, source, actions, tmp, "--window", "bone", "--preset", "CT-MIP")
    assert done.returncode == 0, done.stderr[-3000:]
    return _read(shot), json.loads(state.read_text())


@pytest.mark.display
@pytest.mark.timeout(90)
def test_marker_at_its_pixel_for_straight_mirrored_and_oblique_storage(xvfb, tmp_path):
    straight = chest_phantom()
    mirrored = chest_phantom(
        shape_ijk=(112, 128, 80), direction=[[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    )  # i along y, j along x: determinant -1
    oblique = chest_phantom(
        shape_ijk=(150, 130, 110), spacing=(2.5, 2.5, 3.0), direction=_rotation((1, 2, 3), 20)
    )
    assert mirrored.is_flipped
    results = {
        name: _marker_session(xvfb, volume, tmp_path, name)
        for name, volume in (("straight", straight), ("mirrored", mirrored), ("oblique", oblique))
    }
    for name, (rgb, state) in results.items():
        assert state["value"] == 1500, name  # the cursor is on the marker
        for view in ("axial", "coronal", "sagittal"):
            box = _box(state, view)
            found = _bright_blob(rgb, box)
            expected = np.array(state["views"][view]["points_pixel"][0])
            assert np.abs(found - expected).max() < 2.0, (name, view, found, expected)
            # Radiological convention: where the left-anterior-superior marker must be.
            left, top, width, height = box
            below_centre = found[0] > top + height / 2
            right_of_centre = found[1] > left + width / 2
            assert not below_centre, (name, view)  # anterior (axial) / superior: upper half
            assert right_of_centre == (view != "sagittal"), (name, view)  # L right; A left
    # The mirrored storage shows exactly the same slices as the straight one.
    reference, state = results["straight"]
    for view in ("axial", "coronal", "sagittal"):
        left, top, width, height = _box(state, view)
        crop = (slice(top, top + height), slice(left, left + width))
        assert image_error(results["mirrored"][0][crop], reference[crop]) < 1.0, view
