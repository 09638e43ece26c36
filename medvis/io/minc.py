"""MINC1 (netCDF) and MINC2 (HDF5) through nibabel; MINC world coordinates are RAS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    return {"datatype": str(image.get_data_dtype()), "dimensions": list(image.header.get_data_shape())}


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
        )
    return read_with_nibabel(
        path,
        lambda p: nib.minc2.Minc2Image.from_filename(str(p)),
        format_name="MINC2",
        metadata=_metadata,
    )


READER = Reader(name="MINC", extensions=(".mnc",), can_read=_can_read, read=read_minc)
