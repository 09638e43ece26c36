"""DICOM series logic: grouping, slice order, geometry, rescale, metadata, pydicom bridge.

Geometry follows the DICOM standard (PS3.3 C.7.6.2.1.1), the way vtk-dicom does it:
the first three values of *Image Orientation (Patient)* are the direction of a row
(the i axis, along which the column index grows), the last three the direction of a
column (the j axis). Slices are ordered by projecting *Image Position (Patient)* on
the normal ``row x column``; *Slice Location* and *Instance Number* are never used
for that. The slice step comes from the positions.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis.errors import (
    CorruptFileError,
    DecoderMissingError,
    HeaderError,
    MedvisError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from medvis.io.dicom_header import Header

__all__ = [
    "SliceInfo",
    "StackGeometry",
    "pick_series",
    "shape_key",
    "header_from_dataset",
    "check_decoder",
    "pydicom_errors",
    "correct_unused_bits",
    "dominant_shape",
    "plan_dtype",
    "rescale_slice",
    "series_metadata",
    "stack_geometry",
    "stored_dtype",
]

#: A stack whose positions stray further than this (mm) from the normal through the first
#: slice is treated as sheared (gantry tilt) rather than rounded onto the normal.
SHEAR_TOLERANCE_MM = 0.01
#: Relative spread of slice steps above which the reader warns about uneven spacing.
UNEVEN_TOLERANCE = 0.01


@dataclass
class SliceInfo:
    """One 2-D image of a series: a single-frame file or one frame of a multi-frame file.

    Attributes
    ----------
    path : Path
        The file holding it.
    frame : int
        Frame index inside the file (0 for single-frame files).
    position : ndarray or None
        *Image Position (Patient)*, LPS mm.
    orientation : ndarray or None
        *Image Orientation (Patient)*, six direction cosines.
    slope, intercept : float
        Rescale of this image.
    instance : int
        *Instance Number* (only used to order time points and geometry-less stacks).
    header : object
        The file's :class:`~medvis.io.dicom_header.Header`.
    pixel_spacing : list of float or None
        *Pixel Spacing* of this image ([row step, column step]).
    step : float or None
        *Spacing Between Slices* or else *Slice Thickness*, for a stack of one.
    """

    path: Path
    frame: int
    position: NDArray[np.float64] | None
    orientation: NDArray[np.float64] | None
    slope: float
    intercept: float
    instance: int
    header: Any
    pixel_spacing: list[float] | None = None
    step: float | None = None


@dataclass
class StackGeometry:
    """Where the sorted stack lies in LPS space.

    Attributes
    ----------
    order : list of int
        Indices into the input slices, in storage order; a 4-D stack lists every
        position of the first time point, then of the second, and so on.
    n_frames : int
        Time points per position (1 for a plain 3-D stack).
    spacing, origin, direction : ndarray
        Volume geometry (``direction`` columns: row cosine, column cosine, slice axis).
    warnings : list of str
        What the user should know (missing geometry, shear, uneven spacing ...).
    """

    order: list[int]
    n_frames: int
    spacing: NDArray[np.float64]
    origin: NDArray[np.float64]
    direction: NDArray[np.float64]
    warnings: list[str]


def pick_series(
    source: Path, headers: list[Any], series: str | None, warnings: list[str]
) -> list[Any]:
    """The headers of one series: ``series`` (a UID) when given, else the largest one.

    The other series are named in ``warnings``.

    Raises
    ------
    UnsupportedFormatError
        ``series`` is not among the series found.
    """
    groups: dict[str, list[Any]] = {}
    for header in headers:
        groups.setdefault(str(header.get("SeriesInstanceUID", "")), []).append(header)
    describe = {uid: str(group[0].get("SeriesDescription", "")) for uid, group in groups.items()}
    if series is not None:
        if series not in groups:
            raise UnsupportedFormatError(
                source, f"no series {series!r} here; series present: {', '.join(sorted(groups))}"
            )
        chosen = series
    else:
        chosen = max(groups, key=lambda uid: (len(groups[uid]), uid))
    others = [uid for uid in groups if uid != chosen]
    if others:
        listed = "; ".join(f"{uid} ({len(groups[uid])} files, {describe[uid]!r})" for uid in others)
        warnings.append(
            f"the folder holds {len(groups)} series; read {chosen} ({len(groups[chosen])} "
            f"files, {describe[chosen]!r}) and ignored {listed}; pass series=UID to choose another"
        )
    return groups[chosen]


def shape_key(header: Any) -> tuple[int, ...]:
    """(Rows, Columns, SamplesPerPixel, BitsAllocated, BitsStored, PixelRepresentation).

    Raises
    ------
    HeaderError
        A value is missing or impossible.
    """
    if header.shape is not None:
        return header.shape
    values = []
    for keyword in ("Rows", "Columns"):
        value = header.get(keyword)
        if not isinstance(value, int) or value <= 0:
            raise HeaderError(header.path, f"{keyword} is missing or invalid ({value!r})")
        values.append(value)
    bits = header.get("BitsAllocated")
    if not isinstance(bits, int) or bits not in (1, 8, 16, 32, 64):
        raise HeaderError(header.path, f"Bits Allocated is missing or unsupported ({bits!r})")
    stored = header.get("BitsStored", bits)
    if not isinstance(stored, int) or not 0 < stored <= bits:
        raise HeaderError(header.path, f"Bits Stored {stored!r} does not fit Bits Allocated {bits}")
    samples = header.get("SamplesPerPixel", 1)
    representation = header.get("PixelRepresentation", 0)
    header.shape = (*values, int(samples), bits, stored, int(representation))
    return header.shape


def dominant_shape(slices: list[SliceInfo], key: Any) -> tuple[list[SliceInfo], list[str]]:
    """Keep the slices sharing the most common ``key(slice)`` (size, orientation ...)."""
    counts = Counter(key(s) for s in slices)
    if len(counts) <= 1:
        return slices, []
    best = counts.most_common(1)[0][0]
    kept = [s for s in slices if key(s) == best]
    return kept, [
        f"the series mixes {len(counts)} image sizes or orientations; kept the "
        f"{len(kept)} images that share the most common one and ignored {len(slices) - len(kept)}"
    ]


def _orientation_axes(iop: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """Row, column and normal unit vectors of an *Image Orientation (Patient)*.

    Cosines written with a few decimals are not exactly orthogonal. Like ITK (hence
    SimpleITK, Slicer and dcmqi) the column cosine and the normal are kept and the row
    is re-derived as ``column x normal``, a change of about 1e-5 for 6-decimal values.
    """
    row = np.asarray(iop[:3], float)
    col = np.asarray(iop[3:6], float)
    col = col / np.linalg.norm(col)
    normal = np.cross(row, col)
    normal = normal / np.linalg.norm(normal)
    return np.cross(col, normal), col, normal


def _valid_orientation(iop: NDArray[np.float64] | None) -> bool:
    if iop is None or iop.shape != (6,) or not np.all(np.isfinite(iop)):
        return False
    row, col = iop[:3], iop[3:]
    nr, nc = np.linalg.norm(row), np.linalg.norm(col)
    return bool(nr > 0.5 and nc > 0.5 and abs(row @ col) / (nr * nc) < 1e-2)


def stack_geometry(
    slices: Sequence[SliceInfo],
    pixel_spacing: Sequence[float] | None,
    fallback_step: float | None,
) -> StackGeometry:
    """Order the slices along the normal and derive spacing, origin and direction.

    Parameters
    ----------
    slices : sequence of SliceInfo
        Images of one series sharing size and orientation.
    pixel_spacing : pair of float or None
        *Pixel Spacing*: [between rows (j), between columns (i)].
    fallback_step : float or None
        Slice step for a single slice (*Spacing Between Slices* or *Slice Thickness*).

    Returns
    -------
    StackGeometry
    """
    warnings: list[str] = []
    di, dj = 1.0, 1.0
    if pixel_spacing is not None and len(pixel_spacing) >= 2 and min(pixel_spacing[:2]) > 0:
        dj, di = float(pixel_spacing[0]), float(pixel_spacing[1])
    else:
        warnings.append("Pixel Spacing is missing; assuming 1 mm pixels")
    step = abs(float(fallback_step)) if fallback_step else 1.0
    iop = slices[0].orientation
    positions = [s.position for s in slices]
    if not _valid_orientation(iop) or any(p is None or p.shape != (3,) for p in positions):
        return _no_geometry(slices, di, dj, step, warnings)
    assert iop is not None
    row, col, normal = _orientation_axes(iop)
    skew = abs(float(np.dot(iop[:3], iop[3:]))) / float(
        np.linalg.norm(iop[:3]) * np.linalg.norm(iop[3:])
    )
    if skew > 1e-4:
        warnings.append(
            f"Image Orientation (Patient) row and column are not orthogonal (cosine {skew:.2g}); "
            "the row direction was re-derived from the column and the normal"
        )
    pos = np.array(positions, float)
    depth = pos @ normal
    order = sorted(range(len(slices)), key=lambda n: (depth[n], slices[n].instance, n))
    order, n_frames, frame_warnings = _split_frames(order, depth, slices)
    warnings += frame_warnings
    firsts = order[: len(order) // n_frames]
    origin = pos[firsts[0]]
    if len(firsts) == 1:
        direction = np.column_stack([row, col, normal])
        return StackGeometry(order, n_frames, np.array([di, dj, step]), origin, direction, warnings)
    span = pos[firsts[-1]] - pos[firsts[0]]
    steps = np.diff(depth[firsts])
    offsets = pos[firsts] - origin
    stray = np.linalg.norm(offsets - np.outer(offsets @ normal, normal), axis=1)
    if stray.max() <= SHEAR_TOLERANCE_MM:
        k_axis = normal
        dk = float(depth[firsts[-1]] - depth[firsts[0]]) / (len(firsts) - 1)
    else:
        k_axis = span / np.linalg.norm(span)
        dk = float(np.linalg.norm(span)) / (len(firsts) - 1)
        tilt = np.degrees(np.arccos(np.clip(k_axis @ normal, -1.0, 1.0)))
        warnings.append(
            f"slice positions are not along the slice normal (gantry tilt of about {tilt:.2f} "
            "degrees); the volume uses the sheared slice direction, so its direction matrix "
            "is not orthogonal"
        )
    if steps.max() - steps.min() > UNEVEN_TOLERANCE * abs(float(steps.mean())):
        warnings.append(
            f"slice spacing is uneven ({steps.min():.4g} to {steps.max():.4g} mm, mean "
            f"{steps.mean():.4g} mm); a slice may be missing. The volume uses the mean step"
        )
    direction = np.column_stack([row, col, k_axis])
    return StackGeometry(order, n_frames, np.array([di, dj, dk]), origin, direction, warnings)


def _split_frames(
    order: list[int], depth: NDArray[np.float64], slices: Sequence[SliceInfo]
) -> tuple[list[int], int, list[str]]:
    """Detect several images per position (time series); keep a uniform count per position."""
    tolerance = 1e-3
    groups: list[list[int]] = []
    for n in order:
        if groups and abs(depth[n] - depth[groups[-1][0]]) <= tolerance:
            groups[-1].append(n)
        else:
            groups.append([n])
    counts = Counter(len(g) for g in groups)
    if len(counts) == 1:
        n_frames = len(groups[0])
        if n_frames == 1:
            return order, 1, []
        groups = [sorted(g, key=lambda n: (slices[n].instance, n)) for g in groups]
        flat = [g[t] for t in range(n_frames) for g in groups]  # time-major: [t, k]
        return (
            flat,
            n_frames,
            [
                f"{n_frames} images share each slice position; read as {n_frames} frames "
                "(layout 'tkji') ordered by Instance Number"
            ],
        )
    kept = [g[0] for g in groups]
    return (
        kept,
        1,
        [
            f"some slice positions hold more than one image ({len(order)} images at {len(groups)} "
            "positions); kept the first image (lowest Instance Number) at each position"
        ],
    )


def _no_geometry(
    slices: Sequence[SliceInfo], di: float, dj: float, step: float, warnings: list[str]
) -> StackGeometry:
    order = sorted(range(len(slices)), key=lambda n: (slices[n].instance, n))
    origin = slices[0].position if slices[0].position is not None else np.zeros(3)
    warnings.append(
        "Image Orientation/Position (Patient) is missing or invalid; using an identity "
        "direction, and Instance Number for the slice order"
    )
    return StackGeometry(
        order, 1, np.array([di, dj, step]), np.asarray(origin, float), np.eye(3), warnings
    )


# ------------------------------------------------------------------ voxel values
def stored_dtype(bits_allocated: int, signed: bool) -> np.dtype[Any]:
    """The numpy type pydicom's ``pixel_array`` gives for native data (1-bit data: uint8)."""
    if bits_allocated == 1:
        return np.dtype(np.uint8)
    if bits_allocated not in (8, 16, 32, 64):
        raise ValueError(f"unsupported Bits Allocated {bits_allocated}")
    return np.dtype(f"<{'i' if signed else 'u'}{bits_allocated // 8}")


