"""The DICOM pixel pipeline: MONOCHROME1, padding, Modality LUT, VOI window, colour,
Philips scaling, and series metadata gathered from every image.

Each case starts from a real file (../shared/data or pydicom's wheel); where no real file
has the property (no MONOCHROME1 or Modality LUT Sequence file ships with pydicom), the
property is written into a real image and the result checked against the definition.
"""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medvis.io import dicom
from medvis.pipeline.windowing import file_window
from tests._data import shared_data
from tests.test_dicom import nifti_lps, resample_to, wheel_file


@pytest.fixture
def pydicom_path(monkeypatch):
    monkeypatch.setattr(dicom, "_fast_ok", lambda header, key: False)


def chest_slice():
    return sorted(shared_data("chest-ct", "dicom").iterdir())[70]


# ------------------------------------------------------------------ MONOCHROME1
@pytest.mark.parametrize("path_kind", ["fast", "pydicom"])
def test_monochrome1_is_mirrored(tmp_path, monkeypatch, path_kind):
    src = chest_slice()
    normal = dicom.read(src)
    ds = pydicom.dcmread(src)
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(tmp_path / "m1.dcm")
    if path_kind == "pydicom":
        monkeypatch.setattr(dicom, "_fast_ok", lambda header, key: False)
    vol = dicom.read(tmp_path / "m1.dcm")
    # 12-bit unsigned, intercept -1024: modality values -1024 .. 3071 mirror onto themselves.
    assert vol.dtype == normal.dtype == np.int16
    assert np.array_equal(vol.array, 2047 - normal.array)
    assert vol.metadata["monochrome1_inverted"] is True
    center = normal.metadata["window_center"]
    assert vol.metadata["window_center"] == [2047 - c for c in center]
    assert any("MONOCHROME1" in w for w in vol.warnings)


# ------------------------------------------------------------------ padding
def _padded(tmp_path, implicit: bool):
    ds = pydicom.dcmread(wheel_file("CT_small.dcm"))
    pixels = ds.pixel_array.copy()
    pixels[:10, :10] = -2000
    ds.PixelData = pixels.tobytes()
    ds.PixelPaddingValue = -2000
    ds["PixelPaddingValue"].VR = "SS"
    path = tmp_path / f"pad{int(implicit)}.dcm"
    if implicit:  # implicit VR: the value is read back as US, medvis must make it signed
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path, pixels


@pytest.mark.parametrize("implicit", [False, True])
def test_pixel_padding_becomes_air_in_ct(tmp_path, implicit):
    path, pixels = _padded(tmp_path, implicit)
    vol = dicom.read(path)
    real = pixels.astype(int) + int(pydicom.dcmread(path).RescaleIntercept)
    padded = np.zeros(real.shape, bool)
    padded[:10, :10] = True
    real_min = int(real[~padded].min())
    assert vol.metadata["pixel_padding"] == {
        "stored_range": [-2000, -2000], "replaced_with": max(real_min, -1024), "voxels": 100,
    }  # fmt: skip
    assert np.all(vol.array[0, :10, :10] == max(real_min, -1024))
    assert np.array_equal(vol.array[0][~padded], real[~padded])
    kept = dicom.read(path, padding="keep")
    assert np.all(kept.array[0, :10, :10] == -2000 + pydicom.dcmread(path).RescaleIntercept)


# ------------------------------------------------------------------ LUTs and windows
def test_modality_lut_sequence_is_applied(tmp_path):
    ds = pydicom.dcmread(wheel_file("MR_small.dcm"))
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "US"
    item.LUTData = (np.arange(4096, dtype=np.uint16) * 3 + 7).tobytes()
    item["LUTData"].VR = "OW"
    ds.ModalityLUTSequence = Sequence([item])
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.save_as(tmp_path / "lut.dcm")
    vol = dicom.read(tmp_path / "lut.dcm")
    from pydicom.pixels import apply_modality_lut

    reread = pydicom.dcmread(tmp_path / "lut.dcm")
    expected = apply_modality_lut(reread.pixel_array, reread)
    assert vol.metadata["modality_lut_applied"] is True
    assert np.array_equal(vol.array[0], expected)
    stored = reread.pixel_array.astype(int)
    assert np.array_equal(vol.array[0], np.clip(stored, 0, 4095) * 3 + 7)


def test_file_window_is_the_default_display_window():
    vol = dicom.read(shared_data("chest-ct", "dicom"))
    window = file_window(vol.metadata)
    assert window is not None and (window.width, window.center) == (400.0, 0.0)


