"""MetaImage ``.mha`` / ``.mhd`` through SimpleITK (whose MetaIO keeps LPS geometry right).

VTK's MetaImage reader transposes the TransformMatrix relative to ITK, so it is not used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from medvis.errors import CorruptFileError, HeaderError, MissingFileError, TruncatedFileError
from medvis.interop import sitk_to_volume, volume_to_sitk
from medvis.io._files import atomic_output, check_allocation
from medvis.io.registry import Reader, Writer
from medvis.volume import Volume

__all__ = ["READER", "WRITER", "read_metaimage", "write_metaimage"]

_KEY = re.compile(rb"^\s*(ObjectType|NDims|DimSize|ElementType|ElementDataFile)\s*=", re.M)
_SITK_TYPES = {
    "MET_UCHAR": np.uint8,
    "MET_CHAR": np.int8,
    "MET_USHORT": np.uint16,
    "MET_SHORT": np.int16,
    "MET_UINT": np.uint32,
    "MET_INT": np.int32,
    "MET_ULONG": np.uint64,
    "MET_LONG": np.int64,
    "MET_ULONG_LONG": np.uint64,
    "MET_LONG_LONG": np.int64,
    "MET_FLOAT": np.float32,
    "MET_DOUBLE": np.float64,
}


def _can_read(path: Path, head: bytes) -> bool:
    return len(_KEY.findall(head[:2048])) >= 2


def _header_fields(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("latin-1").strip()
            if "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                fields[key] = value
                if key == "ElementDataFile":
                    break
            if fh.tell() > 65536:
                break
    return fields


def _check_size(path: Path, fields: dict[str, str]) -> None:
    try:
        dims = tuple(int(v) for v in fields["DimSize"].split())
    except (KeyError, ValueError):
        raise HeaderError(path, "MetaImage header has no valid DimSize") from None
    channels = int(fields.get("ElementNumberOfChannels", "1") or 1)
    dtype = _SITK_TYPES.get(fields.get("ElementType", ""), np.float64)
    check_allocation(path, (*dims, channels), dtype)
    data_file = fields.get("ElementDataFile", "LOCAL")
    if data_file.upper() not in ("LOCAL", "LIST") and not data_file.upper().startswith("LIST"):
        if "%" not in data_file and not (path.parent / data_file).exists():
            raise MissingFileError(path.parent / data_file, f"data file of {path.name} is missing")


def read_metaimage(path: Path, **_options: Any) -> Volume:
    """Read a MetaImage header (+ data) into a volume."""
    import SimpleITK as sitk

    fields = _header_fields(path)
    _check_size(path, fields)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        text = str(exc).splitlines()[-1] if str(exc) else "unknown error"
        if (
            "truncat" in str(exc).lower()
            or "too short" in str(exc).lower()
            or "read" in text.lower()
        ):
            raise TruncatedFileError(
                path, f"MetaImage data could not be read fully ({text.strip()})"
            ) from None
        raise CorruptFileError(
            path, f"SimpleITK could not read the MetaImage ({text.strip()})"
        ) from None
    metadata = {
        "format": "MetaImage",
        "datatype": image.GetPixelIDTypeAsString(),
        "element_type": fields.get("ElementType"),
        "compressed": fields.get("CompressedData", "False").lower() == "true",
        "anatomical_orientation": fields.get("AnatomicalOrientation"),
    }
    return sitk_to_volume(image, source=str(path), **metadata)


def write_metaimage(
    volume: Volume, path: Path, *, force: bool = False, compress: bool = True, **_options: Any
) -> None:
    """Write a volume as a single-file ``.mha`` (LPS, as ITK)."""
    import SimpleITK as sitk

    image = volume_to_sitk(volume)
    with atomic_output(path, force=force) as tmp:
        try:
            sitk.WriteImage(image, str(tmp), useCompression=compress)
        except RuntimeError as exc:
            raise CorruptFileError(path, f"SimpleITK could not write ({exc})") from None


READER = Reader(
    name="MetaImage", extensions=(".mha", ".mhd"), can_read=_can_read, read=read_metaimage
)
WRITER = Writer(name="MetaImage", extensions=(".mha",), write=write_metaimage)
