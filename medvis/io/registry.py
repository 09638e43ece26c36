"""The ordered reader and writer registries behind :func:`medvis.load` and :func:`medvis.save`.

Each format lives in its own module and exposes a module-level ``READER`` (and maybe
``WRITER``). A reader declares the extensions it usually has and a content sniff,
``can_read(path, head)``, where ``head`` is the file's first bytes (gunzipped when the
file is gzip). Readers are asked in order; the first whose sniff accepts the file reads
it. The extension only breaks ties when content says nothing (raw ``.img`` halves).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medvis.errors import UnsupportedFormatError, WrongMagicError
from medvis.io._files import check_input, read_head, split_name
from medvis.volume import Volume

__all__ = ["Reader", "Writer", "readers", "writers", "find_reader", "find_writer", "load", "save"]


@dataclass(frozen=True)
class Reader:
    """One input format.

    Attributes
    ----------
    name : str
        Short format name shown to users ("NIfTI-1", "DICOM", ...).
    extensions : tuple of str
        Lower-case extensions with the dot, e.g. (".nii", ".nii.gz").
    can_read : callable
        ``can_read(path, head) -> bool``: content sniff.
    read : callable
        ``read(path, **options) -> Volume``.
    accepts_folders : bool
        True for readers that take a folder (DICOM series).
    """

    name: str
    extensions: tuple[str, ...]
    can_read: Callable[[Path, bytes], bool]
    read: Callable[..., Volume]
    accepts_folders: bool = False


@dataclass(frozen=True)
class Writer:
    """One output format, chosen by extension."""

    name: str
    extensions: tuple[str, ...]
    write: Callable[..., None]


# Order matters: specific signatures before permissive ones.
_READER_MODULES = (
    "medvis.io.dicom",
    "medvis.io.nifti",
    "medvis.io.analyze",
    "medvis.io.nrrd",
    "medvis.io.minc",
    "medvis.io.parrec",
    "medvis.io.metaimage",
    "medvis.io.vti",
)
_WRITER_MODULES = ("medvis.io.nifti", "medvis.io.nrrd", "medvis.io.metaimage", "medvis.io.vti")


def _modules(names: tuple[str, ...]) -> list[Any]:
    return [importlib.import_module(name) for name in names]


def readers() -> list[Reader]:
    """All readers, in the order they are asked."""
    return [m.READER for m in _modules(_READER_MODULES)]


def writers() -> list[Writer]:
    """All writers."""
    return [m.WRITER for m in _modules(_WRITER_MODULES)]


def find_reader(path: str | os.PathLike[str]) -> Reader:
    """The reader for ``path``, by content first and extension second.

    Raises
    ------
    MissingFileError, EmptyFileError
        The path does not exist or is empty.
    UnsupportedFormatError
        No reader recognises the content.
    """
    p = check_input(path)
    all_readers = readers()
    if p.is_dir():
        for reader in all_readers:
            if reader.accepts_folders and reader.can_read(p, b""):
                return reader
        raise UnsupportedFormatError(p, "folder holds no DICOM files medvis can read")
    head = read_head(p)
    for reader in all_readers:
        if reader.can_read(p, head):
            return reader
    _, ext = split_name(p)
    claimed = [r.name for r in all_readers if ext and ext in r.extensions]
    if claimed:
        raise WrongMagicError(
            p,
            f"the extension {ext} says {' or '.join(claimed)}, but the file's signature does not "
            f"match (first bytes {head[:8]!r}); the file is damaged or misnamed",
        )
    known = sorted({e for r in all_readers for e in r.extensions})
    raise UnsupportedFormatError(
        p,
        f"unknown format (extension {ext or 'none'!r}, first bytes {head[:8]!r}); "
        f"medvis reads: {', '.join(known)}",
    )


def find_writer(path: str | os.PathLike[str]) -> Writer:
    """The writer for the extension of ``path``."""
    p = Path(path)
    _, ext = split_name(p)
    for writer in writers():
        if ext in writer.extensions:
            return writer
    known = sorted({e for w in writers() for e in w.extensions})
    raise UnsupportedFormatError(
        p, f"cannot write extension {ext or 'none'!r}; writable: {', '.join(known)}"
    )


def load(path: str | os.PathLike[str], **options: Any) -> Volume:
    """Read any supported file or DICOM folder into a :class:`~medvis.volume.Volume`.

    Parameters
    ----------
    path : path-like
        A file, a ``.hdr``/``.img`` pair (either half), a ``.nhdr`` with detached
        data, or a folder holding one DICOM series.
    **options
        Passed to the format's reader, e.g. ``frame=`` to keep one frame of 4-D data.

    Returns
    -------
    Volume
        Voxels as ``array[k, j, i]`` with LPS geometry.

    Raises
    ------
    MedvisError
        A typed subclass naming the file and the reason.

    Examples
    --------
    >>> vol = medvis.load("scan.nii.gz")  # doctest: +SKIP
    >>> vol.spacing, vol.axis_codes  # doctest: +SKIP
    """
    frame = options.pop("frame", None)
    reader = find_reader(path)
    volume = reader.read(Path(path), **options)
    if frame is not None:
        volume = volume.frame(int(frame))
    return volume


def save(
    volume: Volume, path: str | os.PathLike[str], *, force: bool = False, **options: Any
) -> None:
    """Write ``volume`` to ``path``; the format follows the extension.

    The file is written to a temporary name beside ``path`` and renamed into place,
    so a failure never leaves a half-written output.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is False.
    UnsupportedFormatError
        No writer handles the extension.
    """
    writer = find_writer(path)
    writer.write(volume, Path(path), force=force, **options)