def _stored_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    if signed:
        return -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1
    return 0, (1 << bits_stored) - 1


def plan_dtype(
    raw: np.dtype[Any],
    bits_stored: int,
    signed: bool,
    slopes: Sequence[float],
    intercepts: Sequence[float],
) -> tuple[np.dtype[Any], bool]:
    """The output type after rescale, and whether the stored buffer can hold it in place.

    No rescale (all slopes 1, intercepts 0) keeps the stored type, as pydicom's
    ``pixel_array`` gives it. Integer rescale (slopes 1, integer intercepts) gives int16
    when every possible rescaled value of *Bits Stored* fits, else int32. Anything else
    (a real slope, a fractional intercept) gives float32. In place means the output has
    the stored item size and every stored value keeps its meaning when viewed as it
    (e.g. 12-bit unsigned data viewed as int16).
    """
    identity = all(s == 1 for s in slopes) and all(i == 0 for i in intercepts)
    if identity or raw.kind not in "iu":
        return raw, True
    low, high = _stored_range(bits_stored, signed)
    out: np.dtype[Any] = np.dtype(np.float32)
    if all(s == 1 for s in slopes) and all(float(i).is_integer() for i in intercepts):
        for candidate in (np.dtype(np.int16), np.dtype(np.int32)):
            info = np.iinfo(candidate)
            if info.min <= low + min(intercepts) and high + max(intercepts) <= info.max:
                out = candidate
                break
    if out.kind != "i" or out.itemsize != raw.itemsize:
        return out, False
    info = np.iinfo(out)
    return out, bool(info.min <= low and high <= info.max)


