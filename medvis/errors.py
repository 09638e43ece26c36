"""Typed errors raised by medvis.

Every error derives from :class:`MedvisError` and from the builtin exception that
fits it, so callers can catch either (``except MedvisError`` or ``except OSError``).
Every message names the file involved and the reason, plus the remedy where one exists.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "MedvisError",
    "MissingFileError",
    "CorruptFileError",
    "EmptyFileError",
    "TruncatedFileError",
    "WrongMagicError",
    "HeaderError",
    "UnsupportedFormatError",
    "ImageTooLargeError",
    "DecoderMissingError",
    "OutputExistsError",
    "WriteError",
    "GeometryError",
]


def _describe(path: str | os.PathLike[str] | None, reason: str) -> str:
    if path is None:
        return reason
    return f"{Path(path)}: {reason}"


class MedvisError(Exception):
    """Base class of every error medvis raises on purpose.

    Parameters
    ----------
    path : path-like or None
        The file (or folder) the error is about.
    reason : str
        What is wrong, in words a user can act on.
    """

    def __init__(self, path: str | os.PathLike[str] | None, reason: str) -> None:
        super().__init__(_describe(path, reason))
        # Set after the builtin's __init__ (ImportError.__init__ resets ``path``).
        self.path: Path | None = None if path is None else Path(path)  # type: ignore[assignment]
        self.reason = reason

    def __reduce__(self):  # keep pickling (multiprocessing) working
        return (type(self), (self.path, self.reason))


class MissingFileError(MedvisError, FileNotFoundError):
    """The input path does not exist."""


class CorruptFileError(MedvisError, OSError):
    """The file exists but its content cannot be decoded."""


class EmptyFileError(CorruptFileError):
    """The file has zero bytes."""


class TruncatedFileError(CorruptFileError):
    """The file is shorter than its header says."""


class HeaderError(CorruptFileError):
    """The header is unreadable or self-contradictory."""


class UnsupportedFormatError(MedvisError, ValueError):
    """No reader (or writer) handles this file."""


class WrongMagicError(CorruptFileError, UnsupportedFormatError):
    """The file's signature does not match the format its name or header claims."""


class ImageTooLargeError(MedvisError, MemoryError):
    """The header declares more voxels than could fit in memory; refused before allocation."""


class DecoderMissingError(MedvisError, ImportError):  # type: ignore[misc]  # .path is a Path
    """Pixel data is compressed with a codec whose decoder package is not installed."""


class OutputExistsError(MedvisError, FileExistsError):
    """The output file exists and ``force=True`` was not given."""


class WriteError(MedvisError, OSError):
    """The output could not be written; nothing was left at the destination."""


class GeometryError(MedvisError, ValueError):
    """The geometry (spacing, direction, positions) is missing or impossible."""
