"""Offscreen rendering: smoke test in a subprocess, geometry, storage-order invariance, baselines."""

from __future__ import annotations

import numpy as np
import pytest

from medvis.errors import OutputExistsError
from medvis.pipeline.presets import custom_preset
from tests._gl import run_smoke
from tests.image_compare import check_image, image_error
from tests.test_reslice import ALL_ORDERS, _rotation, storage_variant


def test_render_smoke_in_subprocess():
    # VTK segfaults instead of raising when no OpenGL can be loaded: check the exit code.
    done = run_smoke()
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert "rendered (40, 48, 3) through vtk" in done.stdout


#: Soft tissue translucent, spine and marker opaque: an asymmetric picture.
PROBE = custom_preset(
    "probe",
    opacity=[(-1000, 0), (-500, 0), (-400, 0.1), (300, 0.1), (600, 0.9), (3000, 1.0)],
    color=[(-1000, 0.3, 0.5, 1.0), (0, 0.9, 0.7, 0.6), (700, 1, 1, 0.9), (1500, 1, 0.2, 0.2)],
    shade=True,
    ambient=0.5,
    diffuse=0.6,
)
MARKER_ONLY = custom_preset("marker", opacity=[(1000, 0), (1200, 1)], blend="maximum", shade=False)


# 12 storage orders: every permutation, flipped and not, 6 of them with determinant -1.
SUBSET = [o for i, o in enumerate(ALL_ORDERS) if i % 4 in (0, 1)][:12]


def test_subset_has_mirrored_storage():
    dets = [np.linalg.det(np.diag(np.where(f, -1, 1))[:, list(p)]) for p, f in SUBSET]
    assert len(SUBSET) == 12 and sum(d < 0 for d in dets) >= 4


@pytest.mark.parametrize("mapper", ["cpu", "gpu"])
def test_same_picture_for_every_storage_order(gl, phantom, mapper):
    def draw(volume):
        return gl.render_volume(
            # A fixed camera (front, a little left and above), not fitted to the grid.
            volume,
            preset=PROBE,
            camera={"position": (350, -750, 300), "focal_point": (0, 0, 0), "view_up": (0, 0, 1)},
            size=(128, 128),
            mapper=mapper,
            orientation_marker=False,
        )

    reference = draw(phantom)
    assert (reference.max(axis=2) > 30).mean() > 0.05
    orders = SUBSET if mapper == "cpu" else SUBSET[::3]
    for perm, flips in orders:
        variant = storage_variant(phantom, perm, flips)
        picture = draw(variant)
        diff = np.abs(picture.astype(int) - reference).max(axis=2)
        assert image_error(picture, reference) < 2.0, (perm, flips)
        assert (diff > 40).mean() < 0.005, (perm, flips, np.linalg.det(variant.direction))
    # An oblique rotation: the same world object resampled onto a rotated grid.
    picture = draw(oblique_copy(phantom, _rotation((1, 2, 3), 25), spacing=4.0))
    assert image_error(picture, reference) < 10.0
    assert np.abs(picture.astype(int).mean() - reference.mean()) < 3


def oblique_copy(volume, rotation, *, spacing):
    """``volume`` resampled (trilinear) onto a grid whose axes are ``rotation``'s columns,
    large enough to hold it; air (-1000) outside."""
    from scipy.ndimage import map_coordinates

    from medvis.volume import Volume

    bounds = volume.world_bounds
    corners = np.array([[x, y, z] for x in bounds[0] for y in bounds[1] for z in bounds[2]])
    local = corners @ rotation  # coordinates along the rotated axes
    low, high = local.min(axis=0), local.max(axis=0)
    shape = np.ceil((high - low) / spacing).astype(int) + 1
    origin = rotation @ low
    out = Volume(
        np.zeros(shape[::-1], np.int16), spacing=(spacing,) * 3, origin=origin, direction=rotation
    )
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape[::-1]), indexing="ij")
    world = out.index_to_world_points(np.stack([i, j, k], axis=-1).astype(float))
    index = volume.world_to_index_points(world)  # (..., 3) in i, j, k
    values = map_coordinates(
        volume.array.astype(np.float32),
        [index[..., 2], index[..., 1], index[..., 0]],
        order=1,
        cval=-1000.0,
    )
    return out.replace(array=np.rint(values).astype(np.int16), metadata=volume.metadata)


CAMERA_SIDES = {
    # camera: (marker column side, marker row side) for the marker at patient left-anterior-superior
    "anterior": ("right", "top"),
    "posterior": ("left", "top"),
    "left": ("left", "top"),  # anterior is on the image left seen from the patient's left
    "right": ("right", "top"),
    "superior": ("left", "top"),  # anterior up, patient left on the image left
    "inferior": ("right", "top"),  # as an axial CT: patient left on the image right
}


