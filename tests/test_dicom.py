"""DICOM reader tests on real files: ../shared/data and the files inside pydicom's wheel.

Geometry is checked against independent tools (SimpleITK, dcm2niix, dicom2nifti, a
trusted NRRD export) by comparing world positions of corresponding voxels, so storage
order differences (NIfTI's flipped rows, LAS) do not matter.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import warnings
from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file

from medvis.errors import (
    DecoderMissingError,
    HeaderError,
    MedvisError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from medvis.geometry import LPS_TO_RAS
from medvis.io import dicom
from medvis.io.dicom_header import parse_header
from medvis.phi import PHI_KEYS
from medvis.volume import Volume
from tests._data import shared_data

GENERIC_VARIANTS = ["anatomical", "compressed_rle", "compressed_jpeg", "compressed_jpegls",
                    "compressed_j2k"]  # fmt: skip


# ------------------------------------------------------------------ helpers
def wheel_file(name: str) -> Path:
    """A test file shipped inside pydicom's wheel (never downloaded); skip when absent."""
    try:
        path = get_testdata_file(name, download=False)
    except Exception:  # pragma: no cover - depends on the pydicom build
        path = None
    if path is None or not Path(path).exists():
        pytest.skip(f"pydicom test file {name} is not in this pydicom installation")
    return Path(path)


def corners(vol: Volume) -> np.ndarray:
    """The 8 corner voxel indices (i, j, k) of a volume."""
    ni, nj, nk = vol.shape_ijk
    return np.array(
        [[i, j, k] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)], float
    )


def index_map(vol: Volume, other_lps: np.ndarray) -> np.ndarray:
    """4x4 mapping this volume's (i, j, k) to another grid's indices (both index -> LPS)."""
    return np.linalg.inv(other_lps) @ vol.index_to_world


def assert_same_world_grid(vol: Volume, other_lps: np.ndarray, shape_ijk: tuple, tol=1e-3):
    """Every corner voxel of ``vol`` is a voxel of the other grid at the same place (mm)."""
    mapping = index_map(vol, other_lps)
    pts = np.c_[corners(vol), np.ones(8)]
    their_index = np.round(pts @ mapping.T)
    assert np.all(their_index[:, :3] >= 0)
    assert np.all(their_index[:, :3] <= np.array(shape_ijk) - 1)
    ours = pts @ vol.index_to_world.T
    theirs = their_index @ other_lps.T
    np.testing.assert_allclose(ours[:, :3], theirs[:, :3], atol=tol)
    assert sorted(vol.shape_ijk) == sorted(int(s) for s in shape_ijk)


def resample_to(vol: Volume, other_lps: np.ndarray, shape_ijk: tuple) -> np.ndarray:
    """``vol``'s voxels rearranged into the other grid's (i, j, k) order (exact match only)."""
    mapping = index_map(vol, other_lps)
    rot = np.round(mapping[:3, :3])
    assert np.allclose(mapping[:3, :3], rot, atol=1e-3), "grids are not axis-permutations"
    ijk = vol.array.transpose(2, 1, 0)  # [i, j, k]
    out = np.empty(shape_ijk, vol.dtype)
    grid = np.indices(ijk.shape).reshape(3, -1)
    theirs = (rot @ grid + np.round(mapping[:3, 3:4])).astype(int)
    out[tuple(theirs)] = ijk[tuple(grid)]
    return out


