"""Shaded surface display of label maps and painted slice montages: no OpenGL context,
the patient's left on the image right, the same picture for every storage order."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from medvis.lung.phantom import lung_phantom
from medvis.render.label_shading import shade_labels
from medvis.render.slice_paint import paint_slices
from medvis.volume import Volume

COLOURS = {1: (0.93, 0.42, 0.36), 2: (0.33, 0.62, 0.93)}
_GL_LIBRARIES = ("libEGL", "libGLX", "libLLVM", "swrast", "libOSMesa", "libgallium")


@pytest.fixture(scope="module")
def truth() -> Volume:
    return lung_phantom().truth


def _flip_i(volume: Volume) -> Volume:
    """The same labels stored with i reversed (direction column negated, same world)."""
    direction = np.array(volume.direction, float)
    direction[:, 0] *= -1.0
    origin = volume.index_to_world_points([volume.array.shape[2] - 1, 0, 0])
    array = np.ascontiguousarray(volume.array[:, :, ::-1])
    return volume.replace(array=array, direction=direction, origin=origin)


def _swap_ij_flip_k(volume: Volume) -> Volume:
    """Same labels stored as [k reversed, i, j] (a permuted, mirrored storage order)."""
    direction = np.array(volume.direction, float)
    new_direction = np.column_stack([direction[:, 1], direction[:, 0], -direction[:, 2]])
    spacing = np.asarray(volume.spacing, float)[[1, 0, 2]]
    origin = volume.index_to_world_points([0, 0, volume.array.shape[0] - 1])
    array = np.ascontiguousarray(np.transpose(volume.array[::-1], (0, 2, 1)))
    return Volume(array, spacing=spacing, origin=origin, direction=new_direction)


def _columns_of(rgb: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    norm = rgb.astype(float) / np.maximum(rgb.astype(float).sum(axis=2, keepdims=True), 1)
    want = np.asarray(colour) / sum(colour)
    close = (np.abs(norm - want).sum(axis=2) < 0.06) & (rgb.astype(int).sum(axis=2) > 120)
    return np.nonzero(close)[1]


def test_left_lung_on_image_right_head_up(truth: Volume) -> None:
    rgb = shade_labels(truth, size=128, colours=COLOURS)
    assert rgb.shape == (128, 128, 3) and rgb.dtype == np.uint8
    right, left = _columns_of(rgb, COLOURS[1]), _columns_of(rgb, COLOURS[2])
    assert len(right) > 500 and len(left) > 500
    assert right.mean() < 64 < left.mean()
    # The phantom's lungs are taller than wide (physical aspect ratio kept).
    rows = np.nonzero(rgb.astype(int).sum(axis=2) > 120)[0]
    cols = np.nonzero(rgb.astype(int).sum(axis=2) > 120)[1]
    assert np.ptp(rows) > 1.2 * np.ptp(cols[cols < 64])


def test_same_picture_for_every_storage_order(truth: Volume) -> None:
    reference = shade_labels(truth, size=160, colours=COLOURS)
    for stored in (_flip_i(truth), _swap_ij_flip_k(truth)):
        np.testing.assert_array_equal(shade_labels(stored, size=160, colours=COLOURS), reference)


def test_shading_is_smooth_not_voxel_steps(truth: Volume) -> None:
    """Neighbouring pixels inside a lung differ little (no terraces at voxel steps)."""
    rgb = shade_labels(truth, size=256, colours=COLOURS).astype(float)
    grey = rgb.sum(axis=2)
    inside = grey > 150
    inner = inside[1:-1, 1:-1] & inside[:-2, 1:-1] & inside[2:, 1:-1]
    jumps = np.abs(grey[2:, 1:-1] - grey[:-2, 1:-1])[inner]
    assert np.percentile(jumps, 99) < 45


def test_values_colours_and_empty(truth: Volume) -> None:
    only_left = shade_labels(truth, size=96, colours=COLOURS, values=[2])
    assert len(_columns_of(only_left, COLOURS[1])) == 0
    assert len(_columns_of(only_left, COLOURS[2])) > 200
    empty = truth.replace(array=np.zeros_like(truth.array))
    blank = shade_labels(empty, size=32, background=(0.0, 0.0, 0.0))
    assert not blank.any()
    with pytest.raises(ValueError, match="integer"):
        shade_labels(truth.replace(array=truth.array.astype(np.float32)), size=32)


def test_paint_slices_geometry(truth: Volume) -> None:
    ct = lung_phantom().volume
    montage = paint_slices(ct, window="lung", panel_size=(120, 100))
    assert montage.rgb.shape == (100, 360, 3)
    assert [p.box for p in montage.panels] == [
        (0, 0, 100, 120),
        (0, 120, 100, 120),
        (0, 240, 100, 120),
    ]
    # The plane's centre is drawn at the panel's centre.
    panel = montage.panels[0]
    centre = panel.slice.origin + 0.0
    row, col = panel.world_to_pixel(centre)
    assert 0 <= row < 100 and 0 <= col < 120


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_lung_command_makes_its_picture_without_opengl(tmp_path: Path) -> None:
    """``medvis lung`` writes lungs.png and never loads VTK's OpenGL modules or a GL
    library (a subprocess: VTK may crash where OpenGL is missing)."""
    import medvis

    source = tmp_path / "chest.nii.gz"
    medvis.save(lung_phantom(shape_ijk=(118, 98, 72), spacing=(3.0, 3.0, 4.0)).volume, source)
    code = textwrap.dedent(
        f"""
        import sys
        from medvis.cli import main
        assert main(["lung", {str(source)!r}, "-o", {str(tmp_path / "out")!r}]) == 0
        with open("/proc/self/maps") as maps:
            names = {{line.split()[-1].rsplit("/", 1)[-1] for line in maps if "/" in line}}
        gl = sorted(n for n in names if n.startswith({_GL_LIBRARIES!r}))
        modules = sorted(m for m in sys.modules if "OpenGL" in m)
        print("GL:", gl, modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "GL: [] []" in done.stdout, done.stdout
    assert (tmp_path / "out" / "lungs.png").stat().st_size > 1000
