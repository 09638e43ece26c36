"""medvis.slicer_geometry: Volume <-> 3D Slicer's IJK-to-RAS, proven without Slicer."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

import medvis
from medvis.slicer_geometry import (
    SlicerVolumeGeometry,
    ijk_to_ras,
    lps_to_ras_points,
    ras_to_lps_points,
    slicer_volume_geometry,
    volume_from_ijk_to_ras,
)
from medvis.volume import Volume

NIBABEL_DATA = Path(data_path)


def _rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


DIRECTIONS = {
    "identity": np.eye(3),
    "flipped-LAS": np.diag([-1.0, 1.0, 1.0]),  # NIfTI's usual storage, determinant -1
    "permuted-PIL": np.array([[0.0, 0, 1], [1, 0, 0], [0, -1, 0]]),
    "oblique": _rotation("z", 20) @ _rotation("x", -15),
    "oblique-flipped": _rotation("y", 30) @ np.diag([1.0, 1.0, -1.0]),
}


def _volume(direction: np.ndarray) -> Volume:
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    return Volume(array, spacing=(0.7, 1.3, 2.5), origin=(12.0, -30.5, 47.25), direction=direction)


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_ijk_to_ras_maps_every_voxel_to_its_ras_position(name: str) -> None:
    vol = _volume(DIRECTIONS[name])
    ni, nj, nk = vol.shape_ijk
    ijk = np.array(
        [[i, j, k] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)], float
    )
    lps = vol.index_to_world_points(ijk)
    expected_ras = lps * np.array([-1.0, -1.0, 1.0])  # RAS = LPS with x and y negated
    homogeneous = np.c_[ijk, np.ones(len(ijk))]
    got = (ijk_to_ras(vol) @ homogeneous.T).T[:, :3]
    np.testing.assert_allclose(got, expected_ras, atol=1e-9)
    np.testing.assert_allclose(ijk_to_ras(vol), np.diag([-1.0, -1, 1, 1]) @ vol.index_to_world)


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_node_parts_compose_to_the_matrix(name: str) -> None:
    vol = _volume(DIRECTIONS[name])
    parts = slicer_volume_geometry(vol)
    assert isinstance(parts, SlicerVolumeGeometry)
    np.testing.assert_allclose(parts.spacing, vol.spacing)
    np.testing.assert_allclose(parts.origin, [-12.0, 30.5, 47.25])
    # Unit columns, as vtkMRMLVolumeNode::SetIJKToRASMatrix would store after normalising.
    np.testing.assert_allclose(np.linalg.norm(parts.directions, axis=0), 1.0)
    # Slicer's GetIJKToRASMatrix: element (r, c) = Spacing[c] * IJKToRASDirections[r][c].
    slicer_matrix = np.eye(4)
    for r in range(3):
        for c in range(3):
            slicer_matrix[r, c] = parts.spacing[c] * parts.directions[r, c]
        slicer_matrix[r, 3] = parts.origin[r]
    np.testing.assert_allclose(slicer_matrix, ijk_to_ras(vol), atol=1e-12)
    np.testing.assert_allclose(parts.ijk_to_ras, slicer_matrix, atol=1e-12)
    # A mirrored volume stays mirrored in RAS: the LPS->RAS flip has determinant +1.
    assert np.sign(np.linalg.det(parts.directions)) == np.sign(np.linalg.det(vol.direction))


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_round_trip_through_ijk_to_ras(name: str) -> None:
    vol = _volume(DIRECTIONS[name])
    back = volume_from_ijk_to_ras(vol.array, ijk_to_ras(vol), metadata={"modality": "CT"})
    np.testing.assert_allclose(back.index_to_world, vol.index_to_world, atol=1e-12)
    np.testing.assert_allclose(back.spacing, vol.spacing)
    np.testing.assert_allclose(back.direction, vol.direction, atol=1e-12)
    assert back.array is vol.array or np.shares_memory(back.array, vol.array)
    assert back.metadata["modality"] == "CT"


def test_agrees_with_nibabel_affine_which_is_ras() -> None:
    # nibabel's affine is index (i, j, k) -> RAS: exactly Slicer's IJK-to-RAS.
    for name in DIRECTIONS:
        vol = _volume(DIRECTIONS[name])
        np.testing.assert_allclose(vol.to_nibabel().affine, ijk_to_ras(vol), atol=1e-5)


@pytest.mark.parametrize(
    "filename",
    ["example4d.nii.gz", "anatomical.nii", "phantom_EPI_asc_CLEAR_2_1.PAR", "minc1_1_scale.mnc"],
)
def test_real_files_match_the_ras_affine_nibabel_reads(filename: str) -> None:
    path = NIBABEL_DATA / filename
    if not path.exists():
        pytest.skip(f"{path} not shipped with this nibabel")
    vol = medvis.load(path)
    expected = nib.load(str(path)).affine
    np.testing.assert_allclose(ijk_to_ras(vol), expected, atol=1e-4)


def test_points() -> None:
    pts = np.array([[1.0, 2.0, 3.0], [-4.0, 5.0, -6.0]])
    np.testing.assert_array_equal(lps_to_ras_points(pts), [[-1, -2, 3], [4, -5, -6]])
    np.testing.assert_array_equal(ras_to_lps_points(lps_to_ras_points(pts)), pts)
    assert lps_to_ras_points(pts) is not pts
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        lps_to_ras_points([1.0, 2.0])


def test_bad_matrices_are_refused() -> None:
    array = np.zeros((2, 2, 2))
    with pytest.raises(ValueError, match="4x4"):
        volume_from_ijk_to_ras(array, np.eye(3))
    bad = np.eye(4)
    bad[3, 0] = 1.0
    with pytest.raises(ValueError, match="last row"):
        volume_from_ijk_to_ras(array, bad)
    zero = np.eye(4)
    zero[:, 1] = 0.0
    zero[3, 3] = 1.0
    with pytest.raises(ValueError, match="zero"):
        volume_from_ijk_to_ras(array, zero)


def test_imports_only_numpy() -> None:
    import ast

    source = Path(medvis.slicer_geometry.__file__).read_text(encoding="utf-8")  # type: ignore[attr-defined]
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert imported <= {
        "__future__",
        "typing",
        "numpy",
        "numpy.typing",
        "medvis.geometry",
        "medvis.volume",
    }
