"""NRRD and NHDR (attached or detached data; raw, gzip, bzip2, ascii encodings).

pynrrd parses the header. Raw and gzip data attached to a ``.nrrd`` are read by medvis
straight into one array (ISA-L for gzip); everything else goes through pynrrd. The
``space`` field says the world: LPS is kept, RAS and LAS are converted to LPS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medvis.errors import CorruptFileError, HeaderError, MissingFileError, UnsupportedFormatError
from medvis.io._files import atomic_output, check_allocation, gunzip_into, read_raw_checked
from medvis.io.registry import Reader, Writer
from medvis.volume import Layout, Volume

__all__ = ["READER", "WRITER", "read_nrrd", "write_nrrd"]

# Sign flips that take each NRRD space's x, y, z to LPS.
_SPACE_TO_LPS = {
    "left-posterior-superior": (1, 1, 1),
    "lps": (1, 1, 1),
    "right-anterior-superior": (-1, -1, 1),
    "ras": (-1, -1, 1),
    "left-anterior-superior": (1, -1, 1),
    "las": (1, -1, 1),
    "scanner-xyz": (1, 1, 1),
    "3d-right-handed": (1, 1, 1),
}
_COMPONENT_KINDS = {
    "vector",
    "covariant-vector",
    "normal",
    "rgb-color",
    "rgba-color",
    "3-color",
    "4-color",
    "hsv-color",
    "xyz-color",
    "complex",
    "2-vector",
    "3-vector",
    "4-vector",
    "point",
    "3-gradient",
    "2d-symmetric-matrix",
    "3d-symmetric-matrix",
    "3d-matrix",
    "2d-matrix",
    "quaternion",
}


def _can_read(path: Path, head: bytes) -> bool:
    return head[:4] == b"NRRD"


def _read_header(path: Path) -> tuple[dict[str, Any], int]:
    import nrrd

    try:
        with open(path, "rb") as fh:
            header = nrrd.read_header(fh)
            offset = fh.tell()
    except Exception as exc:  # NRRDError, ValueError, UnicodeDecodeError ...
        raise HeaderError(path, f"unreadable NRRD header ({exc})") from None
    return header, offset


def _numpy_dtype(path: Path, header: dict[str, Any]) -> np.dtype[Any]:
    from nrrd.reader import _determine_datatype  # the type/endian table of pynrrd

    try:
        return np.dtype(_determine_datatype(header))
    except Exception as exc:
        raise HeaderError(path, f"NRRD header has an unknown type ({exc})") from None


def _read_data(path: Path, header: dict[str, Any], offset: int) -> np.ndarray:
    """Voxels in C order (slowest NRRD axis first)."""
    import nrrd

    sizes = [int(s) for s in header["sizes"]]
    dtype = _numpy_dtype(path, header)
    check_allocation(path, tuple(sizes), dtype)
    encoding = str(header.get("encoding", "raw")).lower()
    attached = "data file" not in header and "datafile" not in header
    plain = attached and not header.get("line skip") and not header.get("byte skip")
    count = int(np.prod(sizes, dtype=np.int64))
    if plain and encoding == "raw":
        data = read_raw_checked(path, dtype, count, offset)
    elif plain and encoding in ("gzip", "gz"):
        data = np.empty(count, dtype=dtype)
        gunzip_into(path, data, file_offset=offset)
    else:
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = nrrd.read_data(header, fh, str(path), index_order="C")
        except FileNotFoundError as exc:
            raise MissingFileError(
                Path(exc.filename or path), f"detached data of {path.name} is missing"
            ) from None
        except Exception as exc:
            raise CorruptFileError(path, f"NRRD data cannot be read ({exc})") from None
        data = np.asarray(data)
    if not data.dtype.isnative:
        data = data.byteswap(inplace=False).view(data.dtype.newbyteorder("="))
    return data.reshape(sizes[::-1])


def _spatial_axes(path: Path, header: dict[str, Any]) -> list[int]:
    """NRRD axis numbers (fastest first) that are spatial."""
    ndim = int(header["dimension"])
    kinds = [str(k).lower() for k in header.get("kinds", ["domain"] * ndim)]
    directions = header.get("space directions")
    spatial = []
    for axis in range(ndim):
        if directions is not None:
            row = np.asarray(directions[axis], float) if directions[axis] is not None else None
            if row is not None and row.size and np.all(np.isfinite(row)):
                spatial.append(axis)
        elif kinds[axis] in ("domain", "space", "???", "none"):
            spatial.append(axis)
    if not 2 <= len(spatial) <= 3:
        raise UnsupportedFormatError(path, f"NRRD has {len(spatial)} spatial axes; need 2 or 3")
    return spatial


def _geometry(
    path: Path, header: dict[str, Any], spatial: list[int]
) -> tuple[Any, Any, Any, list[str]]:
    notes: list[str] = []
    space = str(header.get("space", "")).lower()
    n = len(spatial)
    if "space directions" in header:
        if space not in _SPACE_TO_LPS:
            raise UnsupportedFormatError(path, f"NRRD space {space!r} is not a patient space")
        flip = np.asarray(_SPACE_TO_LPS[space], float)
        rows = np.array([np.asarray(header["space directions"][a], float) for a in spatial])
        if rows.shape[1] != 3:
            raise UnsupportedFormatError(path, f"NRRD space has {rows.shape[1]} dimensions; need 3")
        linear = (rows * flip).T  # columns = axes in LPS
        origin = np.asarray(header.get("space origin", np.zeros(3)), float) * flip
        if "space origin" not in header:
            notes.append(f"{path.name}: no space origin; assuming (0, 0, 0)")
        if space in ("scanner-xyz", "3d-right-handed"):
            notes.append(f"{path.name}: space {space!r} taken as LPS")
    else:
        spacings = header.get("spacings")
        steps = [1.0] * n if spacings is None else [float(spacings[a]) for a in spatial]
        steps = [abs(s) if np.isfinite(s) and s != 0 else 1.0 for s in steps]
        linear = np.diag(steps)
        mins = header.get("axis mins")
        origin = np.zeros(n) if mins is None else np.asarray([float(mins[a]) for a in spatial])
        notes.append(
            f"{path.name}: NRRD has no space directions; geometry assumed axis-aligned LPS"
        )
    if n == 2:
        full = np.eye(3)
        full[:2, :2] = linear[:2, :2] if linear.shape[0] >= 2 else linear
        if linear.shape[0] == 3:
            full[:, :2] = linear
            normal = np.cross(linear[:, 0], linear[:, 1])
            full[:, 2] = normal / np.linalg.norm(normal)
        linear = full
        origin = np.resize(np.append(origin, [0.0] * (3 - origin.size)), 3)
    spacing = np.linalg.norm(linear, axis=0)
    return spacing, origin, linear / spacing, notes


def read_nrrd(path: Path, **_options: Any) -> Volume:
    """Read a ``.nrrd`` or ``.nhdr`` into a volume (LPS)."""
    header, offset = _read_header(path)
    spatial = _spatial_axes(path, header)
    data = _read_data(path, header, offset)
    ndim = data.ndim
    others = [a for a in range(ndim) if a not in spatial]
    layout: Layout = "kji"
    if len(spatial) == 2:
        if ndim != 2:
            raise UnsupportedFormatError(path, "2-D NRRD with non-spatial axes is not supported")
        data = data[np.newaxis]
        ndim = 3
    if others == [0] and ndim == 4:
        layout = "kjic"  # fastest NRRD axis = last C axis: components per voxel
    elif others == [ndim - 1] and ndim == 4:
        layout = "tkji"
    elif others:
        raise UnsupportedFormatError(path, f"NRRD non-spatial axes at {others} are not supported")
    spacing, origin, direction, notes = _geometry(path, header, spatial)
    kinds = [str(k) for k in header.get("kinds", [])]
    metadata = {
        "format": "NRRD" if path.suffix.lower() == ".nrrd" else "NRRD (detached header)",
        "datatype": str(data.dtype),
        "encoding": str(header.get("encoding", "raw")),
        "space": str(header.get("space", "")),
        "kinds": kinds,
        "content": header.get("content"),
    }
    return Volume(
        np.ascontiguousarray(data),
        spacing=spacing,
        origin=origin,
        direction=direction,
        layout=layout,
        metadata=metadata,
        source=str(path),
        warnings=tuple(notes),
    )


def write_nrrd(
    volume: Volume,
    path: Path,
    *,
    force: bool = False,
    encoding: str = "gzip",
    compression_level: int = 1,
    **_options: Any,
) -> None:
    """Write a volume as ``.nrrd`` in LPS (space directions and origin at full precision).

    Parameters
    ----------
    encoding : {"gzip", "raw", "bzip2"}
        Data encoding.
    compression_level : int
        1 (fast, the default) to 9 (smallest).
    """
    import nrrd

    linear = volume.direction * volume.spacing
    directions: list[Any] = [linear[:, a] for a in range(3)]
    kinds = ["domain"] * 3
    if volume.layout == "tkji":
        directions = [*directions, None]
        kinds = [*kinds, "list"]
    elif volume.layout == "kjic":
        directions = [None, *directions]
        kind = "RGB-color" if volume.n_components == 3 and volume.dtype == np.uint8 else "vector"
        kinds = [kind, *kinds]
    header = {
        "space": "left-posterior-superior",
        "space directions": np.array(
            [d if d is not None else [np.nan] * 3 for d in directions], float
        ),
        "space origin": volume.origin.copy(),
        "kinds": kinds,
        "encoding": encoding,
    }
    with atomic_output(path, force=force) as tmp:
        nrrd.write(
            str(tmp), volume.array, header, index_order="C", compression_level=compression_level
        )


READER = Reader(name="NRRD", extensions=(".nrrd", ".nhdr"), can_read=_can_read, read=read_nrrd)
WRITER = Writer(name="NRRD", extensions=(".nrrd",), write=write_nrrd)
