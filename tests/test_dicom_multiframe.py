"""Enhanced multi-frame DICOM: frames split by stack, echo, temporal and other dimensions.

The Siemens enhanced MR of ../shared/data (8 frames, one stack) is rewritten so that its
frames form 2 stacks, 2 echoes, 2 time points or 2 diffusion b-values, with frame n
filled with the value n; the tests check which frames land where.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medvis.io import dicom, dicom_scan
from tests._data import shared_data
from tests.test_dicom import assert_same_world_grid, nifti_lps


def enhanced(tmp_path, change):
    """The Siemens enhanced MR with frame n = n, after ``change(n, frame_item)``."""
    src = next(
        shared_data("dicom2nifti-cases", "siemens_multiframe", "anatomical", "001").iterdir()
    )
    ds = pydicom.dcmread(src)
    frames = ds.PerFrameFunctionalGroupsSequence
    for n, item in enumerate(frames):
        change(n, item)
    ds.PixelData = np.repeat(np.arange(8, dtype=np.uint16), 256 * 256).tobytes()
    path = tmp_path / "enhanced.dcm"
    ds.save_as(path)
    return path


def _position(item):
    return item.PlanePositionSequence[0].ImagePositionPatient


def test_real_enhanced_files_keep_their_frames_in_one_stack():
    for case in ("siemens_multiframe", "philips_enhanced"):
        root = shared_data("dicom2nifti-cases", case, "anatomical")
        vol = dicom.read(root / "001")
        data, affine = nifti_lps(root / "001_ground_truth.nii.gz")
        assert vol.layout == "kji" and vol.array.shape == (8, 256, 256)
        assert_same_world_grid(vol, affine, data.shape)  # 1e-3 mm


def test_temporal_positions_become_frames(tmp_path):
    def change(n, item):
        src = item.PlanePositionSequence[0]
        src.ImagePositionPatient = list(
            pydicom.dcmread(path_holder[0], stop_before_pixels=True)
            .PerFrameFunctionalGroupsSequence[n % 4]
            .PlanePositionSequence[0]
            .ImagePositionPatient
        )
        item.FrameContentSequence[0].TemporalPositionIndex = 2 - n // 4  # frames 4-7 first

    path_holder = [next(shared_data("dicom2nifti-cases", "siemens_multiframe", "anatomical",
                                    "001").iterdir())]  # fmt: skip
    vol = dicom.read(enhanced(tmp_path, change))
    assert vol.layout == "tkji" and vol.array.shape == (2, 4, 256, 256)
    assert sorted(vol.array[0, :, 0, 0].tolist()) == [4, 5, 6, 7]
    assert sorted(vol.array[1, :, 0, 0].tolist()) == [0, 1, 2, 3]
    # the same position holds frame m at t=0 and frame m-4 at t=1
    assert np.all(vol.array[0, :, 0, 0] - vol.array[1, :, 0, 0] == 4)


def test_stacks_become_sub_series(tmp_path):
    def change(n, item):
        item.FrameContentSequence[0].StackID = "1" if n < 5 else "2"

    path = enhanced(tmp_path, change)
    series, _ = dicom_scan.list_series(path)
    assert [(s["part"], s["images"]) for s in series] == [("stack 1", 5), ("stack 2", 3)]
    vol = dicom.read(path)
    assert sorted(vol.array[:, 0, 0].tolist()) == [0, 1, 2, 3, 4]
    second = dicom.read(path, series=series[1]["id"])
    assert sorted(second.array[:, 0, 0].tolist()) == [5, 6, 7]


def test_echoes_become_sub_series(tmp_path):
    def change(n, item):
        echo = Dataset()
        echo.EffectiveEchoTime = 10.0 if n % 2 == 0 else 20.0
        item.MREchoSequence = Sequence([echo])

    series, _ = dicom_scan.list_series(enhanced(tmp_path, change))
    assert [(s["part"], s["images"]) for s in series] == [("echo 10", 4), ("echo 20", 4)]


def test_other_dimension_indices_order_the_frames(tmp_path):
    # Diffusion-like: 4 positions x 2 b-values, told only by Dimension Index Values.
    reference = pydicom.dcmread(
        next(shared_data("dicom2nifti-cases", "siemens_multiframe", "anatomical", "001").iterdir()),
        stop_before_pixels=True,
    )
    positions = [_position(item) for item in reference.PerFrameFunctionalGroupsSequence]

    def change(n, item):
        item.PlanePositionSequence[0].ImagePositionPatient = list(positions[n // 2])
        b_index = 2 - n % 2  # odd frames first
        item.FrameContentSequence[0].DimensionIndexValues = [n // 2 + 1, b_index]
        item.FrameContentSequence[0].TemporalPositionIndex = None

    path = enhanced(tmp_path, change)
    ds = pydicom.dcmread(path)
    dims = []
    for pointer in (0x00209057, 0x00189087):  # In-Stack Position, Diffusion b-value
        dim = Dataset()
        dim.DimensionIndexPointer = pointer
        dims.append(dim)
    ds.DimensionIndexSequence = Sequence(dims)
    ds.save_as(path)
    vol = dicom.read(path)
    assert vol.layout == "tkji" and vol.array.shape == (2, 4, 256, 256)
    assert sorted(vol.array[0, :, 0, 0].tolist()) == [1, 3, 5, 7]


@pytest.mark.parametrize("case", ["philips_enhanced", "siemens_multiframe"])
def test_enhanced_metadata_has_window_and_rescale_per_frame(case):
    vol = dicom.read(shared_data("dicom2nifti-cases", case, "anatomical", "001"))
    assert vol.metadata["window_center"] is not None and vol.metadata["window_width"] > 0
    assert vol.metadata["n_images"] == 8 and vol.metadata["n_files"] == 1
