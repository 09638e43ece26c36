"""Every transfer syntax pydicom's wheel has a file for, decoded through medvis.

Lossless encodings of the same image (pydicom ships such families) must give
bit-identical voxels; lossy ones are compared with pydicom's own decoding and with
their lossless twin within the codec's error. Two damaged files are handled on purpose
(see :mod:`medvis.io.dicom_decode`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest

from medvis.errors import CorruptFileError, DecoderMissingError
from medvis.io import dicom
from tests.test_dicom import wheel_file

# One file per transfer syntax (the UID is checked, so the table cannot drift).
TRANSFER_SYNTAXES = [
    ("MR_small_implicit.dcm", "1.2.840.10008.1.2"),
    ("MR_small.dcm", "1.2.840.10008.1.2.1"),
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99"),
    ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2"),
    ("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50"),
    ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51"),
    ("SC_rgb_jpeg_gdcm.dcm", "1.2.840.10008.1.2.4.70"),
    ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),
    ("JPEGLSNearLossless_16.dcm", "1.2.840.10008.1.2.4.81"),
    ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90"),
    ("693_J2KI.dcm", "1.2.840.10008.1.2.4.91"),
    ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5"),
]

# Lossless families: every member decodes to the first one's voxels.
FAMILIES = {
    "MR_small": ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
                 "MR_small_expb.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                 "MR_small_jpeg_ls_lossless.dcm", "MR_small_padded.dcm"],
    "rtdose": ["rtdose.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm"],
    "rtdose_1frame": ["rtdose_1frame.dcm", "rtdose_expb_1frame.dcm", "rtdose_rle_1frame.dcm"],
    "liver": ["liver_1frame.dcm", "liver_expb_1frame.dcm"],
    "SC_rgb": ["SC_rgb_rle.dcm", "SC_rgb_jpeg_gdcm.dcm", "SC_rgb_gdcm_KY.dcm"],
    "SC_rgb_small_odd": ["SC_rgb_small_odd.dcm", "SC_rgb_small_odd_big_endian.dcm"],
}  # fmt: skip


def pydicom_values(path) -> np.ndarray:
    """pydicom's pixel_array with the rescale applied, frames first."""
    ds = pydicom.dcmread(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames == 1:
        arr = arr[np.newaxis]
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    return arr * slope + intercept if (slope, intercept) != (1, 0) else arr


@pytest.mark.parametrize(("name", "uid"), TRANSFER_SYNTAXES, ids=[t[1] for t in TRANSFER_SYNTAXES])
def test_every_transfer_syntax_decodes_like_pydicom(name, uid):
    path = wheel_file(name)
    assert pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == uid
    vol = dicom.read(path, padding="keep")  # 693_J2KI has a Pixel Padding Value
    assert vol.metadata["transfer_syntax"].endswith(f"({uid})")
    assert vol.dtype.isnative
    expected = pydicom_values(path)
    assert vol.array.shape == expected.shape
    assert np.array_equal(vol.array, expected)


@pytest.mark.parametrize("family", FAMILIES)
def test_lossless_encodings_are_bit_identical(family):
    names = FAMILIES[family]
    reference = dicom.read(wheel_file(names[0]))
    for name in names[1:]:
        vol = dicom.read(wheel_file(name))
        assert vol.dtype == reference.dtype, name
        assert vol.layout == reference.layout, name
        assert np.array_equal(vol.array, reference.array), name
        np.testing.assert_allclose(vol.index_to_world, reference.index_to_world, atol=1e-6)


def test_lossy_encodings_stay_close_to_their_lossless_twin():
    lossless = dicom.read(wheel_file("SC_rgb_rle.dcm")).array.astype(int)
    near = {"SC_rgb_jls_lossy_line.dcm": 2, "SC_rgb_jls_lossy_sample.dcm": 2}  # NEAR = 2
    for name, bound in near.items():
        assert np.abs(dicom.read(wheel_file(name)).array - lossless).max() <= bound
    for name in ("SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_dcmtk_+eb+cr.dcm", "SC_rgb_dcmtk_+eb+cy+s4.dcm"):
        vol = dicom.read(wheel_file(name))
        assert vol.layout == "kjic"
        assert np.abs(vol.array - lossless).mean() < 1.0  # JPEG baseline, quality ~ 90


def test_jpeg_with_a_bad_scan_header_is_repaired():
    # JPEG-lossy.dcm differs from JPGExtended.dcm in one byte: the SOS segment's spectral
    # selection end (0 instead of 63, which sequential JPEG requires; libjpeg refuses it).
    broken, fixed = wheel_file("JPEG-lossy.dcm"), wheel_file("JPGExtended.dcm")
    a, b = (pydicom.dcmread(p).PixelData for p in (broken, fixed))
    assert [n for n in range(len(a)) if a[n] != b[n]] == [181]
    vol = dicom.read(broken)
    assert np.array_equal(vol.array, dicom.read(fixed).array)
    assert any("spectral selection end" in w for w in vol.warnings)


def test_damaged_jpeg2000_header_is_explained():
    # The file carries the bytes FE FF DD E0 (a sequence delimiter) inside its SIZ
    # segment, a test of DICOM parsers: its codestream declares 3,722,445,056 columns.
    with pytest.raises(CorruptFileError, match=r"SIZ marker declares 3722445056 x 1024.* 256 x"):
        dicom.read(wheel_file("JPEG2000-embedded-sequence-delimiter.dcm"))


@pytest.mark.parametrize(
    ("name", "package"),
    [("SC_rgb_jpeg_dcmtk.dcm", "pylibjpeg-libjpeg"), ("693_J2KI.dcm", "pylibjpeg-openjpeg"),
     ("JPEGLSNearLossless_16.dcm", "pylibjpeg-libjpeg")],
)  # fmt: skip
def test_missing_decoder_names_the_package_to_install(monkeypatch, name, package):
    from pydicom.pixels.decoders.base import Decoder

    monkeypatch.setattr(Decoder, "is_available", property(lambda self: False))
    with pytest.raises(DecoderMissingError, match=f"pip install pylibjpeg {package}"):
        dicom.read(wheel_file(name))


def test_shared_compressed_series_match_the_uncompressed_ground_truth_geometry():
    from tests._data import shared_data

    root = shared_data("dicom2nifti-cases", "generic")
    rle = dicom.read(root / "compressed_rle" / "001")
    for variant in ("compressed_jpeg", "compressed_jpegls", "compressed_j2k"):
        vol = dicom.read(root / variant / "001")
        assert np.array_equal(vol.array, rle.array), variant
        np.testing.assert_array_equal(vol.index_to_world, rle.index_to_world)