def test_voi_lut_sequence_offers_a_window(tmp_path):
    ds = pydicom.dcmread(wheel_file("MR_small.dcm"))
    for keyword in ("WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    item = Dataset()
    item.LUTDescriptor = [1000, 200, 16]
    item.LUTData = np.arange(1000, dtype=np.uint16).tobytes()
    item["LUTData"].VR = "OW"
    ds.VOILUTSequence = Sequence([item])
    ds.save_as(tmp_path / "voi.dcm")
    vol = dicom.read(tmp_path / "voi.dcm")
    assert (vol.metadata["window_center"], vol.metadata["window_width"]) == (700.0, 1000.0)
    assert "VOI LUT" in vol.metadata["window_explanation"]
    assert np.array_equal(vol.array, dicom.read(wheel_file("MR_small.dcm")).array)  # not applied


# ------------------------------------------------------------------ colour
def test_palette_colour_is_expanded():
    path = wheel_file("examples_palette.dcm")
    vol = dicom.read(path)
    from pydicom.pixels import apply_color_lut

    ds = pydicom.dcmread(path)
    assert vol.layout == "kjic" and vol.array.shape == (1, *ds.pixel_array.shape, 3)
    assert np.array_equal(vol.array[0], apply_color_lut(ds.pixel_array, ds))
    assert vol.metadata["converted_from"] == "PALETTE COLOR"


def test_ybr_colour_stays_colour_as_rgb():
    vol = dicom.read(wheel_file("SC_ybr_full_422_uncompressed.dcm"))
    rgb = dicom.read(wheel_file("SC_rgb_rle.dcm"))
    assert vol.layout == "kjic" and vol.metadata["colour_space"] == "RGB"
    assert np.abs(vol.array.astype(int) - rgb.array).mean() < 2.0


# ------------------------------------------------------------------ Philips scaling
def test_philips_enhanced_display_values_match_the_ground_truth():
    root = shared_data("dicom2nifti-cases", "philips_enhanced", "anatomical")
    vol = dicom.read(root / "001")
    data, affine = nifti_lps(root / "001_ground_truth.nii.gz")
    np.testing.assert_allclose(resample_to(vol, affine, data.shape), data, rtol=1e-6)
    floats = dicom.read(root / "001", philips_scaling="float")
    ds = pydicom.dcmread(next((root / "001").iterdir()))
    item = ds.PerFrameFunctionalGroupsSequence[0][0x2005, 0x140F][0]
    scale_slope = float(item[0x2005, 0x100E].value)
    expected = ds.pixel_array.astype(np.float64) / scale_slope  # FP = SV*RS / (RS*SS)
    order = np.argsort([float(f.PlanePositionSequence[0].ImagePositionPatient @ np.cross(
        *np.reshape(f.PlaneOrientationSequence[0].ImageOrientationPatient, (2, 3))))
        for f in ds.PerFrameFunctionalGroupsSequence])  # fmt: skip
    np.testing.assert_allclose(floats.array, expected[order], rtol=1e-5)


def test_philips_classic_private_scale_is_read_by_the_header_walker(tmp_path):
    ds = pydicom.dcmread(wheel_file("MR_small.dcm"))
    ds.Manufacturer = "Philips Medical Systems"
    ds.RescaleSlope, ds.RescaleIntercept = "2.0", "0"
    block = ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True)
    block.add_new(0x0E, "FL", 0.25)  # (2005,100E) scale slope
    block.add_new(0x0D, "FL", 0.0)
    ds.save_as(tmp_path / "philips.dcm")
    display = dicom.read(tmp_path / "philips.dcm")
    floats = dicom.read(tmp_path / "philips.dcm", philips_scaling="float")
    stored = pydicom.dcmread(tmp_path / "philips.dcm").pixel_array
    np.testing.assert_allclose(display.array[0], stored * 2.0)
    np.testing.assert_allclose(floats.array[0], stored / 0.25)


# ------------------------------------------------------------------ metadata of every image
def test_metadata_is_gathered_from_every_image(tmp_path):
    files = sorted(shared_data("chest-ct", "dicom").iterdir())[60:64]
    for n, src in enumerate(files):
        ds = pydicom.dcmread(src)
        ds.SliceThickness = "2.0" if n else "3.0"
        ds.WindowCenter, ds.WindowWidth = (40, 400) if n else (-600, 1500)
        if n == 3:
            ds.Manufacturer = "Other"
        ds.save_as(tmp_path / src.name)
    vol = dicom.read(tmp_path)
    assert sorted(vol.metadata["slice_thickness"]) == [2.0, 2.0, 2.0, 3.0]  # storage order
    assert (vol.metadata["window_center"], vol.metadata["window_width"]) == (40.0, 400.0)
    assert any("Manufacturer differs" in w for w in vol.warnings)
    assert vol.metadata["n_images"] == 4 and vol.metadata["n_files"] == 4


def test_series_copy_keeps_values(tmp_path):
    # Copies of one image with changed positions keep the stored values exactly.
    template = pydicom.dcmread(chest_slice())
    for k in range(3):
        ds = copy.deepcopy(template)
        ds.ImagePositionPatient = [*template.ImagePositionPatient[:2], 2.0 * k]
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(tmp_path / f"{k}.dcm")
    shutil.copyfile(tmp_path / "0.dcm", tmp_path / "dup.dcm")
    vol = dicom.read(tmp_path)
    assert vol.array.shape[0] == 3
    assert np.array_equal(vol.array[1], dicom.read(chest_slice()).array[0])
