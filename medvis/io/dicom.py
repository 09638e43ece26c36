"""DICOM reader: one file or a folder holding a series -> :class:`~medvis.volume.Volume`.

Uncompressed little-endian series take a fast path: :mod:`medvis.io.dicom_header` walks
each header, the slices are ordered by position (:mod:`medvis.io.dicom_series`) and each
file's pixel bytes are read straight into its slice of one preallocated array. Anything
else (big endian, deflate, compressed pixel data, multi-frame, colour) goes through
pydicom, whose ``pixel_array`` decodes compressed data with the pylibjpeg plugins.
Both paths give bit-identical voxels.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis.errors import (
    CorruptFileError,
    HeaderError,
    MedvisError,
    TruncatedFileError,
    UnsupportedFormatError,
    WrongMagicError,
)
from medvis.io import dicom_series as ds_
from medvis.io._files import check_allocation, check_input, split_name
from medvis.io.dicom_header import (
    NATIVE_LE,
    WANTED,
    Header,
    NotDicom,
    NotWalkable,
    looks_like_dicom,
    parse_header,
)
from medvis.io.registry import Reader
from medvis.phi import PHI_DICOM_KEYWORDS
from medvis.volume import Layout, Volume

__all__ = ["READER", "can_read", "dicom_elements", "read"]

_EXTENSIONS = (".dcm", ".ima", ".dicom")
_NEVER = (".img", ".hdr", ".gz")
_READ_THREADS = 2


# ------------------------------------------------------------------ sniffing
def can_read(path: Path, head: bytes) -> bool:
    """True for a DICOM file, or a folder holding at least one DICOM file.

    A file needs the DICM magic at byte 128, or (without the preamble) a DICOM extension
    and a plausible little-endian dataset start. ``.img``/``.hdr`` are never claimed.
    """
    path = Path(path)
    if path.is_dir():
        return any(True for _ in _dicom_files(path, stop_at_first=True))
    _, ext = split_name(path)
    if ext in _NEVER or path.name.lower().endswith(_NEVER):
        return False
    return head[128:132] == b"DICM" or (ext in _EXTENSIONS and looks_like_dicom(head))


def _dicom_files(folder: Path, *, stop_at_first: bool = False) -> Iterator[Path]:
    """Files under ``folder`` (recursive, sorted) that carry the DICM magic."""
    for path in _walk(folder):
        try:
            with open(path, "rb") as fh:
                head = fh.read(132)
        except OSError:
            continue
        if head[128:132] == b"DICM":
            yield path
            if stop_at_first:
                return


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root, name)


# ------------------------------------------------------------------ reading
def read(path: str | os.PathLike[str], *, series: str | None = None, **ignored: Any) -> Volume:
    """Read a DICOM file or a folder holding one series.

    Parameters
    ----------
    path : path-like
        A DICOM file (single- or multi-frame) or a folder (searched recursively;
        non-DICOM files and DICOM files without pixel data are ignored).
    series : str, optional
        *Series Instance UID* to read when the folder holds several series; by default
        the series with the most files (the others are named in ``Volume.warnings``).

    Returns
    -------
    Volume
        ``array[k, j, i]`` with rescale slope/intercept applied (CT in HU), LPS geometry
        from *Image Orientation/Position (Patient)*; ``layout="kjic"`` for colour and
        ``"tkji"`` when several images share each position.

    Raises
    ------
    UnsupportedFormatError
        No readable DICOM image, or ``series`` names no series of the folder.
    TruncatedFileError, CorruptFileError, HeaderError
        A file is cut short, undecodable, or lacks a required element.
    DecoderMissingError
        Pixel data is compressed and the decoder package is not installed.
    ImageTooLargeError
        The series would not fit in memory.

    Examples
    --------
    >>> vol = read("ct_series/")  # doctest: +SKIP
    >>> vol.metadata["units"]  # doctest: +SKIP
    'HU'
    """
    source = check_input(path)
    warnings: list[str] = []
    with _no_gc():
        headers = _collect_headers(source, warnings)
        chosen = ds_.pick_series(source, headers, series, warnings)
        slices = _expand_frames(chosen, warnings)
    key = ds_.shape_key(slices[0].header)
    slices, mixed = ds_.dominant_shape(
        slices, lambda s: (ds_.shape_key(s.header), _rounded(s.orientation))
    )
    warnings += mixed
    first = slices[0]
    geometry = ds_.stack_geometry(slices, first.pixel_spacing, first.step)
    warnings += geometry.warnings
    ordered = [slices[n] for n in geometry.order]
    array, layout, out_dtype = _load_voxels(source, ordered, key, warnings)
    if geometry.n_frames > 1:
        array = array.reshape((geometry.n_frames, -1, *array.shape[1:]))
        layout = "tkji"
    metadata = ds_.series_metadata(ordered, out_dtype, len({s.path for s in ordered}))
    return Volume(
        array,
        spacing=geometry.spacing,
        origin=geometry.origin,
        direction=geometry.direction,
        layout=layout,
        metadata=metadata,
        source=str(path),
        warnings=tuple(warnings),
    )


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while headers are parsed.

    Walking hundreds of headers allocates many short-lived tuples, which triggers
    collections that traverse every object of the process; parsing creates no cycles,
    so pausing the collector saves about a third of the header time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _rounded(values: NDArray[np.float64] | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(np.round(values, 4).tolist())


def _collect_headers(source: Path, warnings: list[str]) -> list[Header]:
    """Headers of every DICOM image file (one file, or all under a folder)."""
    if not source.is_dir():
        header = _header(source, require_magic=False, notes=warnings)
        if header is None:
            raise WrongMagicError(source, "not a DICOM file (no DICM magic, no DICOM dataset)")
        if not header.has_pixels:
            raise UnsupportedFormatError(source, "this DICOM file holds no image (no Pixel Data)")
        return [header]
    headers: list[Header] = []
    failures: list[MedvisError] = []
    for path in _walk(source):
        _, ext = split_name(path)
        try:
            header = _header(path, require_magic=ext not in (*_EXTENSIONS, ""), notes=warnings)
        except MedvisError as exc:
            failures.append(exc)
            continue
        if header is None or not header.has_pixels:
            continue
        try:
            ds_.shape_key(header)
        except MedvisError as exc:
            failures.append(exc)
            continue
        headers.append(header)
    if failures and headers:
        names = ", ".join(str(f.path.name) for f in failures[:5] if f.path)
        warnings.append(f"skipped {len(failures)} unreadable DICOM file(s): {names}")
    if not headers:
        if failures:
            raise failures[0]
        raise UnsupportedFormatError(source, "the folder holds no DICOM image medvis can read")
    return headers


def _header(path: Path, *, require_magic: bool, notes: list[str]) -> Header | None:
    """Parse one header with the fast walker, else pydicom; None when not DICOM."""
    try:
        return parse_header(path, require_magic=require_magic)
    except NotDicom:
        return None
    except NotWalkable:
        pass
    except OSError as exc:
        if isinstance(exc, MedvisError):
            raise
        raise CorruptFileError(path, f"cannot read the file ({exc})") from None
    with ds_.pydicom_errors(path, notes):
        import pydicom

        dataset = pydicom.dcmread(path, defer_size=256, force=True)
        return ds_.header_from_dataset(path, dataset, [kw for kw, _ in WANTED.values()])


def _expand_frames(headers: list[Header], warnings: list[str]) -> list[ds_.SliceInfo]:
    """One SliceInfo per image; multi-frame files are opened with pydicom for frame geometry."""
    slices: list[ds_.SliceInfo] = []
    for header in headers:
        frames = header.get("NumberOfFrames", 1)
        if isinstance(frames, int) and frames > 1:
            with ds_.pydicom_errors(header.path, warnings):
                import pydicom

                dataset = pydicom.dcmread(header.path, stop_before_pixels=True, force=True)
                items, notes = ds_.frames_from_dataset(dataset, header)
            slices += items
            warnings += [n for n in notes if n not in warnings]
        else:
            slices.append(ds_.slice_from_header(header))
    return slices


# ------------------------------------------------------------------ voxels
def _load_voxels(
    source: Path, ordered: list[ds_.SliceInfo], key: tuple[int, ...], notes: list[str]
) -> tuple[NDArray[Any], Layout, np.dtype[Any]]:
    """Voxels of the ordered slices with rescale applied; returns (array, layout, dtype)."""
    rows, cols, samples, bits, stored_bits, representation = key
    slopes = [s.slope for s in ordered]
    intercepts = [s.intercept for s in ordered]
    shape = (len(ordered), rows, cols)
    if all(_fast_ok(s.header, key) for s in ordered):
        stored = ds_.stored_dtype(bits, representation == 1)
        out_dtype, in_place = ds_.plan_dtype(
            stored, stored_bits, representation == 1, slopes, intercepts
        )
        check_allocation(source, shape, out_dtype)
        out = np.empty(shape, out_dtype)
        if not in_place:
            check_allocation(source, shape, stored)
        raw = out.view(stored) if in_place else np.empty(shape, stored)

        def finish(k: int) -> None:
            ds_.correct_unused_bits(raw[k], bits, stored_bits)
            ds_.rescale_slice(raw[k], out[k], slopes[k], intercepts[k])

        _read_native(ordered, raw, finish)
        return out, "kji", out_dtype
    check_allocation(source, (*shape, samples), ds_.stored_dtype(bits, representation == 1))
    raw = _decode_with_pydicom(source, ordered, (rows, cols, samples), notes)
    if raw.ndim == 4:  # colour: no rescale
        return raw, "kjic", raw.dtype
    out_dtype, in_place = ds_.plan_dtype(
        raw.dtype, stored_bits, raw.dtype.kind == "i", slopes, intercepts
    )
    out = raw.view(out_dtype) if in_place else np.empty(raw.shape, out_dtype)
    for k in range(len(ordered)):
        ds_.rescale_slice(raw[k], out[k], slopes[k], intercepts[k])
    return out, "kji", out_dtype


def _fast_ok(header: Header, key: tuple[int, ...]) -> bool:
    """True when the pixel bytes can be copied straight from the file."""
    rows, cols, samples, bits, _, _ = key
    return (
        header.walked
        and (header.transfer_syntax in NATIVE_LE or header.transfer_syntax == "")
        and not header.encapsulated
        and samples == 1
        and bits in (8, 16, 32)
        and header.get("NumberOfFrames", 1) in (1, "1")
        and ds_.shape_key(header) == key
        and (header.pixel_length or 0) >= rows * cols * bits // 8
    )


def _read_native(
    ordered: list[ds_.SliceInfo], raw: NDArray[Any], finish: Callable[[int], None]
) -> None:
    """Read each file's pixel bytes into its slice of ``raw``, then call ``finish(k)``.

    Two threads share the files: reads and numpy's slice-sized operations release the
    GIL, and finishing a slice right after reading it works on cached memory.
    """
    flat = raw.reshape(-1).view(np.uint8).data
    size = raw[0].nbytes

    def read_range(start: int, stop: int) -> None:
        for k in range(start, stop):
            header = ordered[k].header
            target = flat[k * size : (k + 1) * size]
            if header.pixel_offset + size > header.file_size:
                raise TruncatedFileError(
                    header.path,
                    f"pixel data is truncated: {size} bytes needed from byte "
                    f"{header.pixel_offset}, the file has {header.file_size}",
                )
            with open(header.path, "rb", buffering=0) as fh:
                fh.seek(header.pixel_offset)
                got = 0
                while got < size:
                    n = fh.readinto(target[got:])
                    if not n:
                        raise TruncatedFileError(
                            header.path, "pixel data ended early while reading"
                        )
                    got += n
            finish(k)

    count = len(ordered)
    if count < 8:
        read_range(0, count)
        return
    bounds = np.linspace(0, count, _READ_THREADS + 1).astype(int)
    with ThreadPoolExecutor(_READ_THREADS) as pool:
        futures = [pool.submit(read_range, a, b) for a, b in itertools.pairwise(bounds)]
        for future in futures:
            future.result()


def _decode_with_pydicom(
    source: Path, ordered: list[ds_.SliceInfo], size: tuple[int, int, int], notes: list[str]
) -> NDArray[Any]:
    """Decode the slices with pydicom's ``pixel_array`` (compressed, big endian, multi-frame)."""
    import pydicom

    rows, cols, samples = size
    decoded: dict[Path, NDArray[Any]] = {}
    raw: NDArray[Any] | None = None
    for k, item in enumerate(ordered):
        if item.path not in decoded:
            decoded.clear()  # keep one file's frames in memory at a time
            with ds_.pydicom_errors(item.path, notes):
                dataset = pydicom.dcmread(item.path, force=True)
                ds_.check_decoder(item.path, dataset)
                pixels = dataset.pixel_array
            frames = int(item.header.get("NumberOfFrames", 1) or 1)
            decoded[item.path] = pixels.reshape(
                (frames, rows, cols, samples)[: 4 if samples > 1 else 3]
            )
        frame = decoded[item.path][item.frame]
        native = frame.dtype.newbyteorder("=")  # big endian data: native order
        if raw is None:
            shape = (len(ordered), *frame.shape)
            check_allocation(source, shape, native)
            raw = np.empty(shape, native)
        if native != raw.dtype:
            raise HeaderError(
                item.path, f"pixel type {frame.dtype} differs from the series' {raw.dtype}"
            )
        raw[k] = frame
    assert raw is not None
    return raw


