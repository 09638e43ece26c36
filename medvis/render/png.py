"""PNG files: written atomically (temporary file + rename), never overwritten by accident.

The encoder is a few lines of zlib (8-bit RGB/grey, no filtering), so writing needs no
imaging library; reading uses VTK's ``vtkPNGReader``.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis.errors import MissingFileError, OutputExistsError, WriteError

__all__ = ["encode_png", "read_png", "save_png"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(image: Any, *, compression: int = 6) -> bytes:
    """PNG bytes for an (H, W), (H, W, 3) or (H, W, 4) uint8 array."""
    pixels = np.asarray(getattr(image, "rgb", image))
    if pixels.dtype != np.uint8:
        raise ValueError(f"PNG pixels must be uint8, got {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4) or 0 in pixels.shape:
        raise ValueError(
            f"expected (H, W), (H, W, 3) or (H, W, 4) pixels, got shape {pixels.shape}"
        )
    height, width, channels = pixels.shape
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    rows = np.concatenate(
        [np.zeros((height, 1), np.uint8), np.ascontiguousarray(pixels).reshape(height, -1)], axis=1
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), compression))
        + _chunk(b"IEND", b"")
    )


def save_png(image: Any, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write an RGB (or grey) uint8 image, or a :class:`~medvis.render.slices.Montage`, to PNG.

    Parameters
    ----------
    image : ndarray or Montage
        (H, W, 3) uint8, row 0 on top.
    path : path-like
        Output file; its folder must exist.
    force : bool
        Overwrite an existing file.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is false.
    WriteError
        The file could not be written (nothing is left at ``path``).
    """
    target = Path(path)
    if target.exists() and not force:
        raise OutputExistsError(target, "file exists; use force=True (--force) to overwrite")
    data = encode_png(image)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise WriteError(target, f"folder {folder} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give a normal file's mode
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise WriteError(target, f"could not write PNG: {exc}") from exc
    return target


def read_png(path: str | os.PathLike[str]) -> NDArray[np.uint8]:
    """Read a PNG into (H, W, channels) uint8, row 0 on top."""
    from vtkmodules.util import numpy_support
    from vtkmodules.vtkIOImage import vtkPNGReader

    source = Path(path)
    if not source.exists():
        raise MissingFileError(source, "PNG file not found")
    reader = vtkPNGReader()
    reader.SetFileName(str(source))
    reader.Update()
    image = reader.GetOutput()
    width, height, _ = image.GetDimensions()
    scalars = image.GetPointData().GetScalars()
    values = numpy_support.vtk_to_numpy(scalars).reshape(height, width, -1)[::-1]
    return np.ascontiguousarray(values)