@pytest.mark.parametrize("storage", [ALL_ORDERS[0], ALL_ORDERS[9]])
def test_marker_projects_where_the_camera_says(gl, phantom, storage):
    volume = storage_variant(phantom, *storage)
    marker = np.array(volume.metadata["marker_lps"])
    for name, (horizontal, vertical) in CAMERA_SIDES.items():
        scene = gl.OffscreenScene(size=(120, 100), orientation_marker=False)
        scene.add_volume(volume, MARKER_ONLY)
        scene.set_camera(name)
        rgb = scene.render()
        expected = scene.world_to_pixel(marker)
        scene.close()
        bright = np.argwhere(rgb.max(axis=2) > 128)
        assert len(bright), name
        np.testing.assert_allclose(bright.mean(axis=0), expected, atol=2.0, err_msg=name)
        row, col = expected
        assert (col > 60) == (horizontal == "right"), name
        assert (row < 50) == (vertical == "top"), name


def test_orientation_marker_and_crop(gl, phantom):
    with_marker = gl.render_volume(phantom, preset="CT-Bone", size=(100, 100))
    without = gl.render_volume(phantom, preset="CT-Bone", size=(100, 100), orientation_marker=False)
    corner = (slice(80, 100), slice(0, 20))
    assert np.abs(with_marker[corner].astype(int) - without[corner]).sum() > 1000
    np.testing.assert_array_equal(with_marker[:70, 30:], without[:70, 30:])
    marker = np.array(phantom.metadata["marker_lps"])
    box = [-200, 60, -200, 200, -300, 300]  # excludes the marker (x = 90)
    full = gl.render_volume(phantom, preset=MARKER_ONLY, size=(100, 100), orientation_marker=False)
    cropped = gl.render_volume(
        phantom, preset=MARKER_ONLY, size=(100, 100), orientation_marker=False, crop=box
    )
    assert full.max() > 128 and cropped.max() < 20
    assert marker[0] > box[1]


def test_slice_montage_geometry_and_labels(gl, phantom):
    marker = np.array(phantom.metadata["marker_lps"])
    montage = gl.render_slices(
        phantom, window=(200, 1400), point=marker, panel_size=(120, 120), interpolation="nearest"
    )
    assert montage.rgb.shape == (120, 360, 3)
    grey = montage.rgb.min(axis=2)  # white marker, yellow labels excluded
    for panel in montage.panels:
        top, left, height, width = panel.box
        region = grey[top : top + height, left : left + width]
        bright = np.argwhere(region > 200) + np.array([top, left])
        np.testing.assert_allclose(
            bright.mean(axis=0), panel.world_to_pixel(marker), atol=1.5, err_msg=panel.slice.plane
        )
        # True aspect: one mm scale for both axes.
        rows, cols = panel.slice.shape
        assert panel.pixels_per_mm * max(
            rows * panel.slice.spacing[0], cols * panel.slice.spacing[1]
        ) <= max(height, width)
    yellow = (montage.rgb[..., 0] > 200) & (montage.rgb[..., 1] > 150) & (montage.rgb[..., 2] < 120)
    assert yellow[:, :120].sum() > 50  # labels are drawn


def test_baseline_phantom_volume(gl, phantom):
    check_image(
        gl.render_volume(phantom, preset="CT-Bone", size=(128, 128), mapper="cpu"),
        "phantom-ct-bone-anterior",
    )


def test_baseline_phantom_montage(gl, phantom):
    check_image(
        gl.render_slices(phantom, window="lung", panel_size=(128, 128)).rgb,
        "phantom-lung-window-montage",
    )


def test_real_chest_ct_renders(gl, data_root):
    import medvis

    volume = medvis.load(data_root / "chest-ct" / "dicom")
    rgb = gl.render_volume(volume, preset="CT-Lung", size=(128, 128))
    assert (rgb.max(axis=2) > 20).mean() > 0.2
    montage = gl.render_slices(volume, window="lung", panel_size=(128, 128))
    check_image(montage.rgb, "chest-ct-lung-window-montage")


def test_save_png_is_atomic_and_refuses_overwrite(gl, tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[1, 2] = (255, 10, 20)
    path = gl.save_png(rgb, tmp_path / "a.png")
    np.testing.assert_array_equal(gl.read_png(path), rgb)
    with pytest.raises(OutputExistsError, match="force"):
        gl.save_png(rgb, path)
    gl.save_png(rgb[:, :, 0], path, force=True)
    assert gl.read_png(path).shape[:2] == (4, 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # no temporary left
    with pytest.raises(ValueError, match="uint8"):
        gl.save_png(rgb.astype(float), tmp_path / "b.png")


def test_cli_render_volume_and_slices(gl, tmp_path, capsys):
    from medvis.cli import main

    out = tmp_path / "v.png"
    assert (
        main(["render", "phantom:chest", "--preset", "CT-MIP", "--size", "96", "-o", str(out)]) == 0
    )
    assert gl.read_png(out).shape == (96, 96, 3)
    assert main(["render", "phantom:chest", "-o", str(out)]) == 1  # exists
    assert "force" in capsys.readouterr().err
    slices = tmp_path / "s.png"
    assert (
        main(
            [
                "render",
                "phantom:chest",
                "--slices",
                "--window",
                "lung",
                "--size",
                "64",
                "-o",
                str(slices),
            ]
        )
        == 0
    )
    assert gl.read_png(slices).shape == (64, 192, 3)