def correct_unused_bits(raw: NDArray[Any], bits_allocated: int, bits_stored: int) -> None:
    """Clear (unsigned) or sign-extend (signed) the bits above *Bits Stored*, in place.

    This is what pydicom 3's ``pixel_array`` does for native data (``correct_unused_bits``):
    a left then arithmetic right shift by ``bits_allocated - bits_stored`` (High Bit is
    assumed to be ``bits_stored - 1``). For unsigned data one mask does the same.
    """
    shift = bits_allocated - bits_stored
    if shift <= 0 or raw.dtype.kind not in "iu":
        return
    if raw.dtype.kind == "u":
        np.bitwise_and(raw, raw.dtype.type((1 << bits_stored) - 1), out=raw)
    else:
        np.left_shift(raw, shift, out=raw)
        np.right_shift(raw, shift, out=raw)


def rescale_slice(raw: NDArray[Any], out: NDArray[Any], slope: float, intercept: float) -> None:
    """Write ``raw * slope + intercept`` into ``out`` (which may share ``raw``'s memory).

    ``out.dtype`` comes from :func:`plan_dtype`: the stored type (nothing to do), an
    integer type (exact integer addition) or float32 (computed in float64, rounded once).
    """
    if out.dtype.kind in "iu":
        if out.dtype == raw.dtype and np.shares_memory(out, raw):
            if intercept:
                out += out.dtype.type(int(intercept))
            return
        source = raw.view(out.dtype) if np.shares_memory(out, raw) else raw
        np.add(source, out.dtype.type(int(intercept)), out=out, casting="unsafe")
        return
    out[...] = raw * float(slope) + float(intercept)


