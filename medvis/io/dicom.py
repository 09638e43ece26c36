"""DICOM reader: one file, a DICOMDIR, or a folder of series -> :class:`~medvis.volume.Volume`.

The pieces, each in its own module:

* :mod:`~medvis.io.dicom_header` walks headers fast (no pydicom for little endian);
* :mod:`~medvis.io.dicom_scan` finds the files, skips what is not an image, groups
  series and sub-series and picks one (headers only);
* :mod:`~medvis.io.dicom_multiframe` gives every frame of a multi-frame file its place;
* :mod:`~medvis.io.dicom_geometry` orders the stack, checks it, and resamples a tilted
  or unevenly spaced one onto a regular grid;
* this module reads the voxels: uncompressed little-endian files straight into one
  preallocated array (two threads), everything else through pydicom
  (:mod:`~medvis.io.dicom_decode`); both give bit-identical values;
* :mod:`~medvis.io.dicom_pixels` turns stored values into modality values (rescale,
  Modality LUT, Philips scaling, padding, MONOCHROME1).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis.errors import DecoderMissingError, HeaderError, MedvisError, TruncatedFileError
from medvis.io import dicom_geometry as geo
from medvis.io import dicom_pixels as px
from medvis.io import dicom_scan
from medvis.io._files import check_allocation, check_input, split_name
from medvis.io.dicom_decode import decode_file
from medvis.io.dicom_dump import dicom_elements
from medvis.io.dicom_header import NATIVE_LE, Header, looks_like_dicom
from medvis.io.dicom_series import SliceInfo, series_metadata, shape_key
from medvis.io.registry import Reader
from medvis.volume import Layout, Volume

__all__ = ["READER", "can_read", "dicom_elements", "read"]

_EXTENSIONS = dicom_scan.EXTENSIONS
_NEVER = (".img", ".hdr", ".gz")
_READ_THREADS = 2
_CHOICES = {
    "tilt": ("auto", "rectify", "keep"),
    "spacing": ("auto", "resample", "keep"),
    "philips_scaling": ("display", "float"),
    "padding": ("replace", "keep"),
}


# ------------------------------------------------------------------ sniffing
def can_read(path: Path, head: bytes) -> bool:
    """True for a DICOM file, or a folder holding at least one DICOM file.

    A file needs the DICM magic at byte 128, or (without the preamble) a DICOM extension
    and a plausible little-endian dataset start. ``.img``/``.hdr`` are never claimed.
    """
    path = Path(path)
    if path.is_dir():
        return any(True for _ in dicom_scan.dicom_files(path, stop_at_first=True))
    _, ext = split_name(path)
    if ext in _NEVER or path.name.lower().endswith(_NEVER):
        return False
    return head[128:132] == b"DICM" or (ext in _EXTENSIONS and looks_like_dicom(head))


# ------------------------------------------------------------------ reading
def read(
    path: str | os.PathLike[str],
    *,
    series: str | None = None,
    tilt: str = "auto",
    spacing: str = "auto",
    philips_scaling: str = "display",
    padding: str = "replace",
    **ignored: Any,
) -> Volume:
    """Read a DICOM file, a DICOMDIR, or one series of a folder.

    Parameters
    ----------
    path : path-like
        A DICOM file (single- or multi-frame), a DICOMDIR, or a folder (searched
        recursively; non-DICOM files and DICOM objects without pixels are skipped).
    series : str, optional
        Which series: a *Series Instance UID*, or a sub-series id ``UID#n`` as
        ``medvis info FOLDER`` lists them. By default the obvious candidate (the
        largest series that is not a localizer); the others are named in the warnings.
    tilt : {"auto", "rectify", "keep"}
        A stack whose positions are off the slice normal (gantry tilt): "rectify"
        resamples it onto a regular orthogonal grid, "keep" keeps the raw stack with a
        sheared (non-orthogonal) direction. "auto" rectifies CT and keeps the others.
    spacing : {"auto", "resample", "keep"}
        A stack with non-uniform slice spacing (or missing slices): "resample" onto a
        regular grid, or "keep" the images with the mean step. "auto": resample CT.
    philips_scaling : {"display", "float"}
        Philips MR: the DICOM rescale ("display" values, as viewers show them) or the
        private "floating point" scale (comparable between series).
    padding : {"replace", "keep"}
        *Pixel Padding Value* voxels: given the lowest real value, or kept as stored.

    Returns
    -------
    Volume
        ``array[k, j, i]`` with rescale applied (CT in HU), LPS geometry;
        ``layout="kjic"`` for colour, ``"tkji"`` for several images per position.
        Geometry and decoding problems are listed in ``Volume.warnings``.

    Raises
    ------
    UnsupportedFormatError
        No readable DICOM image, or ``series`` names nothing that was found.
    TruncatedFileError, CorruptFileError, HeaderError
        A single file is cut short, undecodable, or lacks a required element (in a
        folder such files are skipped with a warning).
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
    options = {"tilt": tilt, "spacing": spacing, "philips_scaling": philips_scaling}
    options["padding"] = padding
    for name, value in options.items():
        if value not in _CHOICES[name]:
            raise ValueError(f"{name} must be one of {', '.join(_CHOICES[name])}, not {value!r}")
    source = check_input(path)
    warnings: list[str] = []
    found = dicom_scan.scan(source, warnings)
    chosen = dicom_scan.choose(source, found, series, warnings)
    slices, mixed = geo.dominant(
        chosen.images, lambda s: (shape_key(s.header), _rounded(s.orientation))
    )
    warnings += mixed
    is_mr = slices[0].header.get("Modality") == "MR"
    for s in slices:
        if is_mr and s.philips_scale is not None:
            s.slope, s.intercept = px.philips_rescale(
                s.slope,
                s.intercept,
                s.philips_scale,
                philips_scaling,  # type: ignore[arg-type]
            )
    geometry = _geometry(slices)
    ordered = [slices[n] for n in geometry.order]
    key = shape_key(ordered[0].header)
    array, layout, notes, failed = _load_voxels(source, ordered, key, warnings, padding)
    if failed:
        keep = [k for k in range(len(ordered)) if k not in failed]
        ordered, array = [ordered[k] for k in keep], array[keep]
        geometry = _geometry(ordered)
        ordered, array = [ordered[n] for n in geometry.order], array[geometry.order]
    warnings += geometry.warnings
    if geometry.n_frames > 1:
        array = array.reshape((geometry.n_frames, -1, *array.shape[1:]))
        layout = "tkji"
    metadata = series_metadata(ordered, array.dtype, warnings)
    metadata.update(notes)
    metadata["series_id"], metadata["series_part"] = chosen.id, chosen.label or None
    if notes.get("monochrome1_inverted"):
        metadata["window_center"] = px.mirror(metadata["window_center"], notes["value_range"])
    _voi_lut_window(metadata, ordered[0])
    spacing_, origin, direction = geometry.spacing, geometry.origin, geometry.direction
    if _wants_rectify(geometry, metadata, tilt, spacing, layout, warnings):
        array, spacing_, origin, direction, note = geo.rectify(array, geometry)
        warnings.append(note)
        metadata["resampled"] = note
    metadata["gantry_tilt_degrees"] = round(geometry.tilt_degrees, 4)
    return Volume(
        array,
        spacing=spacing_,
        origin=origin,
        direction=direction,
        layout=layout,
        metadata=metadata,
        source=str(path),
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _geometry(slices: list[SliceInfo]) -> geo.StackGeometry:
    first = slices[0]
    return geo.stack_geometry(slices, first.pixel_spacing, first.step)


def _wants_rectify(
    geometry: geo.StackGeometry,
    metadata: dict[str, Any],
    tilt: str,
    spacing: str,
    layout: str,
    warnings: list[str],
) -> bool:
    """Whether to resample onto a regular grid; the reason not to goes to ``warnings``."""
    tilted, uneven = geometry.tilt_degrees > 0, geometry.uneven
    if not (tilted or uneven):
        return False
    ct = metadata.get("modality") == "CT"
    want_tilt = tilt == "rectify" or (tilt == "auto" and ct)
    want_spacing = spacing == "resample" or (spacing == "auto" and ct)
    wanted = (tilted and want_tilt) or (uneven and want_spacing and not (tilted and tilt == "keep"))
    if wanted and layout == "kjic":
        warnings.append("colour images are not resampled; the raw stack is kept")
        return False
    if not wanted and tilted:
        warnings.append(
            "kept the raw tilted stack: its direction matrix is sheared (not orthogonal), "
            "which some tools ignore; pass tilt='rectify' for a regular orthogonal grid"
        )
    elif not wanted:
        warnings.append(
            "kept the images as they are, with the mean slice step, so positions between the "
            "first and last slice are approximate; pass spacing='resample' for a regular grid"
        )
    return wanted


def _voi_lut_window(metadata: dict[str, Any], first: SliceInfo) -> None:
    if metadata.get("window_center") is not None or not first.header.get("VOILUTSequence"):
        return
    import pydicom

    with contextlib.suppress(Exception):
        ds = pydicom.dcmread(first.path, stop_before_pixels=True, force=True)
        px.display_window(metadata, ds.get("VOILUTSequence"))


def _rounded(values: NDArray[np.float64] | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(np.round(values, 3).tolist())


# ------------------------------------------------------------------ voxels
def _load_voxels(
    source: Path, ordered: list[SliceInfo], key: tuple[int, ...], notes: list[str], padding: str
) -> tuple[NDArray[Any], Layout, dict[str, Any], list[int]]:
    """Voxels of the ordered slices as modality values.

    Returns (array, layout, metadata notes, indices of images that could not be decoded).
    """
    rows, cols, samples, bits, stored_bits, representation = key
    signed = representation == 1
    shape = (len(ordered), rows, cols)
    failed: list[int] = []
    lut = False
    if all(_fast_ok(s.header, key) for s in ordered):
        slopes = [s.slope for s in ordered]
        intercepts = [s.intercept for s in ordered]
        stored = px.stored_dtype(bits, signed)
        out_dtype, in_place = px.plan_dtype(stored, stored_bits, signed, slopes, intercepts)
        check_allocation(source, shape, out_dtype)
        out = np.empty(shape, out_dtype)
        if not in_place:
            check_allocation(source, shape, stored)
        raw = out.view(stored) if in_place else np.empty(shape, stored)

        def finish(k: int) -> None:
            px.correct_unused_bits(raw[k], bits, stored_bits)
            px.rescale_slice(raw[k], out[k], slopes[k], intercepts[k])

        _read_native(ordered, raw, finish)
    else:
        check_allocation(source, (*shape, samples), px.stored_dtype(bits, signed))
        raw, failed, lut = _decode_with_pydicom(source, ordered, notes)
        if raw.ndim == 4:  # colour: no rescale
            return raw, "kjic", _colour_notes(ordered[0]), failed
        if lut:
            for s in ordered:
                s.slope, s.intercept = 1.0, 0.0
        slopes = [s.slope for s in ordered]
        intercepts = [s.intercept for s in ordered]
        out_dtype, in_place = px.plan_dtype(
            raw.dtype, stored_bits, raw.dtype.kind == "i", slopes, intercepts
        )
        out = raw.view(out_dtype) if in_place else np.empty(raw.shape, out_dtype)
        for k in range(len(ordered)):
            px.rescale_slice(raw[k], out[k], slopes[k], intercepts[k])
    facts: dict[str, Any] = {"modality_lut_applied": lut or None}
    header = ordered[0].header
    pad_value = header.get("PixelPaddingValue")
    if pad_value is not None and padding == "replace" and not lut and not failed:
        limit = header.get("PixelPaddingRangeLimit", pad_value)
        pads = [_as_stored(v, bits, signed) for v in (pad_value, limit)]
        floor = -1024.0 if header.get("Modality") == "CT" else None
        facts["pixel_padding"] = px.replace_padding(
            out, slopes, intercepts, (pads[0], pads[1]), floor=floor
        )
    if str(header.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        low, high = px.stored_range(stored_bits, signed)
        ends = [v * s + i for v in (low, high) for s, i in zip(slopes, intercepts, strict=True)]
        value_range = (min(ends), max(ends)) if not lut else (out.min(), out.max())
        px.invert_monochrome1(out, value_range)
        facts.update(monochrome1_inverted=True, value_range=[float(v) for v in value_range])
        notes.append(
            "MONOCHROME1 (lowest value shown white): values mirrored so that larger is "
            "brighter, as for MONOCHROME2; the file's window is mirrored with them"
        )
    return out, "kji", facts, failed


def _as_stored(value: Any, bits: int, signed: bool) -> int:
    """A padding value as the stored type reads it (implicit VR files give US for SS)."""
    number = int(value[0] if isinstance(value, list) else value)
    if signed and number >= 1 << (min(bits, 16) - 1) and bits <= 16:
        number -= 1 << min(bits, 16)
    return number


def _colour_notes(first: SliceInfo) -> dict[str, Any]:
    photometric = str(first.header.get("PhotometricInterpretation", "")).strip()
    if photometric == "PALETTE COLOR" or photometric.startswith("YBR"):
        return {"colour_space": "RGB", "converted_from": photometric}
    return {"colour_space": photometric or "RGB"}


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
        and shape_key(header) == key
        and (header.pixel_length or 0) >= rows * cols * bits // 8
        and header.get("PhotometricInterpretation", "MONOCHROME2") in ("MONOCHROME1", "MONOCHROME2")
        and not header.get("ModalityLUTSequence")
    )


def _read_native(
    ordered: list[SliceInfo], raw: NDArray[Any], finish: Callable[[int], None]
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
    source: Path, ordered: list[SliceInfo], notes: list[str]
) -> tuple[NDArray[Any], list[int], bool]:
    """Decode the images with pydicom (compressed, big endian, colour, multi-frame).

    In a series of several files, a file that cannot be decoded is left out with a
    warning (its index is returned); a single file raises.
    """
    decoded: dict[Path, NDArray[Any]] = {}
    broken: dict[Path, MedvisError] = {}
    raw: NDArray[Any] | None = None
    failed: list[int] = []
    lut = False
    several = len({s.path for s in ordered}) > 1
    for k, item in enumerate(ordered):
        if item.path in broken:
            failed.append(k)
            continue
        if item.path not in decoded:
            decoded.clear()  # keep one file's frames in memory at a time
            try:
                pixels, _, used_lut = decode_file(item.path, notes)
            except MedvisError as exc:
                if not several or isinstance(exc, DecoderMissingError):
                    raise
                broken[item.path] = exc
                failed.append(k)
                continue
            lut = lut or used_lut
            decoded[item.path] = pixels
        frame = decoded[item.path][item.frame]
        if raw is None:
            shape = (len(ordered), *frame.shape)
            check_allocation(source, shape, frame.dtype)
            raw = np.empty(shape, frame.dtype)
        if frame.dtype != raw.dtype or frame.shape != raw.shape[1:]:
            raise HeaderError(
                item.path,
                f"pixel type {frame.dtype} {frame.shape} differs from the series' "
                f"{raw.dtype} {raw.shape[1:]}",
            )
        raw[k] = frame
    if broken:
        names = ", ".join(f"{p.name} ({e.reason[:80]})" for p, e in list(broken.items())[:5])
        notes.append(f"left out {len(failed)} image(s) that could not be decoded: {names}")
    if raw is None or len(failed) == len(ordered):
        raise next(iter(broken.values()))
    return raw, failed, lut


READER = Reader(
    name="DICOM",
    extensions=_EXTENSIONS,
    can_read=can_read,
    read=read,
    accepts_folders=True,
)
