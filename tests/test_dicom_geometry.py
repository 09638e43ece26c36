"""DICOM stack geometry: gantry tilt, uneven spacing, missing slices, duplicates, checks.

The tilted CT of ../shared/data/gantry-tilt-small is compared with dcm2niix's resampled
output voxel for voxel. Synthetic stacks are built from pydicom's MR_small.dcm with a
*linear* intensity ramp in world coordinates: trilinear resampling reproduces a linear
function exactly, so after rectification every voxel must equal the ramp at its world
position (up to the rounding of the stored integers, at most 1).
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from medvis.geometry import LPS_TO_RAS
from medvis.io import dicom
from tests._data import shared_data
from tests.test_dicom import assert_same_world_grid, wheel_file

RAMP = np.array([0.5, -0.25, 2.0])  # value = RAMP . world (LPS mm) + 1000


def ramp_stack(
    folder: Path,
    positions: list[np.ndarray],
    *,
    iop=(1, 0, 0, 0, 1, 0),
    modality: str = "CT",
    **changes,
) -> None:
    """MR_small copies at ``positions`` whose pixels hold the world ramp (int16)."""
    template = pydicom.dcmread(wheel_file("MR_small.dcm"))
    rows, cols = template.Rows, template.Columns
    di, dj = (float(v) for v in reversed(template.PixelSpacing))
    row, col = np.array(iop[:3], float), np.array(iop[3:], float)
    jj, ii = np.mgrid[0:rows, 0:cols]
    for n, pos in enumerate(positions):
        ds = copy.deepcopy(template)
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in iop]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in pos]
        ds.InstanceNumber = n + 1
        ds.Modality = modality
        world = pos + ii[..., None] * di * row + jj[..., None] * dj * col
        ds.PixelData = np.rint(world @ RAMP + 1000).astype(np.int16).tobytes()
        for keyword, value in changes.items():
            setattr(ds, keyword, value)
        ds.save_as(folder / f"im{n:02d}.dcm")


def assert_ramp(vol, tol: float = 1.01, *, margin: int = 1) -> None:
    """Every voxel equals the ramp at its world position (away from filled borders)."""
    ni, nj, nk = vol.shape_ijk
    kk, jj, ii = np.mgrid[0:nk, 0:nj, 0:ni]
    world = vol.index_to_world_points(np.stack([ii, jj, kk], -1))
    expected = world @ RAMP + 1000
    inside = vol.array != vol.array.min()  # voxels outside the scanned images are filled
    inside[:, :margin] = inside[:, -margin:] = False
    inside[:, :, :margin] = inside[:, :, -margin:] = False
    assert inside.mean() > 0.5
    assert np.abs(vol.array[inside] - expected[inside]).max() <= tol


# ------------------------------------------------------------------ gantry tilt, real data
def test_tilted_ct_is_rectified_exactly_like_dcm2niix():
    vol = dicom.read(shared_data("gantry-tilt-small", "dicom"))
    img = nib.load(shared_data("gantry-tilt-small", "dcm2niix-tilt-corrected.nii.gz"))
    ref, affine = np.asarray(img.dataobj), LPS_TO_RAS @ img.affine
    # Same grid: every voxel centre is one of dcm2niix's (storage order differs: rows flipped).
    assert_same_world_grid(vol, affine, ref.shape, tol=1e-3)
    np.testing.assert_allclose(vol.direction.T @ vol.direction, np.eye(3), atol=1e-6)
    assert vol.array.shape == (4, 521, 512) and vol.dtype == np.int16
    # Same voxels. Both resample by linear interpolation within each slice and clamp
    # samples within half a pixel of the image edge; the stated tolerance is 1 HU
    # (rounding of the interpolated value), and on this data the difference is zero.
    mapping = np.linalg.inv(affine) @ vol.index_to_world
    ijk = np.indices(vol.shape_ijk).reshape(3, -1)
    theirs = np.rint(mapping[:3, :3] @ ijk + mapping[:3, 3:]).astype(int)
    ours = vol.array.transpose(2, 1, 0).reshape(-1)
    diff = np.abs(ours.astype(float) - ref[tuple(theirs)])
    assert diff.max() <= 1.0
    assert np.count_nonzero(diff) == 0
    assert vol.metadata["gantry_tilt_degrees"] == pytest.approx(14.0, abs=0.01)
    assert "resampled" in vol.metadata
    assert any("gantry tilt of about 14.00 degrees" in w for w in vol.warnings)


def test_tilted_ct_raw_stack_on_request():
    folder = shared_data("gantry-tilt-small", "dicom")
    vol = dicom.read(folder, tilt="keep")
    assert vol.array.shape == (4, 512, 512)
    gram = vol.direction.T @ vol.direction
    assert abs(gram[1, 2]) > 0.2  # sheared: the slice axis is not orthogonal to the columns
    assert any("tilt='rectify'" in w for w in vol.warnings)
    img = nib.load(shared_data("gantry-tilt-small", "dcm2niix-untilted-stack.nii.gz"))
    raw = np.asarray(img.dataobj)[:, ::-1, :].transpose(2, 1, 0)  # dcm2niix flips rows
    assert np.array_equal(vol.array, raw)


# ------------------------------------------------------------------ synthetic tilt and spacing
def _sheared(n: int, step: float, shear: float) -> list[np.ndarray]:
    return [np.array([-50.0, -60.0 + shear * k, 20.0 + step * k]) for k in range(n)]


def test_mr_tilt_is_kept_by_default_and_rectified_on_request(tmp_path):
    ramp_stack(tmp_path, _sheared(6, 3.0, 1.3), modality="MR")
    kept = dicom.read(tmp_path)
    assert kept.array.shape == (6, 64, 64)
    assert any("gantry tilt" in w for w in kept.warnings)
    assert any("tilt='rectify'" in w for w in kept.warnings)
    rectified = dicom.read(tmp_path, tilt="rectify")
    np.testing.assert_allclose(rectified.direction, np.eye(3), atol=1e-9)
    assert rectified.array.shape[1] > 64  # widened to hold the sheared slices
    assert_ramp(rectified)


def test_uneven_ct_spacing_is_resampled_onto_a_regular_grid(tmp_path):
    depths = [0.0, 2.0, 4.5, 6.0, 8.0]
    ramp_stack(tmp_path, [np.array([0.0, 0.0, d]) for d in depths])
    vol = dicom.read(tmp_path)
    assert vol.spacing[2] == pytest.approx(2.0)
    assert vol.array.shape[0] == 5
    assert any("uneven" in w for w in vol.warnings)
    assert_ramp(vol)
    kept = dicom.read(tmp_path, spacing="keep")
    assert any("spacing='resample'" in w for w in kept.warnings)
    np.testing.assert_array_equal(kept.array[2, :, :], vol.array[2, :, :] + 1)  # z=4.5 vs 4


def test_missing_slice_is_reported_and_filled_by_interpolation(tmp_path):
    depths = [0.0, 2.5, 5.0, 10.0, 12.5]
    ramp_stack(tmp_path, [np.array([0.0, 0.0, d]) for d in depths])
    vol = dicom.read(tmp_path)
    assert any("1 slice(s) seem to be missing" in w for w in vol.warnings)
    assert vol.array.shape[0] == 6 and vol.spacing[2] == pytest.approx(2.5)
    assert_ramp(vol)  # the filled slice (z = 7.5) lies on the ramp too
    mr = tmp_path / "mr"
    mr.mkdir()
    ramp_stack(mr, [np.array([0.0, 0.0, d]) for d in depths], modality="MR")
    kept = dicom.read(mr)  # MR: kept as acquired, with the warning
    assert kept.array.shape[0] == 5
    assert any("missing" in w for w in kept.warnings)


@pytest.mark.parametrize(("jitter", "warned"), [(0.004, False), (0.03, True)])
def test_spacing_tolerance_is_about_a_hundredth_of_a_millimetre(tmp_path, jitter, warned):
    depths = [0.0, 2.0, 4.0 + jitter, 6.0]
    ramp_stack(tmp_path, [np.array([0.0, 0.0, d]) for d in depths], modality="MR")
    vol = dicom.read(tmp_path)
    assert any("uneven" in w for w in vol.warnings) is warned


# ------------------------------------------------------------------ duplicates, orientation
def test_copied_file_is_ignored(tmp_path):
    ramp_stack(tmp_path, [np.array([0.0, 0.0, 2.0 * k]) for k in range(4)])
    shutil.copyfile(tmp_path / "im02.dcm", tmp_path / "copy.dcm")
    vol = dicom.read(tmp_path)
    assert vol.layout == "kji" and vol.array.shape[0] == 4
    assert any("copies of another image" in w for w in vol.warnings)


def test_extra_image_at_one_position_is_reported(tmp_path):
    ramp_stack(tmp_path, [np.array([0.0, 0.0, 2.0 * k]) for k in range(4)])
    ds = pydicom.dcmread(tmp_path / "im01.dcm")
    ds.InstanceNumber, ds.SOPInstanceUID = 99, pydicom.uid.generate_uid()
    ds.save_as(tmp_path / "again.dcm")
    vol = dicom.read(tmp_path)
    assert vol.array.shape[0] == 4
    assert any("duplicate slice positions" in w for w in vol.warnings)


def test_odd_orientation_is_split_off_and_named(tmp_path):
    ramp_stack(tmp_path, [np.array([0.0, 0.0, 2.0 * k]) for k in range(5)])
    ds = pydicom.dcmread(tmp_path / "im04.dcm")
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.save_as(tmp_path / "im04.dcm")
    vol = dicom.read(tmp_path)
    assert vol.array.shape[0] == 4
    assert vol.metadata["series_part"].startswith("orientation")
    assert any("#2" in w and "pass series=ID" in w for w in vol.warnings)


def test_missing_geometry_is_a_warning(tmp_path):
    ramp_stack(tmp_path, [np.array([0.0, 0.0, 2.0 * k]) for k in range(3)])
    for path in tmp_path.iterdir():
        ds = pydicom.dcmread(path)
        del ds.ImagePositionPatient
        ds.save_as(path)
    vol = dicom.read(tmp_path)
    assert any("missing or invalid" in w for w in vol.warnings)


def test_temporal_positions_order_the_frames(tmp_path):
    # 2 positions x 3 time points; Instance Numbers deliberately out of time order.
    ramp_stack(tmp_path, [np.array([0.0, 0.0, 3.0 * (n % 2)]) for n in range(6)], modality="MR")
    times = [3, 3, 1, 1, 2, 2]
    for n, path in enumerate(sorted(tmp_path.iterdir())):
        ds = pydicom.dcmread(path)
        ds.TemporalPositionIdentifier = times[n]
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.PixelData = np.full((64, 64), 100 * times[n] + n % 2, np.int16).tobytes()
        ds.save_as(path)
    vol = dicom.read(tmp_path)
    assert vol.layout == "tkji" and vol.array.shape == (3, 2, 64, 64)
    assert vol.array[:, :, 0, 0].tolist() == [[100, 101], [200, 201], [300, 301]]