# ------------------------------------------------------------------ element dump
_MAX_VALUE_CHARS = 80


def dicom_elements(path: str | os.PathLike[str], *, phi: bool = False) -> list[dict[str, Any]]:
    """Every element of one DICOM file (the first DICOM file of a folder), for display.

    Parameters
    ----------
    path : path-like
        A DICOM file or a folder.
    phi : bool
        Show identifying values (keywords of :data:`medvis.phi.PHI_DICOM_KEYWORDS`);
        by default they read ``"<hidden>"``.

    Returns
    -------
    list of dict
        ``{"tag": "(0010,0010)", "keyword", "vr", "value", "depth"}`` in file order;
        sequence items follow their sequence with a larger ``depth``. Long values are
        abbreviated; an element whose length does not fit its VR is shown raw as UN.

    Raises
    ------
    UnsupportedFormatError
        A folder without DICOM files.
    CorruptFileError
        pydicom cannot parse the file.
    """
    source = check_input(path)
    target = next(_dicom_files(source), None) if source.is_dir() else source
    if target is None:
        raise UnsupportedFormatError(source, "the folder holds no DICOM file")
    rows: list[dict[str, Any]] = []
    with ds_.pydicom_errors(target):
        import pydicom

        dataset = pydicom.dcmread(target, force=True)
        meta = getattr(dataset, "file_meta", None)
        if meta is not None:
            _dump(meta, 0, rows, phi)
        _dump(dataset, 0, rows, phi)
    return rows


