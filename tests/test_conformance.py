"""One conformance suite over every reader (nibabel's ``EXAMPLE_IMAGES``, ``test_image_api``).

``EXAMPLES`` states, independently of medvis, what each file is (shape (i, j, k), frames, dtype
kind, index->world in LPS, spacing, min/max/mean); numbers copied from nibabel's test modules
cite the module. Every row is also compared voxel by voxel with the format's own library
(nibabel ``dataobj``, pydicom, pynrrd, SimpleITK, VTK) and checked for generic invariants.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from nibabel.testing import data_path as NIB_DATA
from pydicom.data import get_testdata_file
from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkIOXML import vtkXMLImageDataReader, vtkXMLImageDataWriter

import medvis
from medvis.errors import MedvisError
from tests._data import shared_data

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def lps(ras_affine) -> np.ndarray:
    """index->RAS (nibabel) to index->LPS (medvis): LPS = diag(-1, -1, 1, 1) @ RAS."""
    return RAS_TO_LPS @ np.asarray(ras_affine, float)


def m4(rows) -> np.ndarray:
    """3x4 rows -> 4x4 affine."""
    return np.vstack([np.asarray(rows, float), [0.0, 0.0, 0.0, 1.0]])


def affine_from(direction, spacing, origin) -> np.ndarray:
    """index->world 4x4 from its parts, computed here rather than by medvis."""
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(direction, float) * np.asarray(spacing, float)
    affine[:3, 3] = origin
    return affine


def vtk_direction(image) -> np.ndarray:
    matrix = image.GetDirectionMatrix()
    return np.array([[matrix.GetElement(r, c) for c in range(3)] for r in range(3)])


def nibdata(name: str) -> str:
    return os.path.join(NIB_DATA, name)


# Affine shared by the small MINC examples (nibabel/tests/test_minc1.py, test_minc2.py).
MINC_RAS = m4([[0, 0, 2.0, -20], [0, 2.0, 0, -20], [2.0, 0, 0, -10]])
# nibabel/tests/test_parrec.py: AN_OLD_AFFINE, "Affine as we determined it mid-2014".
PAR_RAS = m4(
    [
        [-3.64994708, 0.0, 1.83564171, 123.66276611],
        [0.0, -3.75, 0.0, 115.617],
        [0.86045705, 0.0, 7.78655376, -27.91161211],
    ]
)
# nibabel/cmdline/tests/test_utils.py (test_get_headers_diff): srow_x/y/z of example4d.nii.gz.
EX4D_RAS = m4(
    [
        [-2.0, 6.71471565e-19, 9.08102451e-18, 1.17855103e02],
        [-6.71471565e-19, 1.97371149e00, -3.55528235e-01, -3.57229424e01],
        [8.25548089e-18, 3.23207617e-01, 2.17108178e00, -7.24879837e00],
    ]
)

# Synthetic files (written in tmp by the format's own library): a known oblique LPS grid.
_AXIS = np.array([1.0, 2.0, 3.0]) / np.sqrt(14.0)
_K = np.array([[0, -_AXIS[2], _AXIS[1]], [_AXIS[2], 0, -_AXIS[0]], [-_AXIS[1], _AXIS[0], 0]])
ROT30 = np.eye(3) + np.sin(np.pi / 6) * _K + (1 - np.cos(np.pi / 6)) * _K @ _K
SYN_SPACING = np.array([0.7, 0.9, 1.3])
SYN_ORIGIN = np.array([-12.5, 30.25, 7.0])
SYN_LPS = affine_from(ROT30, SYN_SPACING, SYN_ORIGIN)
SYN_IJK = (np.random.default_rng(7).integers(-300, 900, size=(7, 6, 5))).astype(np.int16)
SYN_STATS = (float(SYN_IJK.min()), float(SYN_IJK.max()), float(SYN_IJK.mean()))
# nibabel/spm99analyze.py, get_origin_affine doctest: shape (3, 5, 7), zooms (3, 2, 1),
# SPM origin field [3, 4, 5] (1-based) -> this RAS affine (x flipped by default).
SPM_RAS = m4([[-3.0, 0, 0, 6.0], [0, 2.0, 0, -6.0], [0, 0, 1.0, -4.0]])
SPM_RAW = (np.arange(105, dtype=np.int16) - 20).reshape(3, 5, 7)
SPM_SLOPE, SPM_INTER = 0.5, 10.0

E = dict  # one table row

# fmt: off
EXAMPLES = [
    # --- MINC1: nibabel/tests/test_minc1.py EXAMPLE_IMAGES (stats "from SPM2" / mincstats).
    E(id="tiny.mnc", path=nibdata("tiny.mnc"), ref="nibabel", shape=(10, 20, 20), kinds="f",
      ras=MINC_RAS, spacing=(2, 2, 2), stats=(0.20784314, 0.74901961, 0.60602819)),
    E(id="minc1_1_scale.mnc", path=nibdata("minc1_1_scale.mnc"), ref="nibabel",
      shape=(10, 20, 20), kinds="f", ras=MINC_RAS, spacing=(2, 2, 2),
      stats=(0.2082842439, 0.2094327615, 0.2091292083)),
    # 4-D MINC stores time as its FIRST dimension (nibabel shape (2, 10, 20, 20)).
    E(id="minc1_4d.mnc", path=nibdata("minc1_4d.mnc"), ref="nibabel", time_first=True,
      shape=(10, 20, 20), frames=2, kinds="f", ras=MINC_RAS, spacing=(2, 2, 2),
      stats=(0.2078431373, 1.498039216, 0.9090422837)),
    E(id="minc1-no-att.mnc", path=nibdata("minc1-no-att.mnc"), ref="nibabel",
      shape=(10, 20, 20), kinds="f", ras=m4([[0, 0, 1.0, 0], [0, 1.0, 0, 0], [1.0, 0, 0, 0]]),
      spacing=(1, 1, 1), stats=(0.20784314, 0.74901961, 0.6061103)),
    # --- MINC2: nibabel/tests/test_minc2.py EXAMPLE_IMAGES (small.mnc is the MINC2 example).
    E(id="small.mnc", path=nibdata("small.mnc"), ref="nibabel", shape=(18, 28, 29), kinds="f",
      ras=m4([[0, 0, 7.0, -98], [0, 8.0, 0, -134], [9.0, 0, 0, -72]]), spacing=(9, 8, 7),
      stats=(0.1185331417, 92.87690699, 31.2127952)),
    E(id="minc2_1_scale.mnc", path=nibdata("minc2_1_scale.mnc"), ref="nibabel",
      shape=(10, 20, 20), kinds="f", ras=MINC_RAS, spacing=(2, 2, 2),
      stats=(0.2082842439, 0.2094327615, 0.2091292083)),
    E(id="minc2_4d.mnc", path=nibdata("minc2_4d.mnc"), ref="nibabel", time_first=True,
      shape=(10, 20, 20), frames=2, kinds="f", ras=MINC_RAS, spacing=(2, 2, 2),
      stats=(0.2078431373, 1.498039216, 0.9090422837)),
    E(id="minc2-no-att.mnc", path=nibdata("minc2-no-att.mnc"), ref="nibabel",
      shape=(10, 20, 20), kinds="f", ras=m4([[0, 0, 1.0, 0], [0, 1.0, 0, 0], [1.0, 0, 0, 0]]),
      spacing=(1, 1, 1), stats=(0.20784314, 0.74901961, 0.6061103)),
    E(id="minc2-4d-d.mnc", path=nibdata("minc2-4d-d.mnc"), ref="nibabel", time_first=True,
      shape=(16, 16, 16), frames=5, kinds="f",
      ras=m4([[1.0, 0, 0, -6.96], [0, 1.0, 0, -12.453], [0, 0, 1.0, -9.48]]),
      spacing=(1, 1, 1), stats=(0.0, 5.0, 2.00078125)),
    # --- PAR/REC: nibabel/tests/test_parrec.py EXAMPLE_IMAGES (zooms 3.75, 3.75, 8.0).
    E(id="phantom_EPI_asc_CLEAR_2_1.PAR", path=nibdata("phantom_EPI_asc_CLEAR_2_1.PAR"),
      ref="nibabel", shape=(64, 64, 9), frames=3, kinds="f", ras=PAR_RAS, atol=1e-6,
      spacing=(3.75, 3.75, 8.0), stats=(0.0, 2299.4110643863678, 194.95876256117265)),
    # Per-slice scaling, values checked as test_parrec.test_varying_scaling does; same scanner
    # geometry as the file above (measured, nibabel's tests do not list it).
    E(id="phantom_varscale.PAR", path=nibdata("phantom_varscale.PAR"), ref="parrec_raw",
      shape=(64, 64, 9), frames=3, kinds="f", ras=PAR_RAS, atol=1e-6, spacing=(3.75, 3.75, 8)),
    # --- NIfTI. dim/pixdim/srow from nibabel/cmdline/tests/test_utils.py and the nib-ls lines
    # of nibabel/tests/test_scripts.py; min/max/mean (which those modules give only as ranges,
    # e.g. "[46, 7.6e+02]") measured with nibabel 5.4.2, np.asanyarray(img.dataobj).
    E(id="example4d.nii.gz", path=nibdata("example4d.nii.gz"), ref="nibabel",
      shape=(128, 96, 24), frames=2, kinds="i", ras=EX4D_RAS, atol=1e-5,
      spacing=(2.0, 2.0, 2.2), stats=(0, 1162, 172.90811496310764)),
    E(id="example_nifti2.nii.gz", path=nibdata("example_nifti2.nii.gz"), ref="nibabel",
      shape=(32, 20, 12), frames=2, kinds="i", ras=EX4D_RAS, atol=1e-5,
      spacing=(2.0, 2.0, 2.2), stats=(46, 757, 450.963671875)),
    # test_processing.py: "functional.nii has a diagonal -4, 4 4 affine" (z zoom is in fact 8).
    E(id="functional.nii", path=nibdata("functional.nii"), ref="nibabel", shape=(17, 21, 3),
      frames=20, kinds="f", ras=m4([[-4.0, 0, 0, 32], [0, 4.0, 0, -40], [0, 0, 8.0, 0]]),
      spacing=(4, 4, 8), stats=(629.826171875, 5571.621858656406, 3637.408513675239)),
    # test_processing.py: "anatomical.nii has a diagonal -2, 2 2 affine"; big-endian int16.
    E(id="anatomical.nii", path=nibdata("anatomical.nii"), ref="nibabel", shape=(33, 41, 25),
      kinds="i", ras=m4([[-2.0, 0, 0, 32], [0, 2.0, 0, -40], [0, 0, 2.0, -16]]),
      spacing=(2, 2, 2), stats=(-610, 30393, 8401.066725794532)),
    # tests/data/gen_standard.py: uint8 mask 255 * (rand > 0.8), affine diag(1, 3, 2).
    E(id="standard.nii.gz", path=nibdata("standard.nii.gz"), ref="nibabel", shape=(4, 5, 7),
      kinds="u", ras=m4([[1.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 2.0, 0]]), spacing=(1, 3, 2),
      stats=(0, 255, 54.642857142857146)),
    E(id="nifti1-pair.hdr", make="nifti_pair", name="pair.hdr", ref="nibabel", shape=(7, 6, 5),
      kinds="i", lps=SYN_LPS, atol=1e-4, spacing=SYN_SPACING, stats=SYN_STATS),
    E(id="nifti1-pair.img", make="nifti_pair", name="pair.img", ref="nibabel", shape=(7, 6, 5),
      kinds="i", lps=SYN_LPS, atol=1e-4, spacing=SYN_SPACING, stats=SYN_STATS),
    # --- ANALYZE 7.5 with the SPM origin field and SPM2 scaling (analyze.hdr ships no .img).
    E(id="spm2-analyze.hdr", make="analyze", name="spm.hdr", ref="nibabel", shape=(3, 5, 7),
      kinds="f", ras=SPM_RAS, spacing=(3, 2, 1), stats=(0.0, 52.0, 26.0)),
    E(id="spm2-analyze.img", make="analyze", name="spm.img", ref="nibabel", shape=(3, 5, 7),
      kinds="f", ras=SPM_RAS, spacing=(3, 2, 1), stats=(0.0, 52.0, 26.0)),
    # --- NRRD written by pynrrd: RAS space (converted) and a detached .nhdr.
    E(id="ras-space.nrrd", make="nrrd_ras", name="ras.nrrd", ref="nrrd", shape=(7, 6, 5),
      kinds="i", lps=SYN_LPS, spacing=SYN_SPACING, stats=SYN_STATS),
    E(id="detached.nhdr", make="nhdr", name="detached.nhdr", ref="nrrd", shape=(7, 6, 5),
      kinds="i", lps=SYN_LPS, spacing=SYN_SPACING, stats=SYN_STATS),
    # --- MetaImage and VTK XML written by SimpleITK / VTK (both keep float64 geometry).
    E(id="sitk.mha", make="sitk", name="img.mha", ref="sitk", shape=(7, 6, 5), kinds="i",
      lps=SYN_LPS, spacing=SYN_SPACING, stats=SYN_STATS),
    E(id="sitk.mhd", make="sitk", name="img.mhd", ref="sitk", shape=(7, 6, 5), kinds="i",
      lps=SYN_LPS, spacing=SYN_SPACING, stats=SYN_STATS),
    E(id="vtk.vti", make="vti", name="img.vti", ref="vti", shape=(7, 6, 5), kinds="i",
      lps=SYN_LPS, spacing=SYN_SPACING, stats=SYN_STATS),
    # --- shared data (README of ../shared/data).
    E(id="FLAIR.nrrd", shared=("flair-oblique", "FLAIR.nrrd"), ref="nrrd",
      shape=(124, 160, 140), kinds="u"),
    E(id="FLAIR.nii.gz", shared=("flair-oblique", "FLAIR.nii.gz"), ref="nibabel",
      shape=(124, 160, 140), kinds="u"),
    E(id="pm-example.nrrd", shared=("oblique-mr", "pm-example.nrrd"), ref="nrrd",
      shape=(256, 256, 20), kinds="i"),
    # README: dcm2niix / SimpleITK geometry (LPS origin -250, -164, -164.5), HU -1024..2976.
    E(id="chest-ct-folder", shared=("chest-ct", "dicom"), ref="sitk_series", shape=(512, 512, 141),
      kinds="if", lps=m4([[0.976562, 0, 0, -250], [0, 0.976562, 0, -164], [0, 0, 2.0, -164.5]]),
      atol=1e-3, spacing=(0.976562, 0.976562, 2.0), minmax=(-1024, 2976)),
]
EXAMPLES += [
    E(id=name, shared=("nrrd-shapes", name), ref="nrrd", kinds="iu")
    for name in ("brain1_image.nrrd", "brain1_label.nrrd", "breast1_image.nrrd",
                 "breast1_label.nrrd", "prostate_phantom_subvolume.nrrd",
                 "prostate_phantom_subvolume-label.nrrd")
]
# pydicom's bundled files (only those in the wheel); geometry and values come from the tags.
EXAMPLES += [
    E(id=name, dicom=name, ref="dicom", kinds="if" if name.startswith("CT") else "i")
    for name in ("CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
                 "MR_small_expb.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                 "MR_small_jpeg_ls_lossless.dcm")
]
# fmt: on
IDS = [e["id"] for e in EXAMPLES]


# ------------------------------------------------------------------ file makers (tmp)
def _make(kind: str, folder: Path) -> None:
    ras = RAS_TO_LPS @ SYN_LPS  # the same physical grid expressed in RAS
    if kind == "nifti_pair":
        nib.save(nib.Nifti1Pair(SYN_IJK, ras), folder / "pair.hdr")
    elif kind == "analyze":
        hdr = nib.Spm2AnalyzeHeader()
        hdr.set_data_dtype(np.int16)
        hdr.set_data_shape(SPM_RAW.shape)
        hdr.set_zooms((3, 2, 1))
        hdr["origin"][:3] = [3, 4, 5]
        nib.Spm2AnalyzeImage(SPM_RAW, None, hdr).to_filename(folder / "spm.img")
        with open(folder / "spm.hdr", "rb") as fh:  # nibabel resets scaling on save: set it now
            hdr = nib.Spm2AnalyzeHeader.from_fileobj(fh)
        hdr["scl_slope"], hdr["scl_inter"] = SPM_SLOPE, SPM_INTER
        with open(folder / "spm.hdr", "r+b") as fh:
            hdr.write_to(fh)
    elif kind in ("nrrd_ras", "nhdr"):
        affine = ras if kind == "nrrd_ras" else SYN_LPS
        header = {
            "space": "right-anterior-superior" if kind == "nrrd_ras" else "left-posterior-superior",
            "space directions": affine[:3, :3].T,  # one row per axis
            "space origin": affine[:3, 3],
        }
        name = "ras.nrrd" if kind == "nrrd_ras" else "detached.nhdr"
        nrrd.write(str(folder / name), SYN_IJK, header, detached_header=kind == "nhdr")
    elif kind == "sitk":
        image = sitk.GetImageFromArray(np.ascontiguousarray(SYN_IJK.T))
        image.SetSpacing(SYN_SPACING.tolist())
        image.SetOrigin(SYN_ORIGIN.tolist())
        image.SetDirection(ROT30.ravel().tolist())
        for name in ("img.mha", "img.mhd"):
            sitk.WriteImage(image, str(folder / name))
    elif kind == "vti":
        image = vtkImageData()
        image.SetDimensions(*SYN_IJK.shape)
        image.SetSpacing(*SYN_SPACING)
        image.SetOrigin(*SYN_ORIGIN)
        image.SetDirectionMatrix(ROT30.ravel().tolist())
        image.GetPointData().SetScalars(numpy_to_vtk(SYN_IJK.ravel(order="F"), deep=True))
        writer = vtkXMLImageDataWriter()
        writer.SetFileName(str(folder / "img.vti"))
        writer.SetInputData(image)
        assert writer.Write() == 1


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    for kind in ("nifti_pair", "analyze", "nrrd_ras", "nhdr", "sitk", "vti"):
        _make(kind, folder)
    return folder


def _path(entry, synth) -> Path:
    if "make" in entry:
        return synth / entry["name"]
    if "shared" in entry:
        return shared_data(*entry["shared"])
    if "dicom" in entry:
        found = get_testdata_file(entry["dicom"], download=False)
        if found is None:
            pytest.skip(f"{entry['dicom']} is not bundled with pydicom (download-only)")
        return Path(found)
    return Path(entry["path"])


# ------------------------------------------------------------------ references
# Each returns (voxels indexed [i, j, k] or [i, j, k, t], index->LPS 4x4, columns to check).
def _ref_nibabel(path, entry):
    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj)
    if entry.get("time_first"):
        data = np.moveaxis(data, 0, -1)
    return data, lps(img.affine), [0, 1, 2, 3]


def _ref_parrec_raw(path, entry):
    # As test_parrec.test_varying_scaling: raw int16 REC slices * rescale slope + intercept.
    img = nib.load(str(path))
    defs = img.header.image_defs
    rec = Path(path).with_suffix(".REC")
    raw = np.fromfile(rec, "<i2").reshape((64, 64, -1), order="F").astype(np.float64)
    raw = raw * defs["rescale slope"] + defs["rescale intercept"]
    return raw.reshape(img.shape, order="F"), lps(img.affine), [0, 1, 2, 3]


def _ref_nrrd(path, entry):
    data, header = nrrd.read(str(path))  # index_order "F": data[i, j, k]
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(header["space directions"], float).T
    affine[:3, 3] = header["space origin"]
    if header["space"] in ("right-anterior-superior", "RAS"):
        affine = lps(affine)
    return data, affine, [0, 1, 2, 3]


def _sitk_arrays(image):
    direction = np.reshape(image.GetDirection(), (3, 3))
    affine = affine_from(direction, image.GetSpacing(), image.GetOrigin())
    return sitk.GetArrayFromImage(image).T, affine, [0, 1, 2, 3]


def _ref_sitk(path, entry):
    return _sitk_arrays(sitk.ReadImage(str(path)))


def _ref_sitk_series(path, entry):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path)))
    return _sitk_arrays(reader.Execute())


def _ref_vti(path, entry):
    reader = vtkXMLImageDataReader()
    reader.SetFileName(str(path))
    reader.Update()
    image = reader.GetOutput()
    ni, nj, nk = image.GetDimensions()
    data = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(nk, nj, ni).T
    affine = affine_from(vtk_direction(image), image.GetSpacing(), image.GetOrigin())
    return data, affine, [0, 1, 2, 3]


def _ref_dicom(path, entry):
    ds = pydicom.dcmread(path)
    slope = float(ds.get("RescaleSlope", 1.0))
    inter = float(ds.get("RescaleIntercept", 0.0))
    pixels = ds.pixel_array.astype(np.float64) * slope + inter  # [row, column] = [j, i]
    iop = np.asarray(ds.ImageOrientationPatient, float)
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)  # between rows, columns
    affine = np.eye(4)
    affine[:3, 0] = iop[:3] * col_spacing  # i runs along a row
    affine[:3, 1] = iop[3:] * row_spacing  # j runs down a column
    affine[:3, 2] = np.cross(iop[:3], iop[3:])  # one slice: only the direction is defined
    affine[:3, 3] = np.asarray(ds.ImagePositionPatient, float)
    return pixels.T[:, :, np.newaxis], affine, [0, 1, 3]


REFS = {name[5:]: fn for name, fn in list(globals().items()) if name.startswith("_ref_")}


@pytest.fixture(scope="module")
def cache():
    return {}


@pytest.fixture(params=EXAMPLES, ids=IDS)
def case(request, synth, cache):
    """(entry, path, load): ``load()`` reads the file once per module, inside the test."""
    entry = request.param
    path = _path(entry, synth)

    def load():
        if entry["id"] not in cache:
            cache[entry["id"]] = medvis.load(path)
        return cache[entry["id"]]

    return entry, path, load


def _expected_array(ijk):
    return ijk.T if ijk.ndim == 3 else ijk.transpose(3, 2, 1, 0)


def _columns_close(got, expected, columns, atol):
    for c in columns:
        np.testing.assert_allclose(
            got[:3, c], expected[:3, c], rtol=0, atol=atol, err_msg=f"index_to_world column {c}"
        )


# ------------------------------------------------------------------ the table
def test_table(case):
    entry, _, load = case
    vol = load()
    frames = entry.get("frames", 1)
    if "shape" in entry:
        assert vol.shape_ijk == entry["shape"]
    assert vol.layout == ("kji" if frames == 1 else "tkji")
    assert vol.n_frames == frames
    assert vol.dtype.kind in entry["kinds"], f"dtype {vol.dtype}, expected kind {entry['kinds']}"
    atol = entry.get("atol", 1e-9)
    expected = lps(entry["ras"]) if "ras" in entry else entry.get("lps")
    if expected is not None:
        _columns_close(vol.index_to_world, expected, range(4), atol)
    if "spacing" in entry:
        np.testing.assert_allclose(vol.spacing, entry["spacing"], rtol=0, atol=max(atol, 1e-5))
    values = vol.array.astype(np.float64)
    if "stats" in entry:  # as nibabel.testing.assert_data_similar: np.allclose defaults
        got = (values.min(), values.max(), values.mean())
        assert np.allclose(got, entry["stats"]), f"min/max/mean {got} != {entry['stats']}"
    if "minmax" in entry:
        assert (values.min(), values.max()) == entry["minmax"]


def test_matches_format_library(case):
    entry, path, load = case
    vol = load()
    ijk, affine, columns = REFS[entry["ref"]](path, entry)
    expected = _expected_array(np.asarray(ijk))
    assert vol.array.shape == expected.shape
    if entry["ref"] in ("nibabel", "nrrd", "sitk", "vti") and expected.dtype.kind in "iu":
        assert vol.dtype == expected.dtype.newbyteorder("="), "unscaled integers must keep dtype"
    if expected.dtype.kind in "iu" and vol.dtype.kind in "iu":
        np.testing.assert_array_equal(vol.array, expected)
    else:  # medvis may scale in float32 where nibabel uses float64
        scale = float(np.abs(expected).max()) or 1.0
        np.testing.assert_allclose(vol.array, expected, rtol=1e-6, atol=1e-6 * scale)
    _columns_close(vol.index_to_world, affine, columns, 1e-6)
    if columns == [0, 1, 3]:  # a single DICOM slice: k must still follow the slice normal
        np.testing.assert_allclose(vol.direction[:, 2], affine[:3, 2], atol=1e-6)
    # Letters name physical directions, so nibabel's RAS-world codes must match medvis's.
    assert vol.axis_codes == "".join(nib.aff2axcodes(RAS_TO_LPS @ affine))


# ------------------------------------------------------------------ generic invariants
def test_invariants(case):
    _, path, load = case
    vol = load()
    arr = vol.array
    assert arr.flags.c_contiguous
    assert arr.dtype.isnative, f"non-native byte order {arr.dtype} cannot be shared with VTK"
    ni, nj, nk = vol.shape_ijk
    lead = (vol.n_frames,) if vol.layout == "tkji" else ()
    tail = (vol.n_components,) if vol.layout == "kjic" else ()
    assert arr.shape == (*lead, nk, nj, ni, *tail)
    assert np.all(vol.spacing > 0)
    np.testing.assert_allclose(np.linalg.norm(vol.direction, axis=0), 1.0, atol=1e-9)
    affine = affine_from(vol.direction, vol.spacing, vol.origin)
    np.testing.assert_allclose(vol.index_to_world, affine, rtol=0, atol=1e-12)
    corners = np.array([[0, 0, 0], [ni - 1, 0, 0], [0, nj - 1, nk - 1], [ni - 1, nj - 1, nk - 1]])
    homogeneous = np.c_[corners, np.ones(len(corners))] @ affine.T
    np.testing.assert_allclose(vol.index_to_world_points(corners), homogeneous[:, :3], atol=1e-9)
    np.testing.assert_allclose(vol.world_to_index_points(homogeneous[:, :3]), corners, atol=1e-6)
    assert len(vol.axis_codes) == 3 and set(vol.axis_codes) <= set("LRPAIS")
    assert isinstance(vol.metadata["format"], str) and vol.metadata["format"].strip()
    if vol.layout == "tkji":  # a frame is a view on the series, with the same geometry
        last = vol.frame(vol.n_frames - 1)
        assert last.layout == "kji" and np.shares_memory(last.array, vol.array)
        np.testing.assert_array_equal(last.array, vol.array[-1])
        np.testing.assert_array_equal(last.index_to_world, vol.index_to_world)
        np.testing.assert_array_equal(medvis.load(path, frame=1).array, vol.array[1])
    again = medvis.load(path)
    assert again.dtype == vol.dtype and again.layout == vol.layout
    np.testing.assert_array_equal(again.array, vol.array)
    np.testing.assert_array_equal(again.index_to_world, vol.index_to_world)
    assert again.metadata["format"] == vol.metadata["format"]


def test_to_vtk_shares_memory(case):
    _, _, load = case
    vol = load()
    frames = [0] if vol.layout == "kji" else [0, vol.n_frames - 1]
    for frame in frames:
        image = vol.to_vtk(frame=frame)
        target = vol.array if vol.layout == "kji" else vol.array[frame]
        scalars = vtk_to_numpy(image.GetPointData().GetScalars())
        assert np.shares_memory(scalars, target), f"frame {frame} was copied"
        assert tuple(image.GetDimensions()) == vol.shape_ijk
        np.testing.assert_array_equal(scalars.reshape(target.shape), target)
        np.testing.assert_allclose(image.GetOrigin(), vol.origin, rtol=0, atol=1e-12)
        np.testing.assert_allclose(image.GetSpacing(), vol.spacing, rtol=0, atol=1e-12)
        np.testing.assert_allclose(vtk_direction(image), vol.direction, rtol=0, atol=1e-12)


# ------------------------------------------------------------------ cross-file ground truth
def test_truncated_parrec_is_refused_or_warned():
    path = nibdata("phantom_truncated.PAR")
    try:
        vol = medvis.load(path)
    except MedvisError as exc:
        assert "phantom_truncated" in str(exc)
    else:  # reading what is there is acceptable only when the user is told
        assert vol.warnings, "truncated PAR/REC loaded silently"


def test_flair_nrrd_and_nifti_agree():
    # README: identical voxels; the NIfTI sform equals the LPS->RAS conversion of the NRRD.
    a = medvis.load(shared_data("flair-oblique", "FLAIR.nrrd"))
    b = medvis.load(shared_data("flair-oblique", "FLAIR.nii.gz"))
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_allclose(a.index_to_world, b.index_to_world, atol=1e-4)


def test_oblique_dicom_series_matches_its_nrrd():
    # README: same origin (LPS -90.0225, -108.462, -43.9748), directions within 1e-4,
    # identical voxels.
    dcm = medvis.load(shared_data("oblique-mr", "701-ADCb500"))
    ref = medvis.load(shared_data("oblique-mr", "pm-example.nrrd"))
    assert dcm.shape_ijk == ref.shape_ijk == (256, 256, 20)
    np.testing.assert_allclose(dcm.origin, [-90.0225, -108.462, -43.9748], atol=1e-3)
    np.testing.assert_allclose(dcm.origin, ref.origin, atol=1e-3)
    np.testing.assert_allclose(dcm.direction, ref.direction, atol=1e-4)
    np.testing.assert_allclose(dcm.spacing, ref.spacing, atol=1e-3)
    np.testing.assert_array_equal(dcm.array.astype(np.float64), ref.array.astype(np.float64))


def test_dicom_series_share_grids_with_their_segmentations():
    # README: the 3 CT slices and the label NRRDs share origin, spacing and directions;
    # liver 107,098 voxels, heart 41,449, spine 12,439.
    ct = medvis.load(shared_data("ct-3slice-seg"))
    for name, count in (("liver", 107_098), ("heart", 41_449), ("spine", 12_439)):
        label = medvis.load(shared_data("ct-3slice-seg", f"{name}_seg.nrrd"))
        np.testing.assert_allclose(label.index_to_world, ct.index_to_world, atol=1e-5)
        assert np.count_nonzero(label.array) == count
    # README: a TotalSegmentator segmentation stored LAS on the JPEG 2000 series' grid.
    # Sampled through world space, liver (5) and spleen (1) must hold soft tissue (HU).
    ct = medvis.load(shared_data("ct-jpeg2000", "dicom"))
    seg = medvis.load(shared_data("ct-jpeg2000", "example_seg_dicom.nii.gz"))
    assert seg.axis_codes == "LAS" and ct.axis_codes == "LPS"
    for label in (5, 1):
        kji = np.argwhere(seg.array == label)[::50]
        world = seg.index_to_world_points(kji[:, ::-1])
        ijk = np.rint(ct.world_to_index_points(world)).astype(int)
        hu = ct.array[ijk[:, 2], ijk[:, 1], ijk[:, 0]].astype(np.float64)
        assert 40 < hu.mean() < 130, f"label {label}: mean {hu.mean():.0f} HU, not soft tissue"


@pytest.mark.parametrize("name", ["analyze.hdr", "nifti1.hdr", "nifti2.hdr"])
def test_header_without_image_is_a_missing_file(name):
    # nibabel ships these headers without their .img: the error must name the missing half.
    with pytest.raises(FileNotFoundError) as info:
        medvis.load(nibdata(name))
    assert isinstance(info.value, MedvisError)
    assert name.replace(".hdr", ".img") in str(info.value)


@pytest.mark.parametrize(("subject", "mm3"), [("brain1", 16412.66), ("breast1", 132.43)])
def test_label_voxel_volume_matches_pyradiomics(subject, mm3):
    # README / pyradiomics_baseline_shape.csv: VoxelVolume of label 1, in mm^3.
    vol = medvis.load(shared_data("nrrd-shapes", f"{subject}_label.nrrd"))
    assert np.count_nonzero(vol.array == 1) * np.prod(vol.spacing) == pytest.approx(mm3, abs=0.01)