# ------------------------------------------------------------ building slices
def _floats(value: Any) -> NDArray[np.float64] | None:
    if value is None or value == "":
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        return np.array([float(v) for v in values], float)
    except (TypeError, ValueError):
        return None


def _number(value: Any, default: float) -> float:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    try:
        return default if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return default


def _step(spacing_between: Any, thickness: Any) -> float | None:
    for value in (spacing_between, thickness):
        number = _number(value, 0.0)
        if number:
            return abs(number)
    return None


def slice_from_header(header: Any) -> SliceInfo:
    """The :class:`SliceInfo` of a single-frame file from its header values."""
    spacing = _floats(header.get("PixelSpacing"))
    return SliceInfo(
        path=header.path,
        frame=0,
        position=_floats(header.get("ImagePositionPatient")),
        orientation=_floats(header.get("ImageOrientationPatient")),
        slope=_number(header.get("RescaleSlope"), 1.0),
        intercept=_number(header.get("RescaleIntercept"), 0.0),
        instance=int(_number(header.get("InstanceNumber"), 0)),
        header=header,
        pixel_spacing=None if spacing is None else spacing.tolist(),
        step=_step(header.get("SpacingBetweenSlices"), header.get("SliceThickness")),
    )


def plain_value(value: Any) -> Any:
    """A pydicom element value as plain Python (str, int, float or a list of them)."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        items = [plain_value(v) for v in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def header_from_dataset(path: Path, ds: Any, keywords: Sequence[str]) -> Header:
    """A :class:`Header` from a pydicom dataset (files the fast walker cannot read)."""
    values = {kw: plain_value(ds[kw].value) for kw in keywords if kw in ds}
    meta = getattr(ds, "file_meta", None)
    values["TransferSyntaxUID"] = str(meta.get("TransferSyntaxUID", "")) if meta else ""
    pixel = ds.get_item("PixelData") if "PixelData" in ds else None
    return Header(
        path=path,
        values=values,
        transfer_syntax=values["TransferSyntaxUID"],
        pixel_offset=None if pixel is None else (getattr(pixel, "value_tell", None) or 0),
        pixel_length=None if pixel is None else getattr(pixel, "length", None),
        walked=False,
    )


def _group_value(ds: Any, frame: int, sequence: str, keyword: str) -> Any:
    """A value from a functional group: the frame's own group first, then the shared one."""
    containers = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame):
        containers.append(per_frame[frame])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        containers.append(shared[0])
    for container in containers:
        items = container.get(sequence)
        if items and keyword in items[0]:
            return plain_value(items[0][keyword].value)
    return None


