"""Orthogonal and oblique reslicing: same world object, any storage order, same slices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from medvis.phantoms import chest_phantom
from medvis.pipeline.reslice import anatomical_label, orthogonal_slices, reslice
from medvis.volume import Volume

PLANES = ("axial", "coronal", "sagittal")


def storage_variant(
    volume: Volume, perm: tuple[int, int, int], flips: tuple[bool, bool, bool]
) -> Volume:
    """The same world object stored with axes permuted (new axis n = old axis perm[n])
    and flipped; geometry adjusted so every voxel keeps its world position."""
    ijk = np.transpose(volume.array, (2, 1, 0)).transpose(perm)
    for axis, flip in enumerate(flips):
        if flip:
            ijk = np.flip(ijk, axis)
    signs = np.where(flips, -1.0, 1.0)
    direction = volume.direction[:, list(perm)] * signs
    spacing = volume.spacing[list(perm)]
    first_old = np.zeros(3)
    for axis in range(3):
        first_old[perm[axis]] = ijk.shape[axis] - 1 if flips[axis] else 0
    origin = volume.index_to_world_points(first_old)
    array = np.ascontiguousarray(np.transpose(ijk, (2, 1, 0)))
    return Volume(
        array, spacing=spacing, origin=origin, direction=direction, metadata=volume.metadata
    )


ALL_ORDERS = [
    (perm, flips)
    for perm in itertools.permutations(range(3))
    for flips in itertools.product((False, True), repeat=3)
]


@pytest.fixture(scope="module")
def canonical() -> Volume:
    # Spacing 6/6/9 mm: square pixels at 6 mm never fall half-way between two 9 mm voxels.
    return chest_phantom(shape_ijk=(48, 36, 32), spacing=(6.0, 6.0, 9.0))


def test_storage_variant_keeps_every_voxel_in_place(canonical):
    variant = storage_variant(canonical, (2, 0, 1), (True, False, False))
    assert variant.is_flipped
    ijk = np.array([3, 5, 7])
    world = variant.index_to_world_points(ijk)
    back = np.rint(canonical.world_to_index_points(world)).astype(int)
    assert variant.array[7, 5, 3] == canonical.array[back[2], back[1], back[0]]


@pytest.mark.parametrize("spacing", ["native", None])
def test_all_48_storage_orders_give_identical_nearest_slices(canonical, spacing):
    point = canonical.index_to_world_points([20, 15, 18])  # a voxel centre: no rounding ties
    expected = orthogonal_slices(canonical, point, interpolation="nearest", spacing=spacing)
    determinants = set()
    for perm, flips in ALL_ORDERS:
        variant = storage_variant(canonical, perm, flips)
        determinants.add(round(np.linalg.det(variant.direction)))
        got = orthogonal_slices(variant, point, interpolation="nearest", spacing=spacing)
        for plane in PLANES:
            assert got[plane].shape == expected[plane].shape, (perm, flips, plane)
            np.testing.assert_array_equal(
                got[plane].pixels, expected[plane].pixels, err_msg=f"{perm} {flips} {plane}"
            )
            np.testing.assert_allclose(got[plane].origin, expected[plane].origin, atol=1e-9)
    assert determinants == {-1, 1}


def test_native_nearest_slice_is_the_stored_slice(canonical):
    k = 18
    point = canonical.index_to_world_points([0, 0, k])
    axial = reslice(canonical, "axial", point=point, interpolation="nearest", spacing="native")
    np.testing.assert_array_equal(axial.pixels, canonical.array[k])  # +x right, +y down
    assert axial.spacing == (6.0, 6.0)
    coronal = reslice(canonical, "coronal", point=point, interpolation="nearest", spacing="native")
    assert coronal.spacing == (9.0, 6.0)  # rectangular pixels, reported
    j = round(canonical.world_to_index_points(point)[1])
    np.testing.assert_array_equal(coronal.pixels, canonical.array[::-1, j, :])  # superior on top


def test_linear_slices_agree_across_flips_and_permutations(canonical):
    expected = orthogonal_slices(canonical, None, interpolation="linear")
    for perm, flips in ALL_ORDERS[::5]:
        got = orthogonal_slices(
            storage_variant(canonical, perm, flips), None, interpolation="linear"
        )
        for plane in PLANES:
            np.testing.assert_allclose(got[plane].pixels, expected[plane].pixels, atol=1)


def _rotation(axis, degrees):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    angle = np.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_oblique_rotated_storage_gives_the_same_slices():
    spacing = (4.0, 4.0, 4.0)
    straight = chest_phantom(shape_ijk=(80, 64, 64), spacing=spacing)
    rotated = chest_phantom(
        shape_ijk=(96, 80, 80), spacing=spacing, direction=_rotation((1, 2, 3), 25)
    )
    assert rotated.axis_codes != "" and not np.allclose(rotated.direction, np.eye(3))
    point = [0.0, 0.0, 0.0]
    for plane in PLANES:
        a = reslice(straight, plane, point=point, spacing=4.0)
        b = reslice(rotated, plane, point=point, spacing=4.0)
        # Same physical grid where both cover it: compare the straight slice's pixels.
        rows, cols = a.shape
        r0, c0 = (round(v) for v in b.world_to_pixel(a.origin))
        sub = b.pixels[r0 : r0 + rows, c0 : c0 + cols]
        assert sub.shape == a.pixels.shape
        differs = np.abs(sub.astype(float) - a.pixels) > 300
        # Inside uniform regions (7x7 constant: farther than the grids offset (<= 2 mm) plus
        # one rotated voxel diagonal from an edge) the values must agree; only
        # edges, sampled at other places by the two grids, may differ.
        padded = np.pad(a.pixels, 3, mode="edge")
        window = np.lib.stride_tricks.sliding_window_view(padded, (7, 7))
        uniform = window.max(axis=(2, 3)) == window.min(axis=(2, 3))
        inside = np.zeros_like(uniform)
        inside[rows // 8 : -rows // 8, cols // 8 : -cols // 8] = True  # both grids cover it
        assert differs[uniform & inside].mean() < 0.005, (plane, differs[uniform & inside].mean())
        assert differs[inside].mean() < 0.08, (plane, differs[inside].mean())


@pytest.mark.parametrize(
    "perm,flips", [ALL_ORDERS[0], ALL_ORDERS[1], ALL_ORDERS[13], ALL_ORDERS[47]]
)
def test_marker_lands_where_radiologists_expect(perm, flips):
    volume = storage_variant(chest_phantom(shape_ijk=(60, 48, 40), spacing=(5, 5, 6)), perm, flips)
    marker = np.array(volume.metadata["marker_lps"])  # patient left, anterior, superior
    for plane in PLANES:
        s = reslice(volume, plane, point=marker, interpolation="nearest")
        row, col = s.world_to_pixel(marker)
        assert s.pixels[round(row), round(col)] == 1500
        bright = np.argwhere(s.pixels > 1000)
        np.testing.assert_allclose(bright.mean(axis=0), (row, col), atol=1.0)
        rows, cols = s.shape
        if plane in ("axial", "coronal"):
            assert col > cols / 2 + 5  # patient left on the image right
            assert (s.labels["left"], s.labels["right"]) == ("R", "L")
        else:
            assert col < cols / 2 - 5  # anterior on the left of a sagittal image
            assert (s.labels["left"], s.labels["right"]) == ("A", "P")
        assert row < rows / 2 - 3  # anterior (axial) / superior (coronal, sagittal) up
        assert s.labels["top"] == ("A" if plane == "axial" else "S")


def test_oblique_plane_through_point_and_normal():
    volume = chest_phantom(shape_ijk=(60, 48, 40), spacing=(5, 5, 6))
    marker = np.array(volume.metadata["marker_lps"])
    normal = np.array([0.2, -0.3, 1.0])
    s = reslice(volume, normal=normal, point=marker, interpolation="linear")
    assert s.plane == "oblique"
    n = normal / np.linalg.norm(normal)
    assert abs(abs(s.normal @ n) - 1) < 1e-12
    assert abs(s.column_direction @ s.row_direction) < 1e-12
    assert s.distance_to_plane(marker) == pytest.approx(0, abs=1e-9)
    row, col = s.world_to_pixel(marker)
    assert s.pixels[round(row), round(col)] > 1000
    # The normal's sign does not mirror the picture.
    flipped = reslice(volume, normal=-normal, point=marker)
    np.testing.assert_array_equal(flipped.pixels, s.pixels)
    assert s.labels["right"].startswith("L") and s.labels["top"].startswith("A")
    # pixel_to_world and world_to_pixel agree.
    world = s.pixel_to_world @ [col, row, 0, 1]
    np.testing.assert_allclose(
        world[:3], marker - s.distance_to_plane(marker) * s.normal, atol=1e-9
    )


def test_labels_and_errors(canonical):
    assert anatomical_label([1, 0, 0]) == "L"
    assert anatomical_label([0, -1, 0.5]) == "AS"
    assert anatomical_label([0, 0, -1]) == "I"
    with pytest.raises(ValueError, match="unknown plane"):
        reslice(canonical, "transverse")
    with pytest.raises(ValueError, match="non-zero"):
        reslice(canonical, normal=(0, 0, 0))
    with pytest.raises(ValueError, match="interpolation"):
        reslice(canonical, interpolation="sinc")  # type: ignore[arg-type]
    outside = reslice(canonical, "axial", point=(0, 0, 10_000), fill=-2000)
    assert (outside.pixels == -2000).all()


def test_four_d_volume_uses_the_frame():
    base = chest_phantom(shape_ijk=(20, 16, 12), spacing=(15, 15, 20))
    stack = Volume(
        np.stack([base.array, base.array + 100]),
        spacing=base.spacing,
        origin=base.origin,
        layout="tkji",
    )
    a = reslice(stack, "axial", frame=1, interpolation="nearest")
    b = reslice(base, "axial", interpolation="nearest")
    np.testing.assert_array_equal(a.pixels, b.pixels + 100)


def test_real_chest_ct_axial_slice_is_the_dicom_slice(data_root):
    import medvis

    volume = medvis.load(data_root / "chest-ct" / "dicom")
    k = 70
    point = volume.index_to_world_points([0, 0, k])
    axial = reslice(volume, "axial", point=point, interpolation="nearest", spacing="native")
    np.testing.assert_array_equal(axial.pixels, volume.array[k])
    coronal = reslice(volume, "coronal", interpolation="linear")
    assert coronal.spacing[0] == coronal.spacing[1] == pytest.approx(0.9765625)
    assert coronal.size_mm[0] == pytest.approx(141 * 2.0, abs=2.0)  # true height
