"""medvis.lung on synthetic data: known volumes, storage-order invariance, meshes, export, report.

The phantom (``medvis.lung.phantom.lung_phantom``) has ellipsoid lungs of known volume, a
trachea splitting into bronchi that open into both lungs, vessels to fill, a hollow table
whose inside is enclosed air as large as a lung, and optionally lungs that touch.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from medvis import Volume
from medvis.canonical import canonical_reorientation
from medvis.errors import OutputExistsError, UnsupportedFormatError
from medvis.lung import (
    LEFT_LUNG,
    RIGHT_LUNG,
    build_report,
    decimate_surface,
    format_report,
    hu_statistics,
    is_closed,
    label_surfaces,
    mesh_properties,
    report_json,
    segment_lungs,
    smooth_surface,
    write_surface,
)
from medvis.lung.meshes import signed_volume
from medvis.lung.phantom import lung_phantom
from medvis.phantoms import world_grid

# A coarser grid than the default keeps the many runs below fast; it still covers the body.
SMALL = {"shape_ijk": (118, 98, 72), "spacing": (3.0, 3.0, 4.0)}


@pytest.fixture(scope="module")
def phantom():
    return lung_phantom()


@pytest.fixture(scope="module")
def small_phantom():
    return lung_phantom(**SMALL)


# ------------------------------------------------------------------ storage orders
def _restore(volume: Volume, axes: tuple[int, int, int], flips: tuple[int, ...]) -> Volume:
    """The same world object stored with numpy axes permuted by ``axes`` then flipped.

    New numpy axis ``a`` is old numpy axis ``axes[a]``; numpy axis n is index axis 2 - n.
    """
    array = np.transpose(volume.array, axes)
    if flips:
        array = np.flip(array, flips)
    old_index_axis = [2 - axes[2 - n] for n in range(3)]  # new index axis -> old index axis
    spacing = volume.spacing[old_index_axis]
    direction = volume.direction[:, old_index_axis].copy()
    start = np.zeros(3)
    for numpy_axis in flips:
        index_axis = 2 - numpy_axis
        direction[:, index_axis] *= -1
        old = old_index_axis[index_axis]
        start[old] = volume.shape_ijk[old] - 1
    origin = volume.index_to_world_points(start)
    return Volume(np.ascontiguousarray(array), spacing=spacing, origin=origin, direction=direction)


ORDERS = [
    ((0, 1, 2), ()),
    ((0, 1, 2), (2,)),  # i flipped: determinant -1
    ((0, 1, 2), (0, 1)),
    ((2, 1, 0), ()),
    ((1, 0, 2), (0,)),
    ((1, 2, 0), (0, 1, 2)),
]


def test_restore_keeps_the_world(small_phantom) -> None:
    vol = small_phantom.volume
    for axes, flips in ORDERS:
        other = _restore(vol, axes, flips)
        ni, nj, nk = other.shape_ijk
        for ijk in ((0, 0, 0), (ni - 1, 3, nk - 2), (5, nj - 1, 1)):
            world = other.index_to_world_points(ijk)
            back = np.round(vol.world_to_index_points(world)).astype(int)
            assert other.array[ijk[2], ijk[1], ijk[0]] == vol.array[back[2], back[1], back[0]]


def test_canonical_reorientation_undoes_any_order(small_phantom) -> None:
    vol = small_phantom.volume
    reference = canonical_reorientation(vol).canonical_volume(vol)
    for axes, flips in ORDERS:
        other = _restore(vol, axes, flips)
        reo = canonical_reorientation(other)
        canon = reo.canonical_volume(other)
        assert np.array_equal(canon.array, reference.array)
        assert np.allclose(canon.index_to_world, reference.index_to_world, atol=1e-9)
        assert np.array_equal(reo.to_storage(reo.to_canonical(other.array)), other.array)
        box = (slice(2, 9), slice(4, 20), slice(1, 7))
        stored = reo.box_to_storage(box, canon.array.shape)
        assert np.array_equal(
            np.sort(other.array[stored].ravel()), np.sort(canon.array[box].ravel())
        )


def _world_summary(surfaces):
    out = {}
    for s in surfaces:
        points = s.points().astype(float)
        out[s.name] = {
            "mesh": s.mesh_volume_mm3,
            "voxels": s.voxel_count,
            "centroid": points.mean(axis=0),
            "bounds": np.asarray(s.polydata.GetBounds()),
            "points": points,
            "signed": signed_volume(s.polydata),
        }
    return out


@pytest.mark.parametrize("smoothing", [0, 15])
def test_same_mesh_in_the_world_whatever_the_storage_order(small_phantom, smoothing) -> None:
    results = []
    for axes, flips in ORDERS:
        volume = _restore(small_phantom.volume, axes, flips)
        lungs = segment_lungs(volume)
        assert lungs.names == {RIGHT_LUNG: "right_lung", LEFT_LUNG: "left_lung"}
        surfaces = label_surfaces(lungs.labels, names=lungs.names, smoothing=smoothing)
        results.append(_world_summary(surfaces))
    reference = results[0]
    # Identical up to float rounding, smoothed or not (smoothing would amplify any
    # difference in how cells are triangulated: each label is meshed in canonical order).
    tolerance = 1e-4
    for other in results[1:]:
        assert other.keys() == reference.keys()
        for name, ref in reference.items():
            got = other[name]
            assert got["voxels"] == ref["voxels"]
            assert got["mesh"] == pytest.approx(ref["mesh"], rel=1e-6)
            assert got["signed"] > 0  # outward triangles even for determinant -1
            assert np.allclose(got["centroid"], ref["centroid"], atol=tolerance)
            assert np.allclose(got["bounds"], ref["bounds"], atol=tolerance)
            # Symmetric Hausdorff distance between the vertex sets.
            d1, _ = cKDTree(ref["points"]).query(got["points"])
            d2, _ = cKDTree(got["points"]).query(ref["points"])
            assert max(d1.max(), d2.max()) < tolerance


# --------------------------------------------------------------- known volumes
def test_phantom_lung_volumes_within_two_percent(phantom) -> None:
    lungs = segment_lungs(phantom.volume)
    assert lungs.airway_found and lungs.airway_voxels > 0
    assert lungs.separation == "airways"  # one air region until the bronchi were cut
    assert lungs.warnings == ()  # whole lungs, plausible HU, sizes and ratio
    # The hollow table's enclosed air (as big as a lung) lies outside the trunk: not lung.
    v = phantom.volume
    y = world_grid(v.shape_ijk, v.spacing, v.origin, v.direction)[..., 1]
    table_air = (v.array <= -900) & (y >= 115.0) & (y <= 131.0)
    assert np.count_nonzero(table_air) * np.prod(v.spacing) / 1000 > 500  # mL
    assert not np.any(lungs.labels.array[table_air])
    surfaces = {s.name: s for s in label_surfaces(lungs.labels, names=lungs.names, smoothing=15)}
    for name, expected in phantom.volumes_ml.items():
        s = surfaces[name]
        assert s.closed
        assert s.voxel_volume_ml == pytest.approx(expected, rel=0.02), name
        assert s.mesh_volume_ml == pytest.approx(expected, rel=0.02), name
    truth = phantom.truth.array
    for value in (RIGHT_LUNG, LEFT_LUNG):
        got, want = lungs.labels.array == value, truth == value
        dice = 2 * np.count_nonzero(got & want) / (np.count_nonzero(got) + np.count_nonzero(want))
        assert dice > 0.99
    # Right is patient right (LPS -x), the trachea and the table are not in the mask.
    right = surfaces["right_lung"].points()[:, 0].mean()
    left = surfaces["left_lung"].points()[:, 0].mean()
    assert right < -40 < 40 < left
    assert np.count_nonzero(lungs.labels.array & (truth == 0)) < 0.005 * np.count_nonzero(truth)


def test_touching_lungs_are_cut_apart() -> None:
    ph = lung_phantom(touching=True)
    lungs = segment_lungs(ph.volume)
    assert lungs.separation == "erosion"
    voxel_ml = float(np.prod(ph.volume.spacing)) / 1000
    for value, name in ((RIGHT_LUNG, "right_lung"), (LEFT_LUNG, "left_lung")):
        got = np.count_nonzero(lungs.labels.array == value) * voxel_ml
        truth = np.count_nonzero(ph.truth.array == value) * voxel_ml
        assert got == pytest.approx(truth, rel=0.02), name
        assert got == pytest.approx(ph.volumes_ml[name], rel=0.03), name


def test_no_lung_raises() -> None:
    from medvis.lung import LungNotFoundError

    solid = Volume(np.full((20, 30, 30), 40, np.int16))
    with pytest.raises(LungNotFoundError):
        segment_lungs(solid)
    with pytest.raises(ValueError):
        segment_lungs(solid, hu_range=(-400, -900))


# ------------------------------------------------------------ mesh properties
def test_smoothing_and_decimation_keep_the_mesh_closed_and_the_volume(small_phantom) -> None:
    lungs = segment_lungs(small_phantom.volume)
    raw = label_surfaces(lungs.labels, names=lungs.names)
    for surface in raw:
        assert surface.closed and is_closed(surface.polydata)
        base = surface.mesh_volume_mm3
        for iterations, band in ((15, 0.1), (40, 0.02)):
            smooth = smooth_surface(surface.polydata, iterations=iterations, pass_band=band)
            assert is_closed(smooth)
            assert mesh_properties(smooth)[0] == pytest.approx(base, rel=0.02)
        smaller = decimate_surface(smooth_surface(surface.polydata), reduction=0.5)
        assert smaller.GetNumberOfPolys() < 0.6 * surface.n_triangles
        assert is_closed(smaller)
        assert mesh_properties(smaller)[0] == pytest.approx(base, rel=0.02)
    both = label_surfaces(lungs.labels, names=lungs.names, smoothing=15, decimation=0.5)
    for surface, plain in zip(both, raw, strict=True):
        assert surface.closed and surface.decimation == 0.5
        assert surface.mesh_volume_mm3 == pytest.approx(plain.mesh_volume_mm3, rel=0.02)


def test_cube_mesh_is_exact() -> None:
    cube = np.zeros((8, 9, 10), np.int16)
    cube[2:6, 3:7, 2:7] = 5  # 4 x 4 x 5 voxels, touching nothing
    cube[0, 0, 0] = 3  # a single voxel in a corner: padding closes it
    vol = Volume(cube, spacing=(0.5, 1.0, 2.0), direction=np.diag([1.0, -1.0, 1.0]))
    surfaces = {s.label: s for s in label_surfaces(vol, workers=1)}
    assert set(surfaces) == {3, 5}
    box = surfaces[5]
    assert box.voxel_count == 80 and box.voxel_volume_mm3 == 80.0
    # Marching cubes through edge midpoints: a box of (n - 1) voxel steps plus cut corners.
    assert box.mesh_volume_mm3 < box.voxel_volume_mm3
    assert box.closed and surfaces[3].closed
    assert signed_volume(box.polydata) > 0
    bounds = np.asarray(box.polydata.GetBounds()).reshape(3, 2)
    corners = vol.index_to_world_points([[1.5, 2.5, 1.5], [6.5, 6.5, 5.5]])
    assert np.allclose(bounds[:, 0], corners.min(axis=0))
    assert np.allclose(bounds[:, 1], corners.max(axis=0))


# ------------------------------------------------------------------- export
@pytest.mark.parametrize("ext", [".stl", ".obj", ".ply", ".vtp"])
def test_export_round_trip(small_phantom, tmp_path: Path, ext: str) -> None:
    from vtkmodules.util import numpy_support
    from vtkmodules.vtkIOGeometry import vtkOBJReader, vtkSTLReader
    from vtkmodules.vtkIOPLY import vtkPLYReader
    from vtkmodules.vtkIOXML import vtkXMLPolyDataReader

    lungs = segment_lungs(small_phantom.volume)
    surface = label_surfaces(lungs.labels, names=lungs.names, smoothing=10)[0]
    readers = {
        ".stl": vtkSTLReader,
        ".obj": vtkOBJReader,
        ".ply": vtkPLYReader,
        ".vtp": vtkXMLPolyDataReader,
    }
    points = surface.points().astype(float)
    for world, sign in (("LPS", [1, 1, 1]), ("RAS", [-1, -1, 1])):
        path = tmp_path / f"lung-{world}{ext}"
        write_surface(surface, path, world=world)
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
        reader = readers[ext]()
        reader.SetFileName(str(path))
        reader.Update()
        mesh = reader.GetOutput()
        assert mesh.GetNumberOfPolys() == surface.n_triangles
        back = numpy_support.vtk_to_numpy(mesh.GetPoints().GetData()).astype(float)
        assert np.allclose(back.mean(axis=0), points.mean(axis=0) * sign, atol=1e-3)
        assert mesh_properties(mesh)[0] == pytest.approx(surface.mesh_volume_mm3, rel=1e-4)
    with pytest.raises(OutputExistsError):
        write_surface(surface, tmp_path / f"lung-LPS{ext}")
    write_surface(surface, tmp_path / f"lung-LPS{ext}", force=True)


def test_export_refuses_unknown_format(small_phantom, tmp_path: Path) -> None:
    lungs = segment_lungs(small_phantom.volume)
    surface = label_surfaces(lungs.labels, names=lungs.names)[0]
    with pytest.raises(UnsupportedFormatError):
        write_surface(surface, tmp_path / "lung.off")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------- report
def test_hu_statistics_match_numpy() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(-1024, 300, 5001).astype(np.int16)
    stats = hu_statistics(values)
    assert stats["mean"] == pytest.approx(values.mean(), abs=0.01)
    assert stats["std"] == pytest.approx(values.std(), abs=0.01)
    for key, q in (("p05", 5), ("p25", 25), ("median", 50), ("p75", 75), ("p95", 95)):
        assert stats[key] == pytest.approx(np.percentile(values, q))
    assert stats["laa950_percent"] == pytest.approx(100 * np.mean(values < -950), abs=1e-3)
    assert stats == pytest.approx(hu_statistics(values.astype(float)))


def test_report(small_phantom) -> None:
    lungs = segment_lungs(small_phantom.volume)
    surfaces = label_surfaces(lungs.labels, names=lungs.names, smoothing=15)
    report = build_report(small_phantom.volume, lungs.labels, surfaces, segmentation=lungs)
    again = json.loads(report_json(report))
    assert again["world"] == "LPS"
    right, left = again["structures"]["right_lung"], again["structures"]["left_lung"]
    assert right["label"] == RIGHT_LUNG and left["label"] == LEFT_LUNG
    voxel = float(np.prod(small_phantom.volume.spacing))
    count = int(np.count_nonzero(lungs.labels.array == RIGHT_LUNG))
    assert right["voxel_count"] == count
    assert right["voxel_volume_ml"] == pytest.approx(count * voxel / 1000, abs=1e-3)
    assert right["centroid_lps_mm"][0] < 0 < left["centroid_lps_mm"][0]
    assert -900 < right["hu"]["median"] < -800  # lung at -850, vessels filled in
    assert right["mesh_closed"] and right["surface_area_mm2"] > 0
    assert again["total"]["voxel_volume_ml"] == pytest.approx(
        right["voxel_volume_ml"] + left["voxel_volume_ml"], abs=2e-3
    )
    assert again["segmentation"]["left_right_separation"] == "airways"
    text = format_report(report)
    assert "right lung (label 1)" in text and "left lung (label 2)" in text and "mL" in text


def test_label_surfaces_of_any_label_map() -> None:
    labels = np.zeros((12, 14, 16), np.uint16)
    labels[2:6, 2:8, 3:9] = 7
    labels[7:10, 5:12, 2:14] = 300
    vol = Volume(labels, spacing=(1.0, 1.5, 2.5))
    surfaces = label_surfaces(vol, names={7: "small"})
    assert [(s.label, s.name) for s in surfaces] == [(7, "small"), (300, "label_300")]
    assert label_surfaces(vol, values=[300])[0].voxel_count == 3 * 7 * 12
    assert label_surfaces(vol, values=[9]) == []
    signed = vol.replace(array=labels.astype(np.int16) * -1)
    assert {s.label for s in label_surfaces(signed)} == {-7, -300}
    with pytest.raises(ValueError):
        label_surfaces(vol.replace(array=labels.astype(float)))


@pytest.mark.parametrize("axes,flips", list(itertools.islice(ORDERS, 1, 4)))
def test_label_map_surfaces_follow_the_direction(axes, flips) -> None:
    labels = np.zeros((10, 12, 14), np.uint8)
    labels[2:5, 3:9, 4:12] = 1
    labels[6:8, 2:4, 2:5] = 1
    vol = Volume(labels, spacing=(0.7, 1.3, 2.1), origin=(4.0, -3.0, 7.0))
    ref = label_surfaces(vol)[0]
    got = label_surfaces(_restore(vol, axes, flips))[0]
    assert got.mesh_volume_mm3 == pytest.approx(ref.mesh_volume_mm3, rel=1e-9)
    assert got.surface_area_mm2 == pytest.approx(ref.surface_area_mm2, rel=1e-9)
    assert np.allclose(got.polydata.GetBounds(), ref.polydata.GetBounds(), atol=1e-9)
    assert signed_volume(got.polydata) > 0