def frames_from_dataset(ds: Any, header: Any) -> tuple[list[SliceInfo], list[str]]:
    """One :class:`SliceInfo` per frame of a multi-frame file.

    Enhanced objects carry per-frame position, orientation, pixel spacing and rescale in
    functional groups. Older multi-frame objects (RT Dose, NM) give one position and
    orientation plus *Grid Frame Offset Vector* or *Spacing Between Slices* along the
    normal. Without any of these the frames get no position (identity geometry).
    """
    n_frames = int(_number(header.get("NumberOfFrames"), 1))
    base = slice_from_header(header)
    enhanced = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    offsets = (
        _floats(plain_value(ds["GridFrameOffsetVector"].value))
        if "GridFrameOffsetVector" in ds
        else None
    )
    warnings: list[str] = []
    slices = []
    for n in range(n_frames):
        item = SliceInfo(**{**base.__dict__, "frame": n, "instance": n})
        if enhanced:
            _apply_functional_groups(item, ds, n)
        elif _valid_orientation(base.orientation) and base.position is not None:
            item.position = _offset_position(base, n, offsets, warnings)
        slices.append(item)
    return slices, sorted(set(warnings))


def _apply_functional_groups(item: SliceInfo, ds: Any, n: int) -> None:
    position = _floats(_group_value(ds, n, "PlanePositionSequence", "ImagePositionPatient"))
    orientation = _floats(
        _group_value(ds, n, "PlaneOrientationSequence", "ImageOrientationPatient")
    )
    spacing = _floats(_group_value(ds, n, "PixelMeasuresSequence", "PixelSpacing"))
    item.position = position if position is not None else item.position
    item.orientation = orientation if orientation is not None else item.orientation
    item.pixel_spacing = spacing.tolist() if spacing is not None else item.pixel_spacing
    step = _step(
        _group_value(ds, n, "PixelMeasuresSequence", "SpacingBetweenSlices"),
        _group_value(ds, n, "PixelMeasuresSequence", "SliceThickness"),
    )
    item.step = step or item.step
    slope = _group_value(ds, n, "PixelValueTransformationSequence", "RescaleSlope")
    intercept = _group_value(ds, n, "PixelValueTransformationSequence", "RescaleIntercept")
    item.slope = _number(slope, item.slope)
    item.intercept = _number(intercept, item.intercept)


