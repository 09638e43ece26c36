"""MINC1 (netCDF) and MINC2 (HDF5) through nibabel; MINC world coordinates are RAS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medvis.io._nibabel_reader import read_with_nibabel
from medvis.io.registry import Reader
from medvis.volume import Volume

__all__ = ["READER", "read_minc"]

_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _can_read(path: Path, head: bytes) -> bool:
    if head[:4] in _NETCDF_MAGIC:
        return True
    # HDF5 files may carry a user block: the signature sits at 0, 512, 1024, ...
    return head[:8] == _HDF5_MAGIC or head[512:520] == _HDF5_MAGIC


def _metadata(image: Any) -> dict[str, Any]:
    return {
        "datatype": str(image.get_data_dtype()),
        "dimensions": list(image.header.get_data_shape()),
    }


def _dimension_names(image: Any) -> list[str]:
    minc_file = getattr(image.dataobj, "minc_file", None)
    names = getattr(minc_file, "_dim_names", None)
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names else []


def _spatial_first(image: Any) -> np.ndarray:
    """Voxels with the spatial axes first and time/vector axes last.

    nibabel returns MINC voxels in file order, e.g. (time, zspace, yspace, xspace),
    while its affine describes only the spatial axes in that order. Moving the
    non-spatial axes to the end gives nibabel's usual (i, j, k, t) convention.
    """
    data = np.asanyarray(image.dataobj)
    names = _dimension_names(image)
    if len(names) != data.ndim:
        return data
    spatial = [n for n, name in enumerate(names) if name.endswith("space")]
    others = [n for n in range(data.ndim) if n not in spatial]
    return np.moveaxis(data, others, range(len(spatial), data.ndim)) if others else data


def read_minc(path: Path, **_options: Any) -> Volume:
    """Read a MINC1 or MINC2 file (voxels scaled to real values as nibabel does)."""
    import nibabel as nib

    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic in _NETCDF_MAGIC:
        return read_with_nibabel(
            path,
            lambda p: nib.minc1.Minc1Image.from_filename(str(p), mmap=False),
            format_name="MINC1",
            metadata=_metadata,
            voxels=_spatial_first,
        )
    return read_with_nibabel(
        path,
        lambda p: nib.minc2.Minc2Image.from_filename(str(p)),
        format_name="MINC2",
        metadata=_metadata,
        voxels=_spatial_first,
    )


READER = Reader(name="MINC", extensions=(".mnc",), can_read=_can_read, read=read_minc)
