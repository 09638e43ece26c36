"""The benchmarks: what medvis is compared with, and the target ratio for each.

Each benchmark names a dataset of :mod:`datagen`, the medvis call, one peer (the
ratio medvis/peer is checked against the target) and some contenders timed for
information only. Every contender returns ``(keep, array)`` for :mod:`harness`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from harness import Contender, Reading, Role

__all__ = ["BENCHMARKS", "Benchmark", "Inputs", "medvis_reader"]


@dataclass(frozen=True)
class Inputs:
    """What the contenders of one benchmark read.

    Attributes
    ----------
    path : Path
        The file, or the DICOM folder.
    shape : tuple of int
        Volume size ``(k, j, i)``.
    files : list of Path
        Every file of the dataset (one for single-file formats).
    """

    path: Path
    shape: tuple[int, int, int]
    files: list[Path]

    @property
    def voxel_bytes(self) -> int:
        """Size of the int16 voxel array in bytes."""
        return int(np.prod(self.shape)) * 2


@dataclass(frozen=True)
class Benchmark:
    """One comparison.

    Attributes
    ----------
    name : str
        Name used by ``--only`` and in the report.
    title : str
        One-line description.
    dataset : str
        Key of :data:`datagen.DATASETS`.
    module : str
        The medvis module holding the reader (to tell "not written yet" from a bug).
    target : float
        The highest acceptable ratio of medians medvis/peer.
    peer : callable
        ``peer(inputs) -> Contender`` (role "peer").
    info : tuple of callables
        ``f(inputs) -> Contender`` timed for information (role "info").
    """

    name: str
    title: str
    dataset: str
    module: str
    target: float
    peer: Callable[[Inputs], Contender]
    info: tuple[Callable[[Inputs], Contender], ...] = ()

    def contenders(self, inputs: Inputs) -> list[Contender]:
        """medvis, the peer, then the information contenders, in their running order."""
        return [
            medvis_reader(inputs),
            self.peer(inputs),
            *(make(inputs) for make in self.info),
        ]


# ------------------------------------------------------------------------ contenders
def medvis_reader(inputs: Inputs) -> Contender:
    """``medvis.load(path)``; the Volume is kept alive with its array."""

    def read() -> Reading:
        import medvis

        vol = medvis.load(inputs.path)
        return vol, vol.array

    return Contender("medvis.load", read, role="medvis")


def _sitk_series(inputs: Inputs) -> Contender:
    """What a SimpleITK user writes to read a DICOM folder (file discovery included)."""

    def read() -> Reading:
        import SimpleITK as sitk

        reader = sitk.ImageSeriesReader()
        names = reader.GetGDCMSeriesFileNames(str(inputs.path))
        reader.SetFileNames(names)
        img = reader.Execute()
        return img, sitk.GetArrayViewFromImage(img)

    return Contender("SimpleITK ImageSeriesReader", read, role="peer")


def _pydicom_stack(inputs: Inputs) -> Contender:
    """Plain pydicom: read every file, sort by position along the normal, stack, rescale."""
    files = list(inputs.files)

    def read() -> Reading:
        import pydicom

        datasets = [pydicom.dcmread(f) for f in files]
        iop = np.asarray(datasets[0].ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        datasets.sort(key=lambda ds: float(np.dot(normal, np.asarray(ds.ImagePositionPatient))))
        out = np.empty((len(datasets), datasets[0].Rows, datasets[0].Columns), np.int16)
        for k, ds in enumerate(datasets):
            slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
            if slope == 1.0 and intercept == int(intercept):
                out[k] = ds.pixel_array
                out[k] += int(intercept)
            else:
                out[k] = np.rint(ds.pixel_array * slope + intercept)
        return None, out

    return Contender("pydicom dcmread+sort+stack", read)


def _dicom_bytes_floor(inputs: Inputs) -> Contender:
    """The I/O floor: read every file and copy its last slice-size bytes into one array."""
    files = list(inputs.files)
    _, nj, ni = inputs.shape
    slice_bytes = nj * ni * 2

    def read() -> Reading:
        out = np.empty((len(files), nj, ni), np.int16)
        for k, name in enumerate(files):
            with open(name, "rb") as fh:
                data = fh.read()
            pixels = np.frombuffer(data, "<i2", count=nj * ni, offset=len(data) - slice_bytes)
            out[k] = pixels.reshape(nj, ni)
        return None, out

    return Contender("raw bytes of all files (floor)", read)


def _sitk_read_image(inputs: Inputs, role: Role = "info") -> Contender:
    def read() -> Reading:
        import SimpleITK as sitk

        img = sitk.ReadImage(str(inputs.path))
        return img, sitk.GetArrayViewFromImage(img)

    return Contender("SimpleITK ReadImage", read, role=role)


def _sitk_peer(inputs: Inputs) -> Contender:
    return _sitk_read_image(inputs, role="peer")


def _nibabel(inputs: Inputs) -> Contender:
    def read() -> Reading:
        import nibabel as nib

        img = nib.load(str(inputs.path))
        return None, np.asanyarray(img.dataobj)  # type: ignore[attr-defined]

    return Contender("nibabel dataobj", read)


def _isal_gunzip_floor(inputs: Inputs) -> Contender:
    """The decompression floor: one-shot ISA-L inflate of the whole file.

    The output buffer is sized beforehand, no header is parsed, the result is read-only.
    """
    nbytes = inputs.voxel_bytes

    def read() -> Reading:
        from isal import isal_zlib

        with open(inputs.path, "rb") as fh:
            compressed = fh.read()
        raw = isal_zlib.decompress(compressed, wbits=31, bufsize=nbytes + 4096)
        data = np.frombuffer(raw, "<i2", offset=len(raw) - nbytes)
        return raw, data.reshape(inputs.shape)

    return Contender("isal one-shot gunzip (floor)", read)


def _raw_bytes_peer(inputs: Inputs) -> Contender:
    """The I/O floor: np.fromfile of the voxel bytes (offset, shape, dtype known beforehand)."""
    offset = os.path.getsize(inputs.path) - inputs.voxel_bytes

    def read() -> Reading:
        data = np.fromfile(inputs.path, dtype="<i2", offset=offset)
        return None, data.reshape(inputs.shape)

    return Contender("np.fromfile (raw bytes)", read, role="peer")


def _pynrrd(inputs: Inputs) -> Contender:
    def read() -> Reading:
        import nrrd

        data, header = nrrd.read(str(inputs.path))
        return header, data

    return Contender("pynrrd nrrd.read", read)


#: The benchmarks, in running order.
BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "dicom-series",
        "DICOM CT series, one file per slice, shuffled names -> medvis.load(folder)",
        "dicom",
        "medvis.io.dicom",
        0.25,
        _sitk_series,
        (_pydicom_stack, _dicom_bytes_floor),
    ),
    Benchmark(
        "nifti-gz",
        "NIfTI-1 .nii.gz (nibabel, default gzip level)",
        "nifti-gz",
        "medvis.io.nifti",
        0.75,
        _sitk_peer,
        (_nibabel, _isal_gunzip_floor),
    ),
    Benchmark(
        "nifti-raw",
        "NIfTI-1 .nii uncompressed",
        "nifti-raw",
        "medvis.io.nifti",
        1.2,
        _raw_bytes_peer,
        (_sitk_read_image,),
    ),
    Benchmark(
        "nrrd-raw",
        "NRRD, raw encoding (pynrrd)",
        "nrrd-raw",
        "medvis.io.nrrd",
        1.2,
        _raw_bytes_peer,
        (_pynrrd, _sitk_read_image),
    ),
)