def _offset_position(
    base: SliceInfo, n: int, offsets: NDArray[np.float64] | None, warnings: list[str]
) -> NDArray[np.float64] | None:
    assert base.orientation is not None and base.position is not None
    normal = _orientation_axes(base.orientation)[2]
    if offsets is not None and len(offsets) > n:
        return base.position + offsets[n] * normal
    if base.step:
        warnings.append(
            "frames have no positions of their own; placed along the slice normal "
            f"every {base.step:g} mm (Spacing Between Slices or Slice Thickness)"
        )
        return base.position + n * base.step * normal
    return None


# ------------------------------------------------------------------ pydicom bridge
#: Package to install for each family of compressed transfer syntaxes.
_DECODER_PACKAGES = {
    "1.2.840.10008.1.2.4.5": "pylibjpeg-libjpeg",  # JPEG baseline, extended, lossless
    "1.2.840.10008.1.2.4.70": "pylibjpeg-libjpeg",  # JPEG lossless SV1
    "1.2.840.10008.1.2.4.8": "pylibjpeg-libjpeg",  # JPEG-LS
    "1.2.840.10008.1.2.4.9": "pylibjpeg-openjpeg",  # JPEG 2000
    "1.2.840.10008.1.2.4.20": "pylibjpeg-openjpeg",  # HTJ2K
    "1.2.840.10008.1.2.5": "pylibjpeg-rle",
}


