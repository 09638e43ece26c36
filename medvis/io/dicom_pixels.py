"""Stored DICOM pixel values -> the values a user means: the DICOM pixel pipeline.

In order (PS3.3 C.7.6.3, C.11, C.7.5.1.1.2):

1. stored values with the bits above *Bits Stored* cleared or sign-extended
   (:func:`correct_unused_bits`);
2. the Modality LUT: a *Modality LUT Sequence* (decoded by pydicom) or *Rescale
   Slope/Intercept* (:func:`plan_dtype`, :func:`rescale_slice`); for Philips MR the
   private scale can give "floating point" values instead (:func:`philips_rescale`);
3. *Pixel Padding Value* / *Range Limit*: padded voxels (outside the scanned field)
   take the lowest real value of the volume, for CT at least -1024 HU (air)
   (:func:`replace_padding`);
4. MONOCHROME1 (minimum shown white) is mirrored into MONOCHROME2 order, so that a
   larger value is always brighter (:func:`invert_monochrome1`); the window is mirrored
   with it.

The VOI LUT (window center/width, or a VOI LUT Sequence) is a display setting: it is
never applied to the voxels, only offered as the default window (:func:`display_window`).
Colour data (RGB, YBR converted to RGB, PALETTE COLOR expanded) keeps its samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "correct_unused_bits",
    "display_window",
    "invert_monochrome1",
    "mirror",
    "philips_rescale",
    "plan_dtype",
    "replace_padding",
    "rescale_slice",
    "stored_dtype",
    "stored_range",
]

PhilipsScaling = Literal["display", "float"]


def stored_dtype(bits_allocated: int, signed: bool) -> np.dtype[Any]:
    """The numpy type pydicom's ``pixel_array`` gives for native data (1-bit data: uint8)."""
    if bits_allocated == 1:
        return np.dtype(np.uint8)
    if bits_allocated not in (8, 16, 32, 64):
        raise ValueError(f"unsupported Bits Allocated {bits_allocated}")
    return np.dtype(f"<{'i' if signed else 'u'}{bits_allocated // 8}")


def stored_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    """Lowest and highest value *Bits Stored* bits can hold."""
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
    low, high = stored_range(bits_stored, signed)
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


def philips_rescale(
    slope: float, intercept: float, scale: tuple[float, float] | None, mode: PhilipsScaling
) -> tuple[float, float]:
    """The (slope, intercept) that gives Philips "display" or "floating point" values.

    Philips MR stores a private scale slope SS (2005,100E) beside the DICOM rescale
    (RS, RI). Display values are ``DV = SV * RS + RI`` (the DICOM rescale, what every
    viewer shows); floating point values, proportional to the MR signal and comparable
    between series, are ``FP = DV / (RS * SS)`` (Chenevert et al., Transl Oncol 2014).
    The private scale intercept is recorded in the metadata but not used.
    """
    if mode == "display" or scale is None or not scale[0] or not slope:
        return slope, intercept
    factor = 1.0 / (slope * scale[0])
    return slope * factor, intercept * factor


def replace_padding(
    out: NDArray[Any],
    slopes: Sequence[float],
    intercepts: Sequence[float],
    padding: tuple[float, float],
    *,
    floor: float | None = None,
) -> dict[str, Any] | None:
    """Give voxels whose *stored* value lies in ``padding`` the lowest real value.

    ``out`` holds rescaled values, slice k rescaled by ``slopes[k]``/``intercepts[k]``;
    the stored padding interval maps to a rescaled interval per slice (rescale is
    monotonic). ``floor`` raises the fill value (CT: -1024 HU, air, so that undershoot
    of lossy compression does not set the fill). Returns a summary for the metadata,
    or None when no voxel is padding.
    """
    low, high = min(padding), max(padding)
    masks = []
    lowest: float | None = None
    count = 0
    for k in range(out.shape[0]):
        ends = sorted((low * slopes[k] + intercepts[k], high * slopes[k] + intercepts[k]))
        plane = out[k]
        mask = (plane >= ends[0]) & (plane <= ends[1])
        n = int(np.count_nonzero(mask))
        masks.append(mask if n else None)
        count += n
        if n < plane.size:
            real_min = float(plane[~mask].min()) if n else float(plane.min())
            lowest = real_min if lowest is None else min(lowest, real_min)
    if not count:
        return None
    fill = lowest if lowest is not None else 0.0
    if floor is not None:
        fill = max(fill, floor)
    for k, mask in enumerate(masks):
        if mask is not None:
            out[k][mask] = fill
    return {"stored_range": [low, high], "replaced_with": fill, "voxels": count}


def invert_monochrome1(out: NDArray[Any], value_range: tuple[float, float]) -> None:
    """Mirror MONOCHROME1 values in place: ``v -> low + high - v``.

    ``value_range`` is the range the modality values can take (stored range after
    rescale), which the mirror maps onto itself, so the data type still holds it.
    """
    total = value_range[0] + value_range[1]
    if out.dtype.kind in "iu":
        np.subtract(out.dtype.type(total), out, out=out)
    else:
        np.subtract(total, out, out=out)


def mirror(center: Any, value_range: Sequence[float]) -> Any:
    """A window center (or list of them) mirrored like :func:`invert_monochrome1`."""
    if center is None:
        return None
    total = value_range[0] + value_range[1]
    if isinstance(center, list):
        return [total - float(c) for c in center]
    return total - float(center)


def display_window(metadata: dict[str, Any], voi_lut: Any) -> None:
    """Offer a window derived from a VOI LUT Sequence when the file has no center/width.

    The LUT maps inputs ``first .. first + n - 1`` (its descriptor); a linear window
    over that input range is the closest center/width.
    """
    if metadata.get("window_center") is not None or voi_lut is None:
        return
    try:
        n, first, _bits = (int(v) for v in voi_lut[0].LUTDescriptor)
    except (AttributeError, IndexError, TypeError, ValueError):
        return
    n = n or 65536
    metadata["window_center"] = first + n / 2
    metadata["window_width"] = float(n)
    metadata["window_explanation"] = "derived from the VOI LUT Sequence's input range"
