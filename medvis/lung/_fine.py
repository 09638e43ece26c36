"""From the coarse right/left decision to full-resolution lung labels, a slab at a time.

Each lung's coarse cells (grown by one cell, so that lung voxels in cells whose mean was
above the air threshold are not lost) are carried to the fine grid; a fine voxel is lung
when it lies in such a cell, is aerated (``low <= HU <= high``) and is not in the airway
(whose cells are grown by one cell too, so no rim of lumen joins the lungs). Holes of
each lung in each axial slice (vessels, airway walls, nodules surrounded by lung) are
then filled. Working slab by slab keeps the temporaries to a few slices whatever the
size of the scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from medvis.canonical import contiguous
from medvis.lung._coarse import CoarseScan, fill_in_plane, grow

__all__ = ["FineLungs", "fine_labels", "FACE_NAMES"]

#: Canonical array faces: (axis, end) -> what the scan's edge there is.
FACE_NAMES = {
    (0, 0): "bottom",
    (0, 1): "top",
    (1, 0): "front",
    (1, 1): "back",
    (2, 0): "right side",
    (2, 1): "left side",
}
_SLAB = 16
_HIST_OFFSET = 2048
_HIST_BINS = 6144


@dataclass
class FineLungs:
    """The full-resolution labels (canonical order) and what was learnt making them.

    Attributes
    ----------
    labels : ndarray of uint8
        Canonical ``[z, y, x]`` labels: 0 background, 1 right lung, 2 left lung.
    boxes : dict
        Label -> canonical slices holding all of it.
    histograms : dict
        Label -> counts of HU values (offset by 2048, clipped) inside the filled lung.
    cut_by : dict
        Label -> names of the scan edges the lung touches (its volume is a lower bound).
    """

    labels: NDArray[np.uint8]
    boxes: dict[int, tuple[slice, slice, slice]] = field(default_factory=dict)
    histograms: dict[int, NDArray[np.int64]] = field(default_factory=dict)
    cut_by: dict[int, list[str]] = field(default_factory=dict)

    def median_hu(self, label: int) -> float:
        """Median HU inside one lung (vessels included)."""
        counts = self.histograms[label]
        half = np.searchsorted(np.cumsum(counts), 0.5 * counts.sum())
        return float(half - _HIST_OFFSET)

    def voxels(self, label: int) -> int:
        """Voxel count of one lung."""
        return int(self.histograms[label].sum())


def _grow_one_cell(side: NDArray[np.uint8], step: tuple[int, int, int]) -> NDArray[np.uint8]:
    """Each label grown by one cell in-plane (and in z when cells span several slices)."""
    grown = grow(side, through_slices=step[0] > 1)
    return np.where(side > 0, side, grown).astype(np.uint8)


def _fill_holes(labels: NDArray[np.uint8], value: int) -> None:
    """Fill, in place, the in-plane holes of one label with it (unlabelled voxels only)."""
    mask = labels == value
    if not mask.any():
        return
    holes = fill_in_plane(mask) & (labels == 0)
    labels[holes] = value


def _blow_up(
    cells: NDArray[Any], step: tuple[int, int, int], shape: tuple[int, ...]
) -> NDArray[Any]:
    """Cells repeated onto the fine grid (the box starts on a cell boundary), cropped."""
    out = cells
    for axis, st in enumerate(step):
        if st > 1:
            out = np.repeat(out, st, axis=axis)
    return np.ascontiguousarray(out[: shape[0], : shape[1], : shape[2]])


def _union(a: tuple[slice, ...] | None, b: tuple[slice, ...]) -> tuple[slice, ...]:
    if a is None:
        return b
    return tuple(
        slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b, strict=True)
    )


def fine_labels(
    hu: NDArray[Any],
    scan: CoarseScan,
    side: NDArray[np.uint8],
    airway: NDArray[np.bool_],
    hu_range: tuple[float, float],
) -> FineLungs:
    """Full-resolution labels from the coarse right (1) / left (2) cells.

    Parameters
    ----------
    hu : ndarray
        Canonical CT (a view is fine).
    scan : CoarseScan
        The coarse scan (block size, padding).
    side : ndarray of uint8
        Coarse labels: 1 right lung, 2 left lung.
    airway : ndarray of bool
        Coarse airway cells to keep out.
    hu_range : (float, float)
        Aerated lung: ``low <= HU <= high``.
    """
    low, high = hu_range
    step = scan.step
    grown = _grow_one_cell(side, step)
    cut = grow(airway) if airway.any() else None
    out = np.zeros(hu.shape, np.uint8)
    result = FineLungs(out)
    found = ndi.find_objects(grown)
    if not found:
        return result
    present = [v for v in (1, 2) if v <= len(found) and found[v - 1] is not None]
    coarse_box = None
    for v in present:
        coarse_box = _union(coarse_box, found[v - 1])
    assert coarse_box is not None
    box = scan.fine_slices(coarse_box, hu.shape)
    # Each lung's own columns and rows inside the box (holes are filled there only).
    own = {}
    for v in present:
        fine_box = scan.fine_slices(found[v - 1], hu.shape)
        own[v] = (
            slice(fine_box[1].start - box[1].start, fine_box[1].stop - box[1].start),
            slice(fine_box[2].start - box[2].start, fine_box[2].stop - box[2].start),
        )
    hist = {v: np.zeros(_HIST_BINS, np.int64) for v in present}
    boxes: dict[int, tuple[slice, ...] | None] = dict.fromkeys(present)
    ys, xs = box[1], box[2]
    shape_yx = (ys.stop - ys.start, xs.stop - xs.start)
    slab = max(1, _SLAB // step[0]) * step[0]
    for z0 in range(box[0].start, box[0].stop, slab):
        z1 = min(z0 + slab, box[0].stop)
        cells = tuple(
            slice(a // st, -(-b // st))
            for a, b, st in zip((z0, ys.start, xs.start), (z1, ys.stop, xs.stop), step, strict=True)
        )
        lab = _blow_up(grown[cells], step, (z1 - z0, *shape_yx))
        values = contiguous(hu[z0:z1, ys, xs])
        air = (values >= low) & (values <= high)
        if cut is not None:
            air &= ~_blow_up(cut[cells], step, (z1 - z0, *shape_yx))
        if scan.padding is not None:  # not imaged, even where it reads as air
            air &= ~(_blow_up(scan.padding[cells], step, air.shape) & (values == scan.pad_value))
        lab[~air] = 0
        for v in present:
            _fill_holes(lab[:, own[v][0], own[v][1]], v)
            inside = lab == v
            if inside.any():
                clipped = np.clip(values[inside], -_HIST_OFFSET, _HIST_BINS - _HIST_OFFSET - 1)
                hist[v] += np.bincount(
                    (clipped.astype(np.int32) + _HIST_OFFSET), minlength=_HIST_BINS
                )
        out[z0:z1, ys, xs] = lab
    for v, found_box in enumerate(ndi.find_objects(out[box]), start=1):
        if found_box is not None and v in boxes:
            boxes[v] = tuple(
                slice(f.start + b.start, f.stop + b.start)
                for f, b in zip(found_box, box, strict=True)
            )
    # Lung cells next to the reconstruction circle's padding (one grow for both lungs).
    at_circle = grown * grow(scan.padding) if scan.padding is not None else None
    for v in present:
        b = boxes[v]
        if b is None:
            continue
        result.boxes[v] = (b[0], b[1], b[2])
        result.histograms[v] = hist[v]
        result.cut_by[v] = _edges_touched(out, v, b, at_circle)
    return result


def _edges_touched(
    labels: NDArray[np.uint8],
    value: int,
    box: tuple[slice, ...],
    at_circle: NDArray[np.uint8] | None,
) -> list[str]:
    """Names of the scan's edges (faces, reconstruction circle) the lung reaches.

    ``at_circle`` holds the coarse lung labels next to the reconstruction circle.
    """
    edges = []
    for (axis, end), name in FACE_NAMES.items():
        at = 0 if end == 0 else labels.shape[axis] - 1
        if box[axis].start <= at < box[axis].stop:
            face = np.take(labels[box], at - box[axis].start, axis=axis)
            if np.any(face == value):
                edges.append(name)
    if at_circle is not None and np.any(at_circle == value):
        edges.append("reconstruction circle")
    return edges
