"""Synthetic CT data for the read benchmarks, generated once into a cache folder.

One CT-like phantom (air, a body ellipse with a fat rim, two lungs, a spine, an aorta,
and smoothed noise) is written four ways:

* ``dicom/``: one explicit-VR-little-endian CT file per slice with random file names
  (not in slice order), 12-bit unsigned stored values, rescale intercept -1024;
* ``nifti-gz/ct.nii.gz``: NIfTI-1 written by nibabel at its default gzip level;
* ``nifti-raw/ct.nii``: the same, uncompressed;
* ``nrrd-raw/ct.nrrd``: NRRD with raw encoding, written by pynrrd.

All four hold the same voxels, ``hu`` (int16 Hounsfield units, C order ``(k, j, i)``),
with the same LPS geometry (:data:`SPACING`, :data:`DIRECTION` and :func:`origin`).
The cache lives in ``<cache>/v<DATA_VERSION>_<k>x<j>x<i>/``, each dataset in a folder of
its own (see :class:`Dataset`); every dataset is written
to a temporary name and renamed when complete, so an interrupted run never leaves a
half-written dataset behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pragma: no cover - for annotations only
    from pydicom.uid import UID

__all__ = [
    "DATASETS",
    "DATA_VERSION",
    "DIRECTION",
    "SPACING",
    "DataCache",
    "Dataset",
    "iter_chunks",
    "origin",
    "phantom",
    "phantom_slice",
]

#: Bump when the phantom or any writer changes, so stale caches are not reused.
DATA_VERSION = 2

#: Voxel size along i, j, k in millimetres (a 380 mm field of view over 512 columns).
SPACING = (380.0 / 512, 380.0 / 512, 1.0)

#: Columns are the LPS directions of the i, j and k axes (axial, head-first supine).
DIRECTION = np.eye(3)

#: Stored value = HU - RESCALE_INTERCEPT (DICOM only; the other formats hold HU).
RESCALE_INTERCEPT = -1024

_SEED = 20240611
_BITS_STORED = 12


def origin(shape: tuple[int, int, int]) -> NDArray[np.float64]:
    """LPS position (mm) of the centre of voxel (0, 0, 0) for a volume of ``shape`` (k, j, i).

    The in-plane centre of the image sits on the scanner axis; slice 0 is the most
    inferior one.
    """
    _, nj, ni = shape
    return np.array([-(ni - 1) / 2 * SPACING[0], -(nj - 1) / 2 * SPACING[1], -150.0])


def _ellipse(
    yy: NDArray[np.float64],
    xx: NDArray[np.float64],
    cy: float,
    cx: float,
    ry: float,
    rx: float,
) -> NDArray[np.bool_]:
    """Pixels inside the ellipse of centre (cy, cx) and semi-axes (ry, rx), in pixels."""
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def phantom_slice(k: int, nk: int, nj: int, ni: int, seed: int = _SEED) -> NDArray[np.int16]:
    """Slice ``k`` of the CT phantom in Hounsfield units, shape ``(nj, ni)``.

    The anatomy changes smoothly with ``k`` (the lungs fill the upper 60 % of the
    volume and shrink towards its base). Each slice draws its noise from its own
    generator, so any slice can be made alone and the result does not depend on the
    order slices are made in.

    Parameters
    ----------
    k : int
        Slice index, 0 being the most inferior slice.
    nk, nj, ni : int
        Volume size (slices, rows, columns).
    seed : int
        Seed of the noise.

    Returns
    -------
    ndarray of int16
        Values between -1024 and 3071 HU (what 12 stored bits with intercept -1024 hold).
    """
    t = k / max(nk - 1, 1)  # 0 at the base, 1 at the top
    scale_y, scale_x = nj / 512.0, ni / 512.0
    yy, xx = np.mgrid[0:nj, 0:ni].astype(np.float64)
    cy, cx = nj / 2.0, ni / 2.0

    img = np.full((nj, ni), -1000.0, dtype=np.float32)  # air inside the field of view
    # The body: an ellipse whose width breathes slowly along z, with a fat rim.
    body_rx = (200.0 + 12.0 * np.sin(2.2 * np.pi * t)) * scale_x
    body_ry = (140.0 + 8.0 * np.cos(1.7 * np.pi * t)) * scale_y
    img[_ellipse(yy, xx, cy + 10 * scale_y, cx, body_ry, body_rx)] = -100.0  # fat
    img[_ellipse(yy, xx, cy + 10 * scale_y, cx, body_ry - 12 * scale_y, body_rx - 12 * scale_x)] = (
        40.0  # muscle / soft tissue
    )
    # Lungs in the upper part of the volume, growing towards the top.
    lung = np.clip((t - 0.4) / 0.6, 0.0, 1.0)
    if lung > 0.0:
        grow = np.sqrt(lung)
        for side in (-1.0, 1.0):
            img[
                _ellipse(
                    yy,
                    xx,
                    cy - 5 * scale_y,
                    cx + side * 75 * scale_x,
                    (20 + 70 * grow) * scale_y,
                    (15 + 45 * grow) * scale_x,
                )
            ] = -800.0
        img[_ellipse(yy, xx, cy - 15 * scale_y, cx + 15 * scale_x, 45 * scale_y, 40 * scale_x)] = (
            35.0  # heart / mediastinum
        )
    else:  # abdomen: a liver-like organ instead
        img[_ellipse(yy, xx, cy, cx - 60 * scale_x, 70 * scale_y, 60 * scale_x)] = 60.0
    # Aorta with contrast, spine (cancellous core in a cortical ring).
    img[_ellipse(yy, xx, cy + 55 * scale_y, cx + 10 * scale_x, 11 * scale_y, 11 * scale_x)] = 250.0
    spine_y, spine_x = cy + 90 * scale_y, cx
    img[_ellipse(yy, xx, spine_y, spine_x, 24 * scale_y, 22 * scale_x)] = 1100.0
    img[_ellipse(yy, xx, spine_y, spine_x, 19 * scale_y, 17 * scale_x)] = 250.0

    # Noise, smoothed with a [1 2 1] kernel along rows and columns as CT noise is
    # correlated; it makes the data compress like a real scan (neither like a
    # cartoon nor like white noise).
    rng = np.random.default_rng([seed, k])
    noise = rng.standard_normal((nj, ni), dtype=np.float32) * np.float32(40.0)
    noise[1:-1, :] = 0.25 * noise[:-2, :] + 0.5 * noise[1:-1, :] + 0.25 * noise[2:, :]
    noise[:, 1:-1] = 0.25 * noise[:, :-2] + 0.5 * noise[:, 1:-1] + 0.25 * noise[:, 2:]
    img += noise

    # Outside the reconstruction circle: the lowest storable value, as scanners do.
    fov = _ellipse(yy, xx, cy, cx, nj / 2.0, ni / 2.0)
    img[~fov] = RESCALE_INTERCEPT
    low, high = RESCALE_INTERCEPT, RESCALE_INTERCEPT + 2**_BITS_STORED - 1
    return np.clip(np.rint(img), low, high).astype(np.int16)


def phantom(shape: tuple[int, int, int], seed: int = _SEED) -> NDArray[np.int16]:
    """The whole phantom in Hounsfield units, int16, C order ``(k, j, i)``."""
    nk, nj, ni = shape
    vol = np.empty(shape, dtype=np.int16)
    for k in range(nk):
        vol[k] = phantom_slice(k, nk, nj, ni, seed)
    return vol


# --------------------------------------------------------------------------- writers
def _nifti_affine(shape: tuple[int, int, int]) -> NDArray[np.float64]:
    """NIfTI (RAS) affine of the phantom geometry."""
    affine = np.eye(4)
    affine[:3, :3] = DIRECTION * np.asarray(SPACING)
    affine[:3, 3] = origin(shape)
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine  # LPS -> RAS


def _write_nifti(hu: NDArray[np.int16], path: Path) -> None:
    import nibabel as nib

    # nibabel indexes (i, j, k); the transpose is a Fortran-ordered view, so the bytes
    # on disk are those of ``hu`` in C order.
    img = nib.Nifti1Image(hu.T, _nifti_affine(hu.shape))
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    nib.save(img, str(path))


def _write_nrrd(hu: NDArray[np.int16], path: Path) -> None:
    import nrrd

    header = {
        "encoding": "raw",
        "endian": "little",
        "space": "left-posterior-superior",
        "space directions": (DIRECTION * np.asarray(SPACING)).T,  # one row per axis
        "space origin": origin(hu.shape),
        "kinds": ["domain", "domain", "domain"],
    }
    nrrd.write(str(path), hu.T, header, index_order="F")


def _uid(rng: np.random.Generator) -> UID:
    """A random UID under the "2.25." (UUID-derived) root."""
    from pydicom.uid import UID

    return UID("2.25." + str(int.from_bytes(rng.bytes(16), "big")))


def new_image_dataset(sop_class_uid: str, sop_instance_uid: str) -> Any:
    """An explicit-VR little-endian image dataset with its file meta and SOP identity set."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    return ds


