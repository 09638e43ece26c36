"""Where a DICOM stack lies: slice order, spacing, checks, and resampling onto a regular grid.

Geometry follows the DICOM standard (PS3.3 C.7.6.2.1.1), the way vtk-dicom does it:
the first three values of *Image Orientation (Patient)* are the direction of a row
(the i axis, along which the column index grows), the last three the direction of a
column (the j axis). Slices are ordered by projecting *Image Position (Patient)* on
the normal ``row x column``; *Slice Location* and *Instance Number* never order a
stack that has positions. The slice step comes from the positions.

Checks, each reported in words (like 3D Slicer's DICOM plugin): missing geometry,
orientations that differ, duplicate positions, missing slices, spacing that varies by
more than :data:`SPACING_TOLERANCE_MM`, and slice positions off the normal (gantry tilt,
detected from the positions, not from (0018,1120)). :func:`rectify` resamples a sheared
or unevenly spaced stack onto a regular orthogonal grid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis.io.dicom_series import SliceInfo

__all__ = [
    "SHEAR_TOLERANCE_MM",
    "SPACING_TOLERANCE_MM",
    "StackGeometry",
    "dominant",
    "orientation_axes",
    "rectify",
    "stack_geometry",
    "valid_orientation",
]

#: Positions further than this (mm) from the normal through the first slice: gantry tilt.
SHEAR_TOLERANCE_MM = 0.01
#: Slice steps that differ by more than this (mm) are "non-uniform spacing".
SPACING_TOLERANCE_MM = 0.01
#: Images closer than this (mm) along the normal share a position.
SAME_POSITION_MM = 1e-3


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
    positions : ndarray or None
        (positions, 3) LPS position of each slice of the first time point, in order.
    tilt_degrees : float
        Angle between the slice axis and the normal (0 unless sheared).
    uneven : bool
        True when the slice steps differ by more than the tolerance.
    """

    order: list[int]
    n_frames: int
    spacing: NDArray[np.float64]
    origin: NDArray[np.float64]
    direction: NDArray[np.float64]
    warnings: list[str]
    positions: NDArray[np.float64] | None = None
    tilt_degrees: float = 0.0
    uneven: bool = False
    axes: tuple[NDArray[np.float64], ...] = field(default_factory=tuple)


def dominant(slices: list[SliceInfo], key: Callable[[SliceInfo], Any]) -> tuple[list, list[str]]:
    """Keep the slices sharing the most common ``key(slice)`` (size, orientation ...)."""
    counts = Counter(key(s) for s in slices)
    if len(counts) <= 1:
        return slices, []
    best = counts.most_common(1)[0][0]
    kept = [s for s in slices if key(s) == best]
    return kept, [
        f"the images differ in size or orientation ({len(counts)} kinds); kept the "
        f"{len(kept)} images that share the most common one and ignored {len(slices) - len(kept)}"
    ]