def nifti_lps(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A NIfTI file's voxels (squeezed) and its index -> LPS affine."""
    img = nib.load(path)
    return np.asarray(img.dataobj).squeeze(), LPS_TO_RAS @ img.affine


def nrrd_lps(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """NRRD voxels in C order ([k, j, i]) and the index (i, j, k) -> LPS affine."""
    data, header = nrrd.read(str(path), index_order="C")
    assert header["space"] == "left-posterior-superior"
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(header["space directions"], float).T
    affine[:3, 3] = header["space origin"]
    return data, affine, header


@pytest.fixture
def pydicom_path_only(monkeypatch):
    """Force the pydicom decoding path (no fast header walker / raw reads)."""
    monkeypatch.setattr(dicom, "_fast_ok", lambda header, key: False)


# ------------------------------------------------------------------ chest CT
def test_chest_ct_matches_simpleitk():
    folder = shared_data("chest-ct", "dicom")
    vol = dicom.read(folder)
    assert vol.array.shape == (141, 512, 512)
    assert vol.dtype == np.int16
    assert (int(vol.array.min()), int(vol.array.max())) == (-1024, 2976)
    assert vol.warnings == ()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    np.testing.assert_allclose(vol.origin, image.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(vol.spacing, image.GetSpacing(), atol=1e-3)
    np.testing.assert_allclose(vol.direction.ravel(), image.GetDirection(), atol=1e-3)
    assert np.array_equal(vol.array, sitk.GetArrayViewFromImage(image))


def test_chest_ct_matches_dcm2niix_world_points():
    vol = dicom.read(shared_data("chest-ct", "dicom"))
    ras = np.array(
        [[-0.976562, 0, 0, 250], [0, 0.976562, 0, -335.023438], [0, 0, 2, -164.5], [0, 0, 0, 1]]
    )
    assert_same_world_grid(vol, LPS_TO_RAS @ ras, (512, 512, 141))
    # dcm2niix stores rows flipped: our j is its 511 - j
    mapping = index_map(vol, LPS_TO_RAS @ ras)
    np.testing.assert_allclose(mapping[1, 1], -1, atol=1e-5)


def test_chest_ct_metadata():
    vol = dicom.read(shared_data("chest-ct", "dicom"))
    meta = vol.metadata
    json.dumps(dict(meta))
    assert meta["format"] == "DICOM"
    assert meta["modality"] == "CT"
    assert meta["units"] == "HU" and meta["rescale_type"] == "HU"
    assert meta["rescale_slope"] == 1.0 and meta["rescale_intercept"] == -1024.0
    assert meta["bits_allocated"] == 16 and meta["bits_stored"] == 12
    assert meta["n_files"] == 141 and meta["number_of_frames"] == 1
    assert meta["transfer_syntax"] == "Implicit VR Little Endian (1.2.840.10008.1.2)"
    assert PHI_KEYS <= set(meta)
    assert vol.source == str(shared_data("chest-ct", "dicom"))


def test_shuffled_filenames_give_the_same_volume(tmp_path):
    folder = shared_data("chest-ct", "dicom")
    files = sorted(folder.iterdir())
    names = [f"x{n:04d}" for n in range(len(files))]
    random.Random(7).shuffle(names)
    for src, name in zip(files, names, strict=True):
        shutil.copyfile(src, tmp_path / name)
    a, b = dicom.read(folder), dicom.read(tmp_path)
    assert np.array_equal(a.array, b.array)
    np.testing.assert_array_equal(a.index_to_world, b.index_to_world)


def test_fast_path_equals_pydicom_path_on_chest_ct(monkeypatch):
    folder = shared_data("chest-ct", "dicom")
    fast = dicom.read(folder)
    monkeypatch.setattr(dicom, "_fast_ok", lambda header, key: False)
    slow = dicom.read(folder)
    assert fast.dtype == slow.dtype
    assert np.array_equal(fast.array, slow.array)
    np.testing.assert_array_equal(fast.index_to_world, slow.index_to_world)


# ------------------------------------------------------------------ oblique MR
def test_oblique_mr_matches_trusted_nrrd():
    vol = dicom.read(shared_data("oblique-mr", "701-ADCb500"))
    data, affine, _ = nrrd_lps(shared_data("oblique-mr", "pm-example.nrrd"))
    assert vol.array.shape == data.shape == (20, 256, 256)
    np.testing.assert_allclose(vol.origin, affine[:3, 3], atol=1e-3)
    np.testing.assert_allclose(
        vol.direction, affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0), atol=1e-4
    )
    pts = np.c_[corners(vol), np.ones(8)]
    first_slice = pts[:, 2] == 0
    ours, theirs = pts @ vol.index_to_world.T, pts @ affine.T
    np.testing.assert_allclose(ours[first_slice], theirs[first_slice], atol=1e-3)
    # The NRRD's slice step is the distance of the first two slices (2.99990 mm); ours is
    # the mean step over all 19 (3.00000 mm, as the positions say), so the last slice
    # differs by 19 x 1e-4 = 1.9e-3 mm. Ours is the closer one to the files' positions.
    np.testing.assert_allclose(ours, theirs, atol=2.5e-3)
    positions = sorted(
        (pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient
         for p in shared_data("oblique-mr", "701-ADCb500").iterdir()),
        key=lambda ipp: float(np.asarray(ipp, float) @ vol.direction[:, 2]),
    )  # fmt: skip
    truth = np.array(positions, float)
    slice_origins = vol.index_to_world_points([[0, 0, k] for k in range(20)])
    nrrd_origins = np.c_[np.zeros((20, 2)), np.arange(20), np.ones(20)] @ affine.T
    ours_error = np.abs(slice_origins - truth).max()
    assert ours_error < 1.5e-3
    assert ours_error < np.abs(nrrd_origins[:, :3] - truth).max()
    # No rescale in this MR series (slope 1, intercept 0): stored == rescaled values,
    # and the NRRD holds exactly these values.
    assert vol.metadata["rescale_slope"] == 1.0 and vol.metadata["rescale_intercept"] == 0.0
    assert vol.dtype == data.dtype == np.int16
    assert np.array_equal(vol.array, data)


# ------------------------------------------------------------------ dicom2nifti cases
@pytest.mark.parametrize("variant", GENERIC_VARIANTS)
def test_generic_variants_match_dicom2nifti(variant):
    root = shared_data("dicom2nifti-cases", "generic", variant)
    vol = dicom.read(root / "001")
    reference = dicom.read(shared_data("dicom2nifti-cases", "generic", "anatomical", "001"))
    np.testing.assert_array_equal(vol.index_to_world, reference.index_to_world)
    data, affine = nifti_lps(root / "001_ground_truth.nii.gz")
    assert_same_world_grid(vol, affine, data.shape)
    assert np.array_equal(resample_to(vol, affine, data.shape), data)


def test_compressed_variants_decode_to_identical_voxels():
    # Note: the uncompressed "anatomical" series of this data set holds other pixel values
    # than the four compressed ones (its own ground truth NIfTI differs too), so the
    # uncompressed series is compared with its own ground truth above, not with these.
    root = shared_data("dicom2nifti-cases", "generic")
    volumes = [dicom.read(root / variant / "001") for variant in GENERIC_VARIANTS[1:]]
    for vol in volumes[1:]:
        assert vol.dtype == volumes[0].dtype
        assert np.array_equal(vol.array, volumes[0].array)


@pytest.mark.parametrize("case", ["philips_enhanced", "siemens_multiframe"])
def test_enhanced_multiframe_matches_dicom2nifti_geometry(case):
    root = shared_data("dicom2nifti-cases", case, "anatomical")
    vol = dicom.read(root / "001")
    assert vol.array.shape == (8, 256, 256)
    data, affine = nifti_lps(root / "001_ground_truth.nii.gz")
    assert_same_world_grid(vol, affine, data.shape)
    if case == "siemens_multiframe":  # no intensity scaling: same voxels
        assert np.array_equal(resample_to(vol, affine, data.shape), data)


# ------------------------------------------------------------------ CT with labels
def test_ct_3slice_shares_grid_with_label_nrrds():
    vol = dicom.read(shared_data("ct-3slice-seg"))
    assert vol.array.shape == (3, 512, 512)
    expected = {"liver_seg.nrrd": 107098, "heart_seg.nrrd": 41449, "spine_seg.nrrd": 12439}
    for name, count in expected.items():
        data, affine, _ = nrrd_lps(shared_data("ct-3slice-seg", name))
        assert data.shape == vol.array.shape
        np.testing.assert_allclose(vol.index_to_world, affine, atol=1e-3)
        assert int(np.count_nonzero(data)) == count


def test_ct_jpeg2000_matches_segmentation_grid():
    vol = dicom.read(shared_data("ct-jpeg2000", "dicom"))
    assert vol.array.shape == (20, 512, 512)
    assert vol.metadata["transfer_syntax"].endswith("(1.2.840.10008.1.2.4.90)")
    assert vol.metadata["units"] == "HU"
    data, affine = nifti_lps(shared_data("ct-jpeg2000", "example_seg_dicom.nii.gz"))
    assert_same_world_grid(vol, affine, data.shape)


def test_gantry_tilt_keeps_true_slice_positions():
    folder = shared_data("gantry-tilt-small", "dicom")
    vol = dicom.read(folder, tilt="keep")  # the default for CT is to rectify (test_dicom_tilt)
    assert any("gantry tilt" in w for w in vol.warnings)
    positions = sorted(
        (
            pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient
            for p in folder.iterdir()
        ),
        key=lambda ipp: float(ipp[2]),
    )
    firsts = vol.index_to_world_points([[0, 0, k] for k in range(4)])
    order = np.argsort(firsts[:, 2])
    np.testing.assert_allclose(firsts[order], np.array(positions, float), atol=1e-3)


# ------------------------------------------------------------------ pydicom's files
@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_padded.dcm"]
)
def test_fast_path_equals_pydicom_path_on_wheel_files(name, monkeypatch):
    path = wheel_file(name)
    fast = dicom.read(path)
    assert parse_header(path).walked
    monkeypatch.setattr(dicom, "_fast_ok", lambda header, key: False)
    slow = dicom.read(path)
    assert fast.dtype == slow.dtype and np.array_equal(fast.array, slow.array)
    np.testing.assert_array_equal(fast.index_to_world, slow.index_to_world)
    ds = pydicom.dcmread(path)
    with warnings.catch_warnings():  # MR_small_padded: pydicom warns about the padding
        warnings.simplefilter("ignore")
        stored = ds.pixel_array
    expected = stored * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    assert np.array_equal(fast.array[0], expected)


@pytest.mark.parametrize(
    "name",
    ["MR_small_bigendian.dcm", "MR_small_expb.dcm", "MR_small_RLE.dcm",
     "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"],
)  # fmt: skip
def test_other_encodings_equal_explicit_little_endian(name):
    reference = dicom.read(wheel_file("MR_small.dcm"))
    vol = dicom.read(wheel_file(name))
    assert vol.dtype == reference.dtype and vol.dtype.isnative
    assert np.array_equal(vol.array, reference.array)
    np.testing.assert_allclose(vol.index_to_world, reference.index_to_world, atol=1e-6)


@pytest.mark.parametrize("signed", [False, True])
def test_unused_high_bits_match_pydicom(tmp_path, signed, monkeypatch):
    ds = pydicom.dcmread(wheel_file("MR_small.dcm"))
    rng = np.random.default_rng(3)
    noisy = rng.integers(0, 65536, size=(ds.Rows, ds.Columns), dtype=np.uint16)
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, int(signed)
    ds.RescaleSlope, ds.RescaleIntercept = 1, -100
    ds.PixelData = noisy.tobytes()
    path = tmp_path / "noisy.dcm"
    ds.save_as(path)
    fast = dicom.read(path)
    expected = pydicom.dcmread(path).pixel_array.astype(np.int32) - 100
    assert fast.dtype == np.int16
    assert np.array_equal(fast.array[0], expected)
    monkeypatch.setattr(dicom, "_fast_ok", lambda header, key: False)
    assert np.array_equal(dicom.read(path).array, fast.array)


def test_float_rescale_gives_float32(tmp_path):
    ds = pydicom.dcmread(wheel_file("MR_small.dcm"))
    ds.RescaleSlope, ds.RescaleIntercept = "0.5", "1.25"
    ds.save_as(tmp_path / "a.dcm")
    vol = dicom.read(tmp_path / "a.dcm")
    assert vol.dtype == np.float32
    np.testing.assert_array_equal(vol.array[0], ds.pixel_array * 0.5 + 1.25)


def test_multiframe_rtdose_uses_grid_frame_offsets():
    path = wheel_file("rtdose.dcm")
    vol = dicom.read(path)
    ds = pydicom.dcmread(path)
    assert vol.array.shape == (int(ds.NumberOfFrames), ds.Rows, ds.Columns)
    np.testing.assert_allclose(vol.origin, [float(v) for v in ds.ImagePositionPatient])
    steps = np.diff([float(v) for v in ds.GridFrameOffsetVector])
    np.testing.assert_allclose(vol.spacing[2], steps.mean())
    assert np.array_equal(vol.array, ds.pixel_array)


def test_multiframe_colour_file_is_kjic():
    vol = dicom.read(wheel_file("examples_ybr_color.dcm"))
    assert vol.layout == "kjic" and vol.array.shape == (30, 240, 320, 3)
    assert any("missing" in w for w in vol.warnings)


# ------------------------------------------------------------------ folders and series
def test_folder_with_two_series_reads_the_largest_and_names_the_other(tmp_path):
    for src in shared_data("oblique-mr", "701-ADCb500").iterdir():
        shutil.copyfile(src, tmp_path / f"mr_{src.name}")
    for src in sorted(shared_data("ct-3slice-seg").glob("*.dcm")):
        shutil.copyfile(src, tmp_path / f"ct_{src.name}")
    (tmp_path / "notes.txt").write_text("not DICOM")
    vol = dicom.read(tmp_path)
    assert vol.array.shape == (20, 256, 256)
    ct_uid = pydicom.dcmread(tmp_path / "ct_01.dcm", stop_before_pixels=True).SeriesInstanceUID
    assert any(ct_uid in w for w in vol.warnings)
    ct = dicom.read(tmp_path, series=ct_uid)
    assert ct.array.shape == (3, 512, 512)
    with pytest.raises(UnsupportedFormatError, match="no series"):
        dicom.read(tmp_path, series="1.2.3")


def test_can_read():
    chest = shared_data("chest-ct", "dicom")
    first = sorted(chest.iterdir())[0]
    assert dicom.can_read(chest, b"")
    assert dicom.can_read(first, first.read_bytes()[:2048])
    assert not dicom.can_read(Path("x.img"), first.read_bytes()[:2048])
    assert not dicom.can_read(Path("x.nii"), b"\0" * 400)
    assert dicom.READER.accepts_folders and ".dcm" in dicom.READER.extensions


# ------------------------------------------------------------------ errors
def test_truncated_file_names_the_file(tmp_path):
    src = sorted(shared_data("chest-ct", "dicom").iterdir())[0]
    path = tmp_path / "cut.dcm"
    path.write_bytes(src.read_bytes()[:1000])
    with pytest.raises((TruncatedFileError,)) as info:
        dicom.read(path)
    assert "cut.dcm" in str(info.value)


def test_truncated_pixel_data_is_reported(tmp_path):
    src = sorted(shared_data("chest-ct", "dicom").iterdir())[0]
    path = tmp_path / "short.dcm"
    path.write_bytes(src.read_bytes()[:-1000])
    with pytest.raises(TruncatedFileError, match=r"short\.dcm"):
        dicom.read(path)


def test_folder_without_dicom(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    assert not dicom.can_read(tmp_path, b"")
    with pytest.raises(UnsupportedFormatError, match="no DICOM image"):
        dicom.read(tmp_path)


def test_missing_rows_is_a_header_error(tmp_path):
    ds = pydicom.dcmread(wheel_file("MR_small.dcm"))
    del ds.Rows
    ds.save_as(tmp_path / "norows.dcm")
    with pytest.raises(HeaderError, match="Rows"):
        dicom.read(tmp_path / "norows.dcm")


def test_missing_decoder_names_the_package(monkeypatch):
    from pydicom.pixels.decoders.base import Decoder

    monkeypatch.setattr(Decoder, "is_available", property(lambda self: False))
    with pytest.raises(DecoderMissingError, match="pylibjpeg-openjpeg") as info:
        dicom.read(wheel_file("MR_small_jp2klossless.dcm"))
    assert "MR_small_jp2klossless.dcm" in str(info.value)
    with pytest.raises(DecoderMissingError, match="pylibjpeg-libjpeg"):
        dicom.read(wheel_file("MR_small_jpeg_ls_lossless.dcm"))


def test_errors_are_medvis_errors(tmp_path):
    path = tmp_path / "garbage.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 300)
    with pytest.raises(MedvisError):
        dicom.read(path)


# ------------------------------------------------------------------ element dump
def test_dicom_elements_on_chest_ct_tolerates_wrong_lengths():
    folder = shared_data("chest-ct", "dicom")
    before = pydicom.config.convert_wrong_length_to_UN
    rows = dicom.dicom_elements(folder)
    assert pydicom.config.convert_wrong_length_to_UN == before
    by_keyword = {row["keyword"]: row for row in rows}
    assert by_keyword["PatientName"]["value"] in ("<hidden>", "")
    assert by_keyword["Modality"]["value"] == "CT"
    assert by_keyword["TransferSyntaxUID"]["tag"] == "(0002,0010)"
    assert any(row["tag"] == "(01F1,1026)" for row in rows)
    assert all(len(row["value"]) <= 80 for row in rows)
    json.dumps(rows)


def test_dicom_elements_hides_names_unless_phi():
    path = wheel_file("CT_small.dcm")
    hidden = {row["keyword"]: row["value"] for row in dicom.dicom_elements(path)}
    shown = {row["keyword"]: row["value"] for row in dicom.dicom_elements(path, phi=True)}
    assert hidden["PatientName"] == "<hidden>" and hidden["PatientID"] == "<hidden>"
    assert shown["PatientName"] == str(pydicom.dcmread(path).PatientName)
    assert hidden["Modality"] == shown["Modality"] == "CT"


def test_dicom_elements_recurse_into_sequences():
    rows = dicom.dicom_elements(wheel_file("rtdose.dcm"))
    assert any(row["depth"] >= 2 for row in rows)
    assert any(row["keyword"] == "Item" for row in rows)


# ------------------------------------------------------------------ synthetic stacks
def _write_stack(folder: Path, positions: list[float], *, instances=None, **changes) -> None:
    """Copies of MR_small at positions along its normal; slice n is filled with value n."""
    template = pydicom.dcmread(wheel_file("MR_small.dcm"))
    iop = np.array(template.ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    for n, depth in enumerate(positions):
        ds = copy.deepcopy(template)
        ds.ImagePositionPatient = [
            f"{v:.6f}" for v in np.array([10.0, 20.0, 30.0]) + depth * normal
        ]
        ds.InstanceNumber = instances[n] if instances else n + 1
        ds.PixelData = np.full((ds.Rows, ds.Columns), n, np.int16).tobytes()
        for keyword, value in changes.items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        ds.save_as(folder / f"im{n:02d}.dcm")


def test_slices_sort_along_the_normal_not_by_instance_number(tmp_path):
    _write_stack(tmp_path, [4.0, 0.0, 8.0, 2.0, 6.0], instances=[1, 2, 3, 4, 5])
    vol = dicom.read(tmp_path)
    assert [int(vol.array[k, 0, 0]) for k in range(5)] == [1, 3, 0, 4, 2]
    assert vol.spacing[2] == pytest.approx(2.0)
    assert np.linalg.det(vol.direction) == pytest.approx(1.0)
    assert vol.warnings == ()


def test_uneven_spacing_warns(tmp_path):
    _write_stack(tmp_path, [0.0, 2.0, 4.0, 8.0])
    vol = dicom.read(tmp_path)
    assert any("uneven" in w for w in vol.warnings)


def test_repeated_positions_become_frames(tmp_path):
    _write_stack(tmp_path, [0.0, 2.0, 0.0, 2.0, 4.0, 4.0], instances=[1, 2, 4, 5, 3, 6])
    vol = dicom.read(tmp_path)
    assert vol.layout == "tkji" and vol.array.shape == (2, 3, 64, 64)
    assert vol.array[:, :, 0, 0].tolist() == [[0, 1, 4], [2, 3, 5]]


def test_missing_geometry_warns_and_uses_identity(tmp_path):
    _write_stack(tmp_path, [0.0, 1.0], ImagePositionPatient=None, ImageOrientationPatient=None)
    vol = dicom.read(tmp_path)
    assert any("missing" in w for w in vol.warnings)
    np.testing.assert_array_equal(vol.direction, np.eye(3))


def test_broken_file_in_a_folder_is_skipped_with_a_warning(tmp_path):
    _write_stack(tmp_path, [0.0, 1.0, 2.0])
    (tmp_path / "broken.dcm").write_bytes((tmp_path / "im00.dcm").read_bytes()[:300])
    vol = dicom.read(tmp_path)
    assert vol.array.shape[0] == 3
    assert any("broken.dcm" in w for w in vol.warnings)
