"""Shared reading path for the formats nibabel parses (ANALYZE, MINC, PAR/REC)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from medvis.errors import CorruptFileError, HeaderError, ImageTooLargeError, TruncatedFileError
from medvis.interop import nibabel_to_volume
from medvis.io._files import check_allocation
from medvis.volume import Volume

__all__ = ["read_with_nibabel"]


def read_with_nibabel(
    path: Path,
    opener: Callable[[Path], Any],
    *,
    format_name: str,
    metadata: Callable[[Any], dict[str, Any]] | None = None,
    voxels: Callable[[Any], np.ndarray] | None = None,
) -> Volume:
    """Open ``path`` with a nibabel image class and convert it to a volume.

    Parameters
    ----------
    path : Path
        The file.
    opener : callable
        ``opener(path) -> nibabel image`` (e.g. ``Minc2Image.from_filename``).
    format_name : str
        Stored as ``metadata["format"]``.
    metadata : callable, optional
        Extra metadata from the image.
    voxels : callable, optional
        ``voxels(image) -> ndarray`` in nibabel's (x, y, z, extra...) order, for formats
        whose nibabel array order needs fixing; default ``image.dataobj``.

    Raises
    ------
    HeaderError, TruncatedFileError, CorruptFileError, ImageTooLargeError
        nibabel's many exception types turned into medvis's, naming the file.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        volume = _read(path, opener, format_name=format_name, metadata=metadata, voxels=voxels)
    # Only what nibabel tells the user about the file (UserWarning and its kin); resource
    # and deprecation warnings are about code, not data.
    notes = tuple(
        f"{path.name}: {w.message}"
        for w in caught
        if not issubclass(
            w.category, (ResourceWarning, DeprecationWarning, PendingDeprecationWarning)
        )
    )
    return volume.replace(warnings=volume.warnings + notes) if notes else volume


def _read(
    path: Path,
    opener: Callable[[Path], Any],
    *,
    format_name: str,
    metadata: Callable[[Any], dict[str, Any]] | None,
    voxels: Callable[[Any], np.ndarray] | None,
) -> Volume:
    try:
        image = opener(path)
    except (ImageTooLargeError, HeaderError):
        raise
    except MemoryError:
        raise ImageTooLargeError(path, "header declares more voxels than fit in memory") from None
    except Exception as exc:
        raise HeaderError(
            path, f"unreadable {format_name} header ({type(exc).__name__}: {exc})"
        ) from None
    shape = tuple(int(n) for n in image.shape)
    check_allocation(
        path, shape, np.float32 if format_name.startswith("MINC") else image.get_data_dtype()
    )
    extra = {"format": format_name}
    if metadata is not None:
        try:
            extra.update(metadata(image))
        except Exception:  # metadata is best effort, never a reason to fail the load
            pass
    try:
        data = None if voxels is None else voxels(image)
        return nibabel_to_volume(image, source=str(path), data=data, **extra)
    except (EOFError, ValueError) as exc:
        if "buffer" in str(exc) or "size" in str(exc) or isinstance(exc, EOFError):
            raise TruncatedFileError(path, f"voxel data is truncated ({exc})") from None
        raise CorruptFileError(path, f"voxel data cannot be decoded ({exc})") from None
    except OSError as exc:
        raise CorruptFileError(path, f"voxel data cannot be read ({exc})") from None