def orientation_axes(iop: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
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


def valid_orientation(iop: NDArray[np.float64] | None) -> bool:
    """True for six finite cosines whose row and column are (nearly) orthogonal."""
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
    """Order the slices along the normal, derive spacing, origin and direction, and check.

    Parameters
    ----------
    slices : sequence of SliceInfo
        Images of one sub-series sharing size and orientation.
    pixel_spacing : pair of float or None
        *Pixel Spacing*: [between rows (j), between columns (i)].
    fallback_step : float or None
        Slice step for a single slice (*Spacing Between Slices* or *Slice Thickness*).
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
    if not valid_orientation(iop) or any(p is None or p.shape != (3,) for p in positions):
        return _no_geometry(slices, di, dj, step, warnings)
    assert iop is not None
    row, col, normal = orientation_axes(iop)
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
    order = sorted(range(len(slices)), key=lambda n: (depth[n], slices[n].time_key, n))
    order, n_frames, frame_warnings = _split_frames(order, depth, slices)
    warnings += frame_warnings
    firsts = order[: len(order) // n_frames]
    origin = pos[firsts[0]]
    axes = (row, col, normal)
    if len(firsts) == 1:
        direction = np.column_stack([row, col, normal])
        return StackGeometry(
            order, n_frames, np.array([di, dj, step]), origin, direction, warnings,
            pos[firsts], axes=axes,
        )  # fmt: skip
    span = pos[firsts[-1]] - pos[firsts[0]]
    steps = np.diff(depth[firsts])
    offsets = pos[firsts] - origin
    stray = np.linalg.norm(offsets - np.outer(offsets @ normal, normal), axis=1)
    tilt = 0.0
    if stray.max() <= SHEAR_TOLERANCE_MM:
        k_axis = normal
        dk = float(depth[firsts[-1]] - depth[firsts[0]]) / (len(firsts) - 1)
    else:
        k_axis = span / np.linalg.norm(span)
        dk = float(np.linalg.norm(span)) / (len(firsts) - 1)
        tilt = float(np.degrees(np.arccos(np.clip(k_axis @ normal, -1.0, 1.0))))
        tag = slices[0].header.get("GantryDetectorTilt")
        said = f"; (0018,1120) Gantry/Detector Tilt says {tag:g}" if tag is not None else ""
        warnings.append(
            f"slice positions are not along the slice normal: gantry tilt of about {tilt:.2f} "
            f"degrees (from the slice positions{said})"
        )
    uneven = bool(steps.max() - steps.min() > SPACING_TOLERANCE_MM)
    if uneven:
        warnings += _spacing_warnings(steps, depth[firsts])
    direction = np.column_stack([row, col, k_axis])
    return StackGeometry(
        order, n_frames, np.array([di, dj, dk]), origin, direction, warnings,
        pos[firsts], tilt, uneven, axes,
    )  # fmt: skip


def _spacing_warnings(steps: NDArray[np.float64], depths: NDArray[np.float64]) -> list[str]:
    typical = float(np.median(steps))
    notes = []
    gaps = [n for n, s in enumerate(steps) if typical > 0 and s > 1.5 * typical]
    if gaps:
        missing = sum(round(steps[n] / typical) - 1 for n in gaps)
        where = ", ".join(f"{depths[n]:.4g} to {depths[n + 1]:.4g} mm" for n in gaps[:5])
        notes.append(
            f"about {missing} slice(s) seem to be missing (the usual step is {typical:.4g} mm; "
            f"gaps along the normal at {where})"
        )
    notes.append(
        f"slice spacing is uneven: steps from {steps.min():.4g} to {steps.max():.4g} mm "
        f"(tolerance {SPACING_TOLERANCE_MM} mm)"
    )
    return notes


def _split_frames(
    order: list[int], depth: NDArray[np.float64], slices: Sequence[SliceInfo]
) -> tuple[list[int], int, list[str]]:
    """Several images per position: a time series (frames), or duplicates."""
    groups: list[list[int]] = []
    for n in order:
        if groups and abs(depth[n] - depth[groups[-1][0]]) <= SAME_POSITION_MM:
            groups[-1].append(n)
        else:
            groups.append([n])
    notes: list[str] = []
    # The same instance twice (a copied file) is dropped.
    deduped = []
    dropped = 0
    for group in groups:
        seen: set[Any] = set()
        kept = []
        for n in sorted(group, key=lambda m: (slices[m].time_key, m)):
            uid = slices[n].header.get("SOPInstanceUID")
            key = (uid or str(slices[n].path), slices[n].frame, slices[n].instance)
            if key in seen:
                dropped += 1
                continue
            seen.add(key)
            kept.append(n)
        deduped.append(kept)
    if dropped:
        notes.append(
            f"{dropped} image(s) are copies of another image (same SOP Instance UID and Instance "
            "Number); ignored"
        )
    counts = Counter(len(g) for g in deduped)
    n_frames = min(counts)
    if n_frames == 1 and len(counts) == 1:
        return [g[0] for g in deduped], 1, notes
    if len(counts) > 1:
        notes.append(
            f"duplicate slice positions: the positions hold {min(counts)} to {max(counts)} "
            f"images; kept {n_frames} per position (the earliest by temporal position, "
            "trigger time and Instance Number)"
        )
    if n_frames == 1:
        return [g[0] for g in deduped], 1, notes
    flat = [g[t] for t in range(n_frames) for g in deduped]  # time-major: [t, k]
    notes.append(
        f"{n_frames} images share each slice position; read as {n_frames} frames (layout "
        "'tkji') ordered by temporal position, trigger time and Instance Number"
    )
    return flat, n_frames, notes


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


# ------------------------------------------------------------------ resampling
def regular_step(depths: NDArray[np.float64]) -> float:
    """The step of the regular grid: the smallest step when every step is a multiple of it
    (missing slices), else the mean step (first and last slice stay on the grid)."""
    steps = np.diff(depths)
    smallest = float(steps.min())
    ratios = steps / smallest
    if smallest > 0 and np.all(np.abs(ratios - np.round(ratios)) < 0.05):
        return smallest
    return float(depths[-1] - depths[0]) / (len(depths) - 1)


def _shifted(
    image: NDArray[Any], offset: tuple[float, float], shape: tuple[int, ...], fill: float
) -> NDArray[np.float32]:
    """``image`` sampled bilinearly at ``(j + offset[0], i + offset[1])`` on a grid of ``shape``.

    A pixel covers half a pixel beyond its centre, so samples up to 0.5 pixel outside
    the image take the edge value; further out they take ``fill``.
    """
    from scipy import ndimage

    out = ndimage.affine_transform(
        image.astype(np.float32), np.ones(2), offset=offset, output_shape=shape,
        order=1, mode="nearest", output=np.float32,
    )  # fmt: skip
    for axis in (0, 1):
        where = np.arange(shape[axis]) + offset[axis]
        outside = (where < -0.5) | (where > image.shape[axis] - 0.5)
        if axis == 0:
            out[outside, :] = fill
        else:
            out[:, outside] = fill
    return out


def rectify(
    array: NDArray[Any], geometry: StackGeometry
) -> tuple[NDArray[Any], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], str]:
    """Resample a sheared or unevenly spaced stack onto a regular orthogonal grid.

    The grid keeps the images' row and column axes and pixel lattice (aligned with the
    first slice, widened to hold every slice's content) and puts k along the normal at
    :func:`regular_step`. A voxel of the grid is projected along the normal onto the two
    nearest slices, each is sampled bilinearly in its plane, and the two are blended
    linearly by depth (trilinear on the sheared stack). Outside the scanned images the
    voxels take the lowest value of the volume. Integer data are rounded back to their
    type.

    Parameters
    ----------
    array : ndarray
        ``[k, j, i]`` or ``[t, k, j, i]`` voxels, slices in ``geometry.order``.
    geometry : StackGeometry
        From :func:`stack_geometry`, with positions.

    Returns
    -------
    array, spacing, origin, direction, note
    """
    assert geometry.positions is not None and geometry.axes
    row, col, normal = geometry.axes
    di, dj = float(geometry.spacing[0]), float(geometry.spacing[1])
    offsets = geometry.positions - geometry.positions[0]
    depths = offsets @ normal
    shift_i, shift_j = offsets @ row / di, offsets @ col / dj
    i0, j0 = int(np.floor(shift_i.min() + 1e-6)), int(np.floor(shift_j.min() + 1e-6))
    i1, j1 = int(np.ceil(shift_i.max() - 1e-6)), int(np.ceil(shift_j.max() - 1e-6))
    dk = regular_step(depths)
    nk = round((depths[-1] - depths[0]) / dk) + 1
    stacks = array if array.ndim == 4 else array[np.newaxis]
    _, _, nj, ni = stacks.shape
    out_shape = (nk, nj + j1 - j0, ni + i1 - i0)
    fill = float(stacks.min()) if stacks.size else 0.0
    result = np.empty((stacks.shape[0], *out_shape), array.dtype)
    for t, stack in enumerate(stacks):
        planes: dict[int, NDArray[np.float32]] = {}
        for m in range(nk):
            d = depths[0] + m * dk
            b = int(np.clip(np.searchsorted(depths, d - 1e-6), 1, len(depths) - 1))
            a = b - 1
            w = float(np.clip((d - depths[a]) / (depths[b] - depths[a]), 0.0, 1.0))
            for s in (a, b):
                if s not in planes:
                    planes[s] = _shifted(
                        stack[s], (j0 - shift_j[s], i0 - shift_i[s]), out_shape[1:], fill
                    )
            for s in [s for s in planes if s < a]:
                del planes[s]
            value = (1 - w) * planes[a] + w * planes[b]
            if result.dtype.kind in "iu":
                info = np.iinfo(result.dtype)
                np.clip(np.rint(value), info.min, info.max, out=value)
            result[t, m] = value
    origin = geometry.positions[0] + i0 * di * row + j0 * dj * col
    direction = np.column_stack([row, col, normal])
    reasons = []
    if geometry.tilt_degrees:
        reasons.append(f"gantry tilt of {geometry.tilt_degrees:.2f} degrees")
    if geometry.uneven:
        reasons.append("non-uniform slice spacing")
    note = (
        f"resampled onto a regular orthogonal grid ({' and '.join(reasons)}): "
        f"{ni}x{nj}x{len(depths)} images -> {out_shape[2]}x{out_shape[1]}x{nk} voxels, "
        f"slice step {dk:.4g} mm, trilinear interpolation; pass tilt='keep' / spacing='keep' "
        "for the raw stack"
    )
    array_out = result if array.ndim == 4 else result[0]
    return array_out, np.array([di, dj, dk]), origin, direction, note