def _write_dicom(hu: NDArray[np.int16], folder: Path) -> None:
    from pydicom.uid import CTImageStorage

    nk, nj, ni = hu.shape
    rng = np.random.default_rng([_SEED, 1])
    study_uid, series_uid, frame_uid = _uid(rng), _uid(rng), _uid(rng)
    names: set[str] = set()
    while len(names) < nk:
        names.add(rng.bytes(4).hex().upper())
    file_names = sorted(names)
    rng.shuffle(file_names)  # the names say nothing about the slice order
    order = rng.permutation(nk)  # and the files are written in random order too
    org = origin(hu.shape)
    for k in (int(x) for x in order):
        ds = new_image_dataset(CTImageStorage, _uid(rng))
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240611"
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
        ds.AccessionNumber = "BENCH0001"
        ds.Modality = "CT"
        ds.Manufacturer = "medvis benchmark"
        ds.InstitutionName = "Synthetic"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = "CT CHEST ABDOMEN"
        ds.SeriesDescription = "Phantom 1.0 B30f"
        ds.PatientName = "Phantom^Bench"
        ds.PatientID = "BENCH-0001"
        ds.PatientBirthDate = "19700101"
        ds.PatientSex = "O"
        ds.BodyPartExamined = "CHEST"
        ds.SliceThickness = f"{SPACING[2]:g}"
        ds.KVP = "120"
        ds.ConvolutionKernel = "B30f"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = 2
        # Instance 1 is the most superior slice, as many scanners number them.
        ds.InstanceNumber = nk - k
        position = org + DIRECTION[:, 2] * SPACING[2] * k
        ds.ImagePositionPatient = [f"{v:.6g}" for v in position]
        ds.ImageOrientationPatient = [f"{v:g}" for v in (*DIRECTION[:, 0], *DIRECTION[:, 1])]
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = f"{position[2]:.6g}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = nj
        ds.Columns = ni
        ds.PixelSpacing = [f"{SPACING[1]:.10g}", f"{SPACING[0]:.10g}"]  # row, column
        ds.BitsAllocated = 16
        ds.BitsStored = _BITS_STORED
        ds.HighBit = _BITS_STORED - 1
        ds.PixelRepresentation = 0
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.RescaleIntercept = str(RESCALE_INTERCEPT)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        stored = (hu[k].astype(np.int32) - RESCALE_INTERCEPT).astype("<u2")
        ds.PixelData = stored.tobytes()
        ds.save_as(folder / file_names[k], enforce_file_format=True)