def _dump(dataset: Any, depth: int, rows: list[dict[str, Any]], phi: bool) -> None:
    for tag in dataset.keys():
        text_tag = f"({tag.group:04X},{tag.element:04X})"
        try:
            elem = dataset[tag]
        except Exception:  # e.g. a value whose length does not fit its VR (pydicom raises)
            raw = dataset.get_item(tag)
            value = _short(f"{bytes(raw.value or b'')!r} (length does not fit its VR)")
            rows.append(
                {"tag": text_tag, "keyword": "", "vr": "UN", "value": value, "depth": depth}
            )
            continue
        keyword = elem.keyword or ""
        row = {"tag": text_tag, "keyword": keyword, "vr": str(elem.VR), "depth": depth}
        if keyword in PHI_DICOM_KEYWORDS and not phi and elem.value not in (None, "", b""):
            rows.append({**row, "value": "<hidden>"})
        elif elem.VR == "SQ":
            rows.append({**row, "value": f"<{len(elem.value)} item(s)>"})
            for n, item in enumerate(elem.value, start=1):
                rows.append(
                    {
                        "tag": "(FFFE,E000)",
                        "keyword": "Item",
                        "vr": "",
                        "value": f"item {n}",
                        "depth": depth + 1,
                    }
                )
                _dump(item, depth + 2, rows, phi)
        else:
            rows.append({**row, "value": _format_value(elem.value)})


def _format_value(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>" if len(value) > 16 else repr(bytes(value))
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return _short("\\".join(str(v) for v in value))
    return _short("" if value is None else str(value))


def _short(text: str) -> str:
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


READER = Reader(
    name="DICOM",
    extensions=_EXTENSIONS,
    can_read=can_read,
    read=read,
    accepts_folders=True,
)
