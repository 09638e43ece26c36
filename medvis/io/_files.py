"""File plumbing shared by readers and writers: checks, sniffing, gzip, atomic output."""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from medvis.errors import (
    CorruptFileError,
    EmptyFileError,
    ImageTooLargeError,
    MissingFileError,
    OutputExistsError,
    TruncatedFileError,
    WriteError,
)

try:  # ISA-L's gzip is 2-3x faster than zlib and byte-compatible with it.
    from isal import igzip as _fast_gzip
    from isal import isal_zlib as _fast_zlib
except ImportError:  # pragma: no cover - isal is a declared dependency
    _fast_gzip = None  # type: ignore[assignment]
    _fast_zlib = None  # type: ignore[assignment]

GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 2048


def check_input(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path after checking it exists and is not an empty file.

    Raises
    ------
    MissingFileError
        The path does not exist.
    EmptyFileError
        The path is a file of zero bytes.
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(p, "no such file or folder")
    if p.is_file() and p.stat().st_size == 0:
        raise EmptyFileError(p, "the file is empty (0 bytes)")
    return p


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a file, transparently gunzipped when it is gzip."""
    with open(path, "rb") as fh:
        head = fh.read(size)
    if head[:2] == GZIP_MAGIC:
        try:
            decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
            return decomp.decompress(head, size)
        except zlib.error:
            return b""
    return head


def memory_limit() -> int:
    """Bytes a single volume may take: the machine's physical memory (or MEDVIS_MAX_BYTES)."""
    override = os.environ.get("MEDVIS_MAX_BYTES")
    if override:
        return int(override)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 40


def check_allocation(path: Path, shape: tuple[int, ...], dtype: Any) -> int:
    """Refuse, before allocating, a header whose voxels would not fit in memory.

    Returns the number of bytes the array will take.
    """
    dims = [int(s) for s in shape]
    if any(d < 0 for d in dims):
        raise ImageTooLargeError(path, f"header declares a negative dimension {tuple(dims)}")
    itemsize = np.dtype(dtype).itemsize
    nbytes = itemsize
    for d in dims:
        nbytes *= d
    limit = memory_limit()
    if nbytes > limit:
        raise ImageTooLargeError(
            path,
            f"header declares {' x '.join(map(str, dims))} voxels of {np.dtype(dtype)} "
            f"({nbytes / 2**30:.1f} GiB), more than this machine's memory "
            f"({limit / 2**30:.1f} GiB); refusing to allocate",
        )
    return nbytes


def gunzip_bytes(path: Path, data: bytes | None = None) -> bytes:
    """Decompress a whole gzip file (all members) with ISA-L when available.

    Raises
    ------
    CorruptFileError
        The gzip stream is damaged or cut short.
    """
    if data is None:
        data = path.read_bytes()
    try:
        if _fast_gzip is not None:
            return bytes(_fast_gzip.decompress(data))
        return gzip.decompress(data)
    except Exception as exc:  # zlib.error, isal's error, EOFError, OSError ...
        raise CorruptFileError(path, f"the gzip stream is corrupt or truncated ({exc})") from None


def frombuffer_checked(
    path: Path, buffer: bytes | memoryview, dtype: Any, count: int, offset: int
) -> np.ndarray:
    """``np.frombuffer`` that raises :class:`TruncatedFileError` when data is short."""
    dt = np.dtype(dtype)
    needed = offset + count * dt.itemsize
    if len(buffer) < needed:
        raise TruncatedFileError(
            path,
            f"voxel data is truncated: header needs {needed} bytes, only {len(buffer)} present",
        )
    return np.frombuffer(buffer, dtype=dt, count=count, offset=offset)


def read_raw_checked(path: Path, dtype: Any, count: int, offset: int) -> np.ndarray:
    """Read ``count`` values at ``offset`` of an uncompressed file into a new array."""
    dt = np.dtype(dtype)
    size = path.stat().st_size
    needed = offset + count * dt.itemsize
    if size < needed:
        raise TruncatedFileError(
            path, f"voxel data is truncated: header needs {needed} bytes, file has {size}"
        )
    out = np.empty(count, dtype=dt)
    with open(path, "rb", buffering=0) as fh:
        fh.seek(offset)
        view = memoryview(out).cast("B")  # type: ignore[arg-type]  # ndarray is a buffer
        got = 0
        while got < len(view):
            n = fh.readinto(view[got:])
            if not n:
                raise TruncatedFileError(path, "voxel data ended early while reading")
            got += n
    return out


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    The temporary file keeps the full suffix (``.nii.gz``) so writers that look at the
    extension behave. On any error the temporary file is removed and nothing is left
    at ``path``.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is False.
    WriteError
        The folder does not exist or the file cannot be written.
    """
    dest = Path(path)
    if dest.exists() and not force:
        raise OutputExistsError(dest, "output exists; pass force=True (CLI: --force) to overwrite")
    if dest.is_dir():
        raise WriteError(dest, "output path is a folder")
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise WriteError(dest, f"output folder {parent} does not exist")
    suffix = "".join(dest.suffixes[-2:]) if dest.name.endswith(".gz") else dest.suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".part{suffix}", dir=parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; use the usual mode
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def split_name(path: Path) -> tuple[str, str]:
    """Split a file name into stem and lower-case extension, treating ``.gz``/``.bz2`` as part of it."""
    name = path.name
    lower = name.lower()
    for double in (".nii.gz", ".nrrd.gz", ".mnc.gz", ".hdr.gz", ".img.gz"):
        if lower.endswith(double):
            return name[: -len(double)], double
    suffix = path.suffix.lower()
    return (name[: -len(suffix)] if suffix else name), suffix


def gunzip_into(
    path: Path, out: np.ndarray, *, skip: int = 0, file_offset: int = 0, chunk_size: int = 1 << 20
) -> None:
    """Decompress a gzip file straight into a preallocated array, skipping ``skip`` bytes.

    ``file_offset`` is where the gzip stream starts in the file (attached NRRD data).

    One thread inflates (ISA-L releases the GIL) while the caller's thread copies the
    pieces into ``out``, so the array is writable and memory is not held twice.

    Raises
    ------
    CorruptFileError
        The gzip stream is damaged.
    TruncatedFileError
        The stream ends before ``out`` is full.
    """
    import queue
    import threading

    target = memoryview(out).cast("B")  # type: ignore[arg-type]  # ndarray is a buffer
    total = len(target)
    pieces: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=4)
    stop = threading.Event()

    def inflate() -> None:
        try:
            zlib_mod: Any = _fast_zlib if _fast_zlib is not None else zlib
            decomp = zlib_mod.decompressobj(16 + zlib.MAX_WBITS)
            with open(path, "rb", buffering=0) as fh:
                fh.seek(file_offset)
                while not stop.is_set():
                    if decomp.eof:  # another gzip member may follow
                        data = decomp.unused_data
                        if not data.strip(b"\0"):
                            data = fh.read(chunk_size)
                            if not data.strip(b"\0"):
                                break
                        decomp = zlib_mod.decompressobj(16 + zlib.MAX_WBITS)
                    else:
                        data = fh.read(chunk_size)
                        if not data:
                            if not decomp.eof:
                                raise EOFError("compressed stream ended before the end marker")
                            break
                    pieces.put(decomp.decompress(data))
            pieces.put(None)
        except BaseException as exc:  # handed to the consumer thread
            pieces.put(exc)

    worker = threading.Thread(target=inflate, name="medvis-gunzip", daemon=True)
    worker.start()
    filled = 0
    to_skip = skip
    try:
        while True:  # read to the end of the stream, so its CRC is checked too
            piece = pieces.get()
            if piece is None:
                break
            if isinstance(piece, BaseException):
                raise CorruptFileError(path, f"the gzip stream is corrupt ({piece})") from None
            if filled == total:
                continue  # trailing bytes beyond the voxels
            view = memoryview(piece)
            if to_skip:
                cut = min(to_skip, len(view))
                view = view[cut:]
                to_skip -= cut
            n = min(len(view), total - filled)
            target[filled : filled + n] = view[:n]
            filled += n
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                pieces.get_nowait()
            except queue.Empty:
                worker.join(0.01)
    if filled < total:
        raise TruncatedFileError(
            path,
            f"voxel data is truncated: expected {total + skip} bytes after gunzip, got {filled + skip}",
        )