# --------------------------------------------------------------------------- cache
@dataclass(frozen=True)
class Dataset:
    """One benchmark input: a file or folder in the cache, and how to write it.

    Every file lives in a folder of its own: ITK's NIfTI reader, asked for
    ``ct.nii.gz``, silently reads ``ct.nii`` instead when both sit side by side.
    """

    name: str
    write: Callable[[NDArray[np.int16], Path], None]
    is_folder: bool = False


#: The datasets, by key.
DATASETS: dict[str, Dataset] = {
    "dicom": Dataset("dicom", _write_dicom, is_folder=True),
    "nifti-gz": Dataset("nifti-gz/ct.nii.gz", _write_nifti),
    "nifti-raw": Dataset("nifti-raw/ct.nii", _write_nifti),
    "nrrd-raw": Dataset("nrrd-raw/ct.nrrd", _write_nrrd),
}


class DataCache:
    """The cache folder of one phantom size; makes each dataset on first use.

    Parameters
    ----------
    root : path-like
        The cache folder (e.g. ``benchmarks/_cache``).
    shape : tuple of int
        Phantom size ``(k, j, i)``.
    log : callable
        Receives one line per dataset written.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        shape: tuple[int, int, int],
        log: Callable[[str], None] = print,
    ) -> None:
        self.shape = shape
        self.folder = Path(root) / f"v{DATA_VERSION}_{'x'.join(map(str, shape))}"
        self._log = log
        self._hu: NDArray[np.int16] | None = None

    def hu(self) -> NDArray[np.int16]:
        """The phantom in HU, made on first call (a few seconds) and kept in memory."""
        if self._hu is None:
            self._hu = phantom(self.shape)
        return self._hu

    def path(self, key: str) -> Path:
        """Where dataset ``key`` lives (whether or not it exists yet)."""
        return self.folder / DATASETS[key].name

    def ensure(self, key: str, regenerate: bool = False) -> Path:
        """The path of dataset ``key``, writing it first when it is missing.

        Parameters
        ----------
        key : str
            One of :data:`DATASETS`.
        regenerate : bool
            Write it again even when it exists.
        """
        spec = DATASETS[key]
        target = self.path(key)
        if target.exists() and not regenerate:
            return target
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_manifest()
        self._log(f"generating {target} ...")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            if spec.is_folder:
                spec.write(self.hu(), tmp)
                made = tmp
            else:
                made = tmp / target.name
                spec.write(self.hu(), made)
            _remove(target)
            os.replace(made, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        return target

    def files(self, key: str) -> list[Path]:
        """The files making up dataset ``key``."""
        target = self.path(key)
        return sorted(p for p in target.iterdir()) if target.is_dir() else [target]

    def nbytes(self, key: str) -> int:
        """Size of dataset ``key`` on disk, in bytes."""
        return sum(p.stat().st_size for p in self.files(key))

    def _write_manifest(self) -> None:
        manifest = {
            "data_version": DATA_VERSION,
            "shape_kji": list(self.shape),
            "spacing_ijk": list(SPACING),
            "origin_lps": origin(self.shape).tolist(),
            "direction": DIRECTION.tolist(),
            "datasets": {k: d.name for k, d in DATASETS.items()},
        }
        (self.folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def iter_chunks(path: Path, size: int = 1 << 24) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks of ``size`` (used to warm the page cache)."""
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk
