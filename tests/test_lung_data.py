"""medvis.lung on real data: pyradiomics' shape baseline (nrrd-shapes) and a chest CT.

pyradiomics' ``MeshVolume`` and ``SurfaceArea`` come from marching cubes on the label
padded by one voxel, ``VoxelVolume`` from counting voxels; ``label_surfaces`` without
smoothing builds the same surface (discrete flying edges through edge midpoints).
"""

from __future__ import annotations

import csv
from functools import lru_cache

import numpy as np
import pytest
import scipy.ndimage as ndi

import medvis
from medvis.lung import LEFT_LUNG, RIGHT_LUNG, label_surfaces, segment_lungs
from medvis.lung.meshes import signed_volume
from tests._data import shared_data


@lru_cache(maxsize=1)
def _baseline() -> dict[str, dict[str, float]]:
    path = shared_data("nrrd-shapes", "pyradiomics_baseline_shape.csv")
    with path.open(newline="") as stream:
        rows = list(csv.reader(stream))
    cases = rows[0][1:]
    table: dict[str, dict[str, float]] = {case: {} for case in cases}
    for row in rows[1:]:
        if row[0].startswith("original_shape_"):
            for case, value in zip(cases, row[1:], strict=True):
                if value:
                    table[case][row[0].removeprefix("original_shape_")] = float(value)
    return table


@pytest.mark.parametrize("case", ["brain1", "breast1"])
def test_matches_pyradiomics_shape_baseline(case: str) -> None:
    expected = _baseline()[case]
    labels = medvis.load(shared_data("nrrd-shapes", f"{case}_label.nrrd"))
    (surface,) = label_surfaces(labels, values=[1])
    assert surface.closed
    assert surface.voxel_volume_mm3 == pytest.approx(expected["VoxelVolume"], rel=1e-9)
    assert surface.mesh_volume_mm3 == pytest.approx(expected["MeshVolume"], rel=0.01)
    assert surface.surface_area_mm2 == pytest.approx(expected["SurfaceArea"], rel=0.01)


def test_flipped_prostate_labels() -> None:
    """Flipped axes (direction diag(-1, -1, 1)): meshes land where the voxels are."""
    labels = medvis.load(shared_data("nrrd-shapes", "prostate_phantom_subvolume-label.nrrd"))
    assert labels.axis_codes == "RAS"
    surfaces = label_surfaces(labels)
    assert [s.label for s in surfaces] == [1, 7, 8, 9]
    voxel = float(np.prod(labels.spacing))
    for s in surfaces:
        count = int(np.count_nonzero(labels.array == s.label))
        assert s.voxel_count == count and s.voxel_volume_mm3 == pytest.approx(count * voxel)
        assert s.closed and signed_volume(s.polydata) > 0
        # The mesh lies within half a voxel of the label's voxel centres, in the world.
        k, j, i = np.nonzero(labels.array == s.label)
        world = labels.index_to_world_points(np.stack([i, j, k], axis=1))
        bounds = np.asarray(s.polydata.GetBounds()).reshape(3, 2)
        half = labels.spacing / 2 + 1e-3  # points are float32
        assert np.all(bounds[:, 0] >= world.min(axis=0) - half)
        assert np.all(bounds[:, 1] <= world.max(axis=0) + half)
        assert np.allclose(s.points().mean(axis=0), world.mean(axis=0), atol=2.0)
    # The same labels stored LPS (both flips undone) give the same meshes.
    lps = medvis.Volume(
        np.ascontiguousarray(labels.array[:, ::-1, ::-1]),
        spacing=labels.spacing,
        origin=labels.index_to_world_points([labels.shape_ijk[0] - 1, labels.shape_ijk[1] - 1, 0]),
        direction=np.eye(3),
    )
    for a, b in zip(surfaces, label_surfaces(lps), strict=True):
        assert a.mesh_volume_mm3 == pytest.approx(b.mesh_volume_mm3, rel=1e-9)
        assert np.allclose(a.polydata.GetBounds(), b.polydata.GetBounds(), atol=1e-6)


# ---------------------------------------------------------------------- chest CT
@pytest.fixture(scope="module")
def chest():
    ct = medvis.load(shared_data("chest-ct", "dicom"))
    return ct, segment_lungs(ct)


def test_chest_ct_two_lungs_in_the_right_places(chest) -> None:
    ct, lungs = chest
    assert lungs.names == {RIGHT_LUNG: "right_lung", LEFT_LUNG: "left_lung"}
    labels = lungs.labels
    assert labels.array.shape == ct.array.shape and np.allclose(
        labels.index_to_world, ct.index_to_world
    )
    voxel_ml = float(np.prod(ct.spacing)) / 1000
    volumes, centroids = {}, {}
    for value in (RIGHT_LUNG, LEFT_LUNG):
        k, j, i = np.nonzero(labels.array == value)
        volumes[value] = len(k) * voxel_ml
        centroids[value] = ct.index_to_world_points([i.mean(), j.mean(), k.mean()])
    assert centroids[LEFT_LUNG][0] > 30 > -30 > centroids[RIGHT_LUNG][0]  # LPS +x is left
    total = sum(volumes.values())
    assert 2500 < total < 8000, f"total lung volume {total:.0f} mL"
    assert 1.0 < volumes[RIGHT_LUNG] / volumes[LEFT_LUNG] < 1.5  # the right lung is larger
    assert lungs.airway_found and lungs.separation in ("airways", "separate")
    # Aerated lung, with vessels filled in: no slab of soft tissue.
    hu = ct.array[labels.array > 0]
    assert np.median(hu) < -750


def test_chest_ct_excludes_trachea_and_body_wall(chest) -> None:
    ct, lungs = chest
    labels, hu = lungs.labels.array, ct.array
    inside = []
    for k in range(hu.shape[0]):
        air = hu[k] < -400
        parts, _ = ndi.label(air)
        border = np.unique(np.r_[parts[0], parts[-1], parts[:, 0], parts[:, -1]])
        outside = np.isin(parts, border[border > 0])
        # No lung voxel within 5 mm of the outside air (skin, table, air around the body).
        reach = int(np.ceil(5.0 / ct.spacing[0]))
        near = ndi.maximum_filter(outside.view(np.uint8), size=2 * reach + 1).astype(bool)
        assert not np.any(labels[k][near]), f"slice {k}: lung label next to outside air"
        inside.append(air & ~outside)
    # The trachea: the only air inside the body in the top slice; follow it down 80 mm.
    top = hu.shape[0] - 1
    assert not labels[top].any()
    parts, count = ndi.label(inside[top])
    assert count >= 1
    centre = np.round(ndi.center_of_mass(inside[top], parts, 1)).astype(int)
    checked = 0
    for k in range(top, top - int(80 / ct.spacing[2]), -1):
        parts, _ = ndi.label(inside[k])
        here = parts[centre[0], centre[1]]
        if here == 0:
            continue
        lumen = parts == here
        if np.count_nonzero(lumen) * ct.spacing[0] * ct.spacing[1] > 700:
            continue  # reached a bronchus opening into lung
        assert not np.any(labels[k][lumen]), f"trachea in the lung mask at slice {k}"
        checked += 1
    assert checked > 20


def test_chest_ct_meshes(chest) -> None:
    _, lungs = chest
    surfaces = label_surfaces(lungs.labels, names=lungs.names, smoothing=15, boxes=lungs.boxes)
    for s in surfaces:
        assert s.closed
        assert s.mesh_volume_mm3 == pytest.approx(s.voxel_volume_mm3, rel=0.02)
        assert s.n_triangles > 100_000