def check_decoder(path: Path, dataset: Any) -> None:
    """Raise DecoderMissingError when compressed pixel data has no installed decoder."""
    meta = getattr(dataset, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid is None or not uid.is_compressed:
        return
    from pydicom.pixels import get_decoder

    try:
        available = get_decoder(uid).is_available
    except NotImplementedError:
        available = False
    if not available:
        package = next(
            (p for prefix, p in _DECODER_PACKAGES.items() if str(uid).startswith(prefix)), None
        )
        remedy = (
            f"install {package} (pip install pylibjpeg {package})"
            if package
            else "no decoder package for it is known to medvis"
        )
        raise DecoderMissingError(
            path,
            f"pixel data is compressed as {uid.name} ({uid}) and no decoder is installed; {remedy}",
        )


@contextlib.contextmanager
def pydicom_errors(path: Path, notes: list[str] | None = None) -> Iterator[None]:
    """Turn whatever pydicom raises into a typed medvis error naming ``path``.

    Warnings pydicom emits are collected into ``notes`` (the volume's warnings), never
    printed or dropped silently.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for item in caught:
            note = f"{path.name}: pydicom: {item.message}"
            if notes is not None and note not in notes:
                notes.append(note)
    except MedvisError:
        raise
    except EOFError as exc:
        raise TruncatedFileError(path, f"the file ends early ({exc})") from None
    except (RuntimeError, NotImplementedError) as exc:
        text = str(exc)
        if "missing dependencies" in text:
            raise DecoderMissingError(
                path, f"{text}; install pylibjpeg with pylibjpeg-libjpeg and pylibjpeg-openjpeg"
            ) from None
        raise CorruptFileError(path, f"the pixel data cannot be decoded: {text}") from None
    except Exception as exc:
        text = str(exc)
        if "length" in text and ("shorter" in text or "doesn't match" in text or "truncat" in text):
            raise TruncatedFileError(path, f"pixel data is truncated ({text})") from None
        raise CorruptFileError(
            path, f"pydicom cannot read it: {type(exc).__name__}: {text}"
        ) from None


# ------------------------------------------------------------------ metadata
_PHI_FIELDS = {
    "patient_name": "PatientName",
    "patient_id": "PatientID",
    "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex",
    "patient_age": "PatientAge",
    "patient_address": "PatientAddress",
    "other_patient_ids": "OtherPatientIDs",
    "institution_name": "InstitutionName",
    "institution_address": "InstitutionAddress",
    "referring_physician_name": "ReferringPhysicianName",
    "performing_physician_name": "PerformingPhysicianName",
    "operators_name": "OperatorsName",
    "accession_number": "AccessionNumber",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "series_date": "SeriesDate",
    "acquisition_date": "AcquisitionDate",
    "content_date": "ContentDate",
    "study_id": "StudyID",
    "station_name": "StationName",
    "device_serial_number": "DeviceSerialNumber",
}
_TS_NAMES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
}


def _per_series(values: list[float]) -> float | list[float]:
    """One value when all slices agree, else the list in storage order."""
    return values[0] if len(set(values)) == 1 else values


def _transfer_syntax_name(uid: str) -> str:
    if not uid:
        return "unknown (no file meta)"
    name = _TS_NAMES.get(uid)
    if name is None:
        from pydicom.uid import UID

        name = UID(uid).name
    return f"{name} ({uid})"


def series_metadata(
    ordered: list[SliceInfo], out_dtype: np.dtype[Any], n_files: int
) -> dict[str, Any]:
    """Plain, JSON-serialisable header facts of the series (PHI keys from medvis.phi)."""
    header = ordered[0].header
    modality = header.get("Modality")
    has_rescale = any(s.slope != 1 or s.intercept != 0 for s in ordered) or any(
        header.get(keyword) is not None for keyword in ("RescaleSlope", "RescaleIntercept")
    )
    rescale_type = header.get("RescaleType") or ("HU" if modality == "CT" and has_rescale else None)
    meta: dict[str, Any] = {
        "format": "DICOM",
        "modality": modality,
        "series_instance_uid": header.get("SeriesInstanceUID"),
        "series_description": header.get("SeriesDescription"),
        "sop_class_uid": header.get("SOPClassUID"),
        "transfer_syntax": _transfer_syntax_name(header.transfer_syntax),
        "bits_allocated": header.get("BitsAllocated"),
        "bits_stored": header.get("BitsStored"),
        "high_bit": header.get("HighBit"),
        "pixel_representation": header.get("PixelRepresentation"),
        "photometric_interpretation": header.get("PhotometricInterpretation"),
        "samples_per_pixel": header.get("SamplesPerPixel", 1),
        "rescale_slope": _per_series([s.slope for s in ordered]),
        "rescale_intercept": _per_series([s.intercept for s in ordered]),
        "rescale_type": rescale_type,
        "window_center": header.get("WindowCenter"),
        "window_width": header.get("WindowWidth"),
        "n_files": n_files,
        "number_of_frames": int(header.get("NumberOfFrames", 1) or 1),
        "slice_thickness": header.get("SliceThickness"),
        "units": "HU" if rescale_type == "HU" and has_rescale else None,
        "dtype": str(out_dtype),
    }
    for key, keyword in _PHI_FIELDS.items():
        meta[key] = header.get(keyword)
    return meta
