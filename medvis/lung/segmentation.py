"""Left and right lungs from a CT in Hounsfield units (numpy, scipy.ndimage, SimpleITK).

The steps, all on the scan viewed in canonical LPS order (see :mod:`medvis.lung._orient`,
so the result does not depend on how the scan is stored):

1. **Coarse pass** (every 2nd voxel in-plane when the pixels are finer than 1.3 mm):
   air is ``HU <= high``; air connected to the *in-plane* faces of the image is outside
   the body (the lungs and the trachea may run through the first or last slice, so those
   faces do not count). Enclosed air whose wall to the outside is thinner than
   ``wall_mm`` (a hollow table, air trapped between a tray and the back) is outside
   too. The largest remaining air regions are the lung candidates.
2. **Fine pass** on a crop around them, at full resolution: the same components,
   restricted to ``low <= HU <= high``.
3. **Airways**: the trachea is found as a small round air region near the midline in
   the upper slices and followed down slice by slice (through the carina into both main
   bronchi) until each branch opens into lung in the slice plane; those voxels go.
4. **Left/right**: the two largest parts are the lungs. One part spanning both sides
   of the midline (lungs touching at the anterior or posterior junction) is split by
   eroding until it falls in two, then growing both halves back inside the mask.
   Patient left is the part at larger LPS x.
5. **Filling**: holes of each lung in each axial slice (vessels, airway walls,
   nodules surrounded by lung) are filled.

The result is a label map on the CT's own grid and storage order: 0 background,
1 right lung, 2 left lung.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from medvis.errors import MedvisError
from medvis.lung._orient import canonical_reorientation
from medvis.volume import Volume

__all__ = [
    "DEFAULT_HU_RANGE",
    "LEFT_LUNG",
    "LUNG_NAMES",
    "LungSegmentation",
    "LungNotFoundError",
    "RIGHT_LUNG",
    "segment_lungs",
]

#: Lung window used to separate aerated lung from tissue: ``low <= HU <= high``.
#: The upper limit decides what is air; the lower one only drops impossible values.
DEFAULT_HU_RANGE: tuple[float, float] = (-1200.0, -400.0)
RIGHT_LUNG = 1
LEFT_LUNG = 2
#: Label value -> name in the label maps this module writes.
LUNG_NAMES: Mapping[int, str] = {RIGHT_LUNG: "right_lung", LEFT_LUNG: "left_lung"}

_FACES_2D = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
#: A 3-D structuring element that connects voxels only within an axial slice.
_IN_PLANE = np.zeros((3, 3, 3), bool)
_IN_PLANE[1] = _FACES_2D


class LungNotFoundError(MedvisError, ValueError):
    """No air region big enough to be a lung was found inside the body."""


@dataclass(frozen=True)
class LungSegmentation:
    """Result of :func:`segment_lungs`.

    Attributes
    ----------
    labels : Volume
        uint8 label map on the CT's grid (same storage order and geometry):
        0 background, 1 right lung, 2 left lung.
    names : mapping
        Label value -> name of the labels present.
    hu_range : tuple of float
        The lung window used.
    airway_found : bool
        Whether a trachea was found and removed.
    airway_voxels : int
        Voxels removed as trachea and bronchi.
    separation : str
        How the lungs were told apart: "separate" (already two regions), "airways"
        (removing the airways split them), "erosion" (they touched and were cut), or
        "single" (only one lung found).
    notes : tuple of str
        Things the user should know (one lung only, air regions dropped...).
    timings : mapping
        Seconds per step.
    boxes : mapping
        Label value -> slices of ``labels.array`` that hold all of that label.
    """

    labels: Volume
    names: Mapping[int, str]
    hu_range: tuple[float, float]
    airway_found: bool = False
    airway_voxels: int = 0
    separation: str = "separate"
    notes: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    boxes: Mapping[int, tuple[slice, slice, slice]] = field(default_factory=dict)

    def mask(self, label: int) -> NDArray[np.bool_]:
        """Boolean mask of one label, in the CT's storage order ``[k, j, i]``."""
        return self.labels.array == label


# ----------------------------------------------------------------------------- helpers
class _SitkLabels(np.ndarray):
    """A view of a SimpleITK label image's buffer that keeps the image alive."""

    _image: Any


def _label(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int32], int]:
    """Face-connected components; SimpleITK (threaded) for large arrays, scipy otherwise."""
    if mask.size < 2_000_000:
        labels, count = ndi.label(mask)
        return labels.astype(np.int32, copy=False), int(count)
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(mask).view(np.uint8))
    components = sitk.ConnectedComponentImageFilter()
    components.FullyConnectedOff()
    result = components.Execute(image)
    # A view, no copy; the image must outlive it (reading it after the image is freed
    # would crash), so the view holds it. Counts stay below 2**31: uint32 reads as int32.
    view = sitk.GetArrayViewFromImage(result).view(np.int32).view(_SitkLabels)
    view._image = result
    return view, int(components.GetObjectCount())


def _in_plane_face_labels(labels: NDArray[Any]) -> NDArray[Any]:
    """Labels touching the in-plane faces ([z, y, x]: the y and x faces)."""
    faces = (labels[:, 0, :], labels[:, -1, :], labels[:, :, 0], labels[:, :, -1])
    found = np.unique(np.concatenate([f.ravel() for f in faces]))
    return found[found > 0]


def _dilate_in_plane(mask: NDArray[np.bool_], radius: int) -> NDArray[np.bool_]:
    """Square in-plane dilation (separable max filters: cost independent of radius)."""
    if radius <= 0:
        return mask
    out = ndi.maximum_filter1d(mask.view(np.uint8), 2 * radius + 1, axis=2)
    out = ndi.maximum_filter1d(out, 2 * radius + 1, axis=1)
    return out.view(bool)


def _slices_union(boxes: list[tuple[slice, ...]]) -> tuple[slice, ...]:
    return tuple(
        slice(min(b[d].start for b in boxes), max(b[d].stop for b in boxes)) for d in range(3)
    )


def _grow(box: tuple[slice, ...], margin: tuple[int, int, int], shape: tuple[int, ...]):
    return tuple(
        slice(max(s.start - m, 0), min(s.stop + m, n))
        for s, m, n in zip(box, margin, shape, strict=True)
    )


# ---------------------------------------------------------------------- coarse pass
@dataclass
class _Coarse:
    step: tuple[int, int, int]  # stride along z, y, x
    boxes: list[tuple[slice, ...]]  # full-resolution boxes of the chosen components
    samples: NDArray[np.bool_]  # coarse mask of the chosen components
    notes: list[str]
    coarse_box: tuple[slice, ...]  # coarse-grid box around the chosen components


def _coarse_candidates(
    hu: NDArray[Any],
    spacing_xyz: NDArray[np.float64],
    high: float,
    wall_mm: float,
    min_ml: float,
    source: str | None,
) -> _Coarse:
    sx, sy, sz = spacing_xyz
    # Coarse voxels of about 2-3 mm: enough to tell outside from inside and to follow
    # the trachea, and 4-9 times fewer voxels to label.
    sz_, sy_, sx_ = (3 if s < 1.0 else 2 if s < 1.45 else 1 for s in (sz, sy, sx))
    step = (sz_, sy_, sx_)
    coarse = hu[:: step[0], :: step[1], :: step[2]] <= high
    labels, count = _label(coarse)
    if count == 0:
        raise LungNotFoundError(source, f"no voxel at or below {high:g} HU: is this a CT in HU?")
    outside = _in_plane_face_labels(labels)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    sizes[outside] = 0
    voxel_ml = float(sx * sy * sz) * step[0] * step[1] * step[2] / 1000.0
    order = [int(c) for c in np.argsort(sizes)[::-1] if sizes[c] * voxel_ml >= min_ml][:6]
    notes: list[str] = []
    if not order:
        raise LungNotFoundError(
            source,
            f"no enclosed air region of at least {min_ml:g} mL inside the body "
            f"(air: HU <= {high:g}); is this a chest CT?",
        )
    objects = ndi.find_objects(labels)
    is_outside = np.zeros(count + 1, bool)
    is_outside[outside] = True
    accepted: list[int] = []
    for lab in order:
        box = objects[lab - 1]
        radius = int(np.ceil(wall_mm / (min(sx * step[2], sy * step[1]))))
        box = _grow(box, (0, radius + 1, radius + 1), labels.shape)
        local = labels[box]
        near = _dilate_in_plane(local == lab, radius)
        touching = int(np.count_nonzero(near & is_outside[local]))
        if touching > 0.002 * sizes[lab] + 2:
            notes.append(
                f"an enclosed air region of {sizes[lab] * voxel_ml:.0f} mL separated from the "
                f"outside by a wall thinner than {wall_mm:g} mm (table, tray) was ignored"
            )
            continue
        accepted.append(lab)
    if not accepted:
        raise LungNotFoundError(source, "every enclosed air region lies outside the body wall")
    chosen = accepted[:1]
    if len(accepted) > 1 and sizes[accepted[1]] >= 0.12 * sizes[accepted[0]]:
        chosen.append(accepted[1])
    boxes = []
    for lab in chosen:
        box = objects[lab - 1]
        boxes.append(
            tuple(
                slice(s.start * st, min((s.stop - 1) * st + 1, n))
                for s, st, n in zip(box, step, hu.shape, strict=True)
            )
        )
    samples = labels == chosen[0]
    for lab in chosen[1:]:
        samples |= labels == lab
    coarse_box = _slices_union([objects[lab - 1] for lab in chosen])
    return _Coarse(step=step, boxes=boxes, samples=samples, notes=notes, coarse_box=coarse_box)


def _coarse_hits(
    labels: NDArray[Any], count: int, box: tuple[slice, ...], coarse: _Coarse
) -> NDArray[np.int64]:
    """How many coarse samples of the chosen regions fall in each fine label of the crop."""
    index: list[slice] = []
    coarse_index: list[slice] = []
    for s, st in zip(box, coarse.step, strict=True):
        offset = (-s.start) % st  # first crop index lying on the coarse grid
        length = len(range(offset, s.stop - s.start, st))
        start = (s.start + offset) // st
        index.append(slice(offset, None, st))
        coarse_index.append(slice(start, start + length))
    sampled = labels[tuple(index)]
    chosen = coarse.samples[tuple(coarse_index)]
    return np.bincount(sampled[chosen].ravel(), minlength=count + 1)


# ------------------------------------------------------------------------ airways
def _track_airways(
    cand: NDArray[np.bool_], spacing_xyz: NDArray[np.float64], midline_x: float
) -> tuple[NDArray[np.bool_], float | None]:
    """Trachea and main bronchi of the candidate mask (crop, [z, y, x], z up).

    Returns the airway mask and the trachea's x index (None when not found).
    """
    sx, sy, sz = spacing_xyz
    pixel = sx * sy
    airway = np.zeros_like(cand)
    nz = cand.shape[0]
    seed = None
    seed_z = -1
    # Look for the trachea in the top 80 mm: a small roundish air region near the midline.
    width_x = cand.shape[2] * sx
    tolerance = max(40.0, 0.2 * width_x)
    for z in range(nz - 1, max(-1, nz - 1 - round(80.0 / sz)), -1):
        plane = cand[z]
        if not plane.any():
            continue
        labels, _ = ndi.label(plane)
        areas = np.bincount(labels.ravel())[1:] * pixel
        best = None
        for idx, box in enumerate(ndi.find_objects(labels)):
            area = areas[idx]
            if not 20.0 <= area <= 700.0:
                continue
            height = (box[0].stop - box[0].start) * sy
            width = (box[1].stop - box[1].start) * sx
            if area < 0.5 * height * width or max(height, width) > 2.5 * min(height, width):
                continue
            centre_x = 0.5 * (box[1].start + box[1].stop - 1)
            offset = abs(centre_x - midline_x) * sx
            if offset <= tolerance and (best is None or offset < best[0]):
                best = (offset, idx + 1, centre_x)
        if best is not None:
            seed = labels == best[1]
            seed_z = z
            trachea_x = best[2]
            break
    if seed is None:
        return airway, None
    airway[seed_z] = seed
    reference = float(np.count_nonzero(seed)) * pixel
    history = [reference]
    previous = seed
    for z in range(seed_z - 1, -1, -1):
        plane = cand[z]
        labels, _ = ndi.label(plane)
        reach = ndi.binary_dilation(previous, _FACES_2D)
        hits = np.unique(labels[reach & plane])
        keep = np.zeros_like(plane)
        limit = 2.0 * reference
        for hit in hits:
            component = labels == hit
            if np.count_nonzero(component) * pixel <= limit:
                keep |= component
        if not keep.any():
            break
        airway[z] = keep
        previous = keep
        if len(history) < 5:  # the trachea's own size, from its first slices
            history.append(float(np.count_nonzero(keep)) * pixel)
            reference = float(np.median(history))
    return airway, trachea_x


def _cut_airways(
    air: NDArray[np.bool_],
    box: tuple[slice, ...],
    airway_c: NDArray[np.bool_],
    airway_box: tuple[slice, ...],
    cbox: tuple[slice, ...],
    step: tuple[int, int, int],
) -> int:
    """Remove the coarse airway mask, blown up to the fine grid and widened, from ``air``.

    ``air`` is the fine crop at ``box``; ``airway_c`` the coarse crop at ``cbox`` and
    ``airway_box`` its occupied part. Returns the number of voxels removed.
    """
    index = []
    for axis in range(3):
        st = step[axis]
        # Fine indices whose nearest coarse sample lies in the airway's box.
        lo = (cbox[axis].start + airway_box[axis].start) * st - st // 2
        hi = (cbox[axis].start + airway_box[axis].stop - 1) * st + st // 2 + 1
        lo, hi = max(lo - 1, box[axis].start), min(hi + 1, box[axis].stop)
        if hi <= lo:
            return 0
        index.append(np.arange(lo, hi))
    sub = tuple(slice(i[0] - b.start, i[-1] + 1 - b.start) for i, b in zip(index, box, strict=True))
    coarse_idx = [
        np.clip((i + st // 2) // st - c.start, 0, airway_c.shape[axis] - 1)
        for axis, (i, st, c) in enumerate(zip(index, step, cbox, strict=True))
    ]
    blown = airway_c[np.ix_(*coarse_idx)]
    blown = _dilate_in_plane(blown, 1)
    region = air[sub]
    removed = int(np.count_nonzero(region & blown))
    region &= ~blown
    return removed


# ------------------------------------------------------------------ left / right
def _split_in_two(
    mask: NDArray[np.bool_], spacing_xyz: NDArray[np.float64]
) -> NDArray[np.uint8] | None:
    """Cut one region into its two largest lobes (labels 1, 2), or None if it won't split."""
    sx, sy, sz = spacing_xyz
    step = (max(1, int(2.0 // sz)), max(1, int(2.0 // sy)), max(1, int(2.0 // sx)))
    small = mask[:: step[0], :: step[1], :: step[2]]
    current = small
    seeds = None
    for _ in range(40):
        current = ndi.binary_erosion(current)
        if not current.any():
            return None
        labels, count = ndi.label(current)
        if count >= 2:
            sizes = np.bincount(labels.ravel())
            sizes[0] = 0
            first, second = np.argsort(sizes)[::-1][:2]
            if sizes[second] >= 0.12 * sizes[first]:
                seeds = np.zeros(small.shape, np.uint8)
                seeds[labels == first] = 1
                seeds[labels == second] = 2
                break
    if seeds is None:
        return None
    _grow_labels(seeds, small)
    full = np.zeros(mask.shape, np.uint8)
    for axis, st in enumerate(step):
        if st > 1:
            seeds = np.repeat(seeds, st, axis=axis)
    full[...] = seeds[: mask.shape[0], : mask.shape[1], : mask.shape[2]]
    full[~mask] = 0
    _grow_labels(full, mask)
    return full


def _grow_labels(labels: NDArray[np.uint8], mask: NDArray[np.bool_]) -> None:
    """Grow labels 1 and 2 into the unlabelled voxels of ``mask`` (in place), in turns."""
    for _ in range(500):
        free = mask & (labels == 0)
        if not free.any():
            return
        changed = False
        for value in (1, 2):
            reach = ndi.binary_dilation(labels == value) & free
            if reach.any():
                labels[reach] = value
                free &= ~reach
                changed = True
        if not changed:
            return


def _fill_slices(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Fill the holes of every axial slice ([z, y, x]) of a mask padded by one voxel."""
    background, _ = ndi.label(~mask, _IN_PLANE)
    outer = _in_plane_face_labels(background)
    is_outer = np.zeros(int(background.max()) + 1, bool)
    is_outer[outer] = True  # label 0 is the mask itself: kept
    return ~is_outer[background]


# ----------------------------------------------------------------------- public
def segment_lungs(
    ct: Volume,
    *,
    hu_range: tuple[float, float] = DEFAULT_HU_RANGE,
    wall_mm: float = 4.0,
    min_lung_ml: float = 20.0,
) -> LungSegmentation:
    """Segment the left and right lungs of a CT.

    Parameters
    ----------
    ct : Volume
        3-D CT in Hounsfield units, any storage order (LPS world).
    hu_range : (float, float)
        Lung window ``(low, high)``: voxels with ``low <= HU <= high`` are aerated.
    wall_mm : float
        Enclosed air separated from the outside air by a wall thinner than this
        (table shells, trays) is treated as outside.
    min_lung_ml : float
        Smallest air region considered a lung.

    Returns
    -------
    LungSegmentation
        Label map on the CT grid: 1 right lung, 2 left lung.

    Raises
    ------
    LungNotFoundError
        No air region that could be a lung was found (the message names ``ct.source``).

    Examples
    --------
    >>> from medvis.lung.phantom import lung_phantom
    >>> result = segment_lungs(lung_phantom().volume)
    >>> sorted(result.names.values())
    ['left_lung', 'right_lung']
    """
    if ct.layout != "kji":
        raise ValueError(f"segment_lungs needs a 3-D volume, got layout {ct.layout!r}")
    low, high = (float(v) for v in hu_range)
    if not low < high:
        raise ValueError(f"hu_range must be (low, high) with low < high, got {hu_range}")
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    reo = canonical_reorientation(ct)
    hu = reo.to_canonical(ct.array)  # a view; contiguous copies are made of crops only
    if not reo.is_identity:
        hu = np.ascontiguousarray(hu)
    spacing = reo.spacing
    coarse = _coarse_candidates(hu, spacing, high, wall_mm, min_lung_ml, ct.source)
    notes = list(coarse.notes)
    lap("outside_air")

    # Airways, on the coarse grid: trachea and main bronchi, followed down from the top.
    step = coarse.step
    coarse_spacing = spacing * np.array(step[::-1], float)
    cbox = coarse.coarse_box
    coarse_cand = coarse.samples[cbox]
    airway_c, trachea_xc = _track_airways(
        coarse_cand, coarse_spacing, 0.5 * (coarse_cand.shape[2] - 1)
    )
    coarse_cand &= ~airway_c  # a view: the samples now exclude the airways
    lap("airways")

    # Fine pass on a crop around the chosen regions, airways cut out (their coarse voxels
    # blown up to full size and widened by a voxel, so no rim of lumen joins the lungs).
    # Widen the crop if a kept region reaches its edge.
    margin = tuple(st + 2 for st in step)
    box = _grow(_slices_union(coarse.boxes), margin, hu.shape)  # type: ignore[arg-type]
    airway_box = ndi.find_objects(airway_c.view(np.uint8))
    for _ in range(4):
        hu_crop = hu[box]
        air = hu_crop <= high
        airway_voxels = 0
        if airway_box:
            airway_voxels = _cut_airways(air, box, airway_c, airway_box[0], cbox, step)
        labels, count = _label(air)
        hits = _coarse_hits(labels, count, box, coarse)
        hits[0] = 0
        order = np.argsort(hits)[::-1][:2]
        order = order[hits[order] > 0]
        keep = order[:1] if len(order) < 2 or hits[order[1]] < 0.12 * hits[order[0]] else order
        split = np.zeros(air.shape, np.uint8)
        if len(keep):
            split = np.asarray(labels == keep[0]).view(np.uint8)
        if len(keep) > 1:
            split[labels == keep[1]] = 2
        # Does a kept region reach a crop face that is not the image's face?
        grow = [0, 0, 0]
        for axis in range(3):
            lo, hi = box[axis].start, box[axis].stop
            if lo > 0 and np.take(split, 0, axis=axis).any():
                grow[axis] = 16
            if hi < hu.shape[axis] and np.take(split, -1, axis=axis).any():
                grow[axis] = 16
        if not any(grow):
            break
        box = _grow(box, tuple(grow), hu.shape)  # type: ignore[arg-type]
    del labels
    split[hu_crop < low] = 0
    voxel_ml = float(np.prod(spacing)) / 1000.0
    coarse_ml = voxel_ml * step[0] * step[1] * step[2]
    trachea_x = None
    if trachea_xc is not None:  # coarse crop column -> fine crop column
        trachea_x = (cbox[2].start + trachea_xc) * step[2] - box[2].start
    body_mid = 0.5 * (split.shape[2] - 1)
    lap("fine_candidates")

    if len(keep) == 2:
        separation = "airways" if airway_voxels else "separate"
    else:
        single = split == 1
        mid = trachea_x if trachea_x is not None else body_mid
        columns = np.count_nonzero(single, axis=(0, 1))
        left_share = columns[int(np.ceil(mid)) :].sum() / max(1, columns.sum())
        result = _split_in_two(single, spacing) if 0.2 <= left_share <= 0.8 else None
        if result is not None:
            split = result
            separation = "erosion"
        else:
            separation = "single"
            notes.append(
                f"only one lung found ({hits[keep[0]] * coarse_ml:.0f} mL); "
                "the other is missing, collapsed or outside the lung window"
            )
    if not len(keep) or hits[keep[0]] * coarse_ml < min_lung_ml:
        raise LungNotFoundError(
            ct.source, "the air region inside the body is too small to be a lung"
        )
    lap("left_right")

    # Which part is patient left: larger LPS x of its centroid.
    to_world = reo.direction * reo.spacing
    start = np.array([box[2].start, box[1].start, box[0].start], float)
    boxes = ndi.find_objects(split)
    centroids: dict[int, float] = {}
    for value, found in enumerate(boxes, start=1):
        if found is None:
            continue
        part = split[found] == value
        zyx = [
            float(np.average(np.arange(n), weights=np.count_nonzero(part, axis=other)))
            + found[axis].start
            for axis, (n, other) in enumerate(
                zip(part.shape, ((1, 2), (0, 2), (0, 1)), strict=True)
            )
        ]
        centroids[value] = float((reo.origin + to_world @ (start + zyx[::-1]))[0])
    if len(centroids) == 2:
        left_value = max(centroids, key=lambda v: centroids[v])
        mapping = {left_value: LEFT_LUNG, 3 - left_value: RIGHT_LUNG}
    else:
        # A single lung: right or left of the body's middle (the trachea when found).
        only = next(iter(centroids))
        mid = trachea_x if trachea_x is not None else body_mid
        centre = np.array([mid, 0.5 * (split.shape[1] - 1), 0.5 * (split.shape[0] - 1)])
        world_mid = float((reo.origin + to_world @ (start + centre))[0])
        mapping = {only: LEFT_LUNG if centroids[only] > world_mid else RIGHT_LUNG}
    labels_canonical = np.zeros(hu.shape, np.uint8)
    crop_out = labels_canonical[box]
    names: dict[int, str] = {}
    label_boxes: dict[int, tuple[slice, slice, slice]] = {}
    subs = {}
    for value, target in mapping.items():
        sub = _grow(boxes[value - 1], (1, 1, 1), split.shape)  # type: ignore[arg-type]
        whole = tuple(
            slice(b.start + s.start, b.start + s.stop) for b, s in zip(box, sub, strict=True)
        )
        label_boxes[target] = reo.box_to_storage(whole, hu.shape)  # type: ignore[arg-type]
        names[target] = LUNG_NAMES[target]
        subs[value] = sub

    def fill(value: int) -> NDArray[np.bool_]:
        return _fill_slices(np.pad(split[subs[value]] == value, 1))[1:-1, 1:-1, 1:-1]

    # Both lungs at once (scipy's labelling and numpy release the GIL for the most part).
    with ThreadPoolExecutor(max_workers=2) as pool:
        filled = dict(zip(mapping, pool.map(fill, mapping), strict=True))
    for value, target in mapping.items():
        region = crop_out[subs[value]]
        region[filled[value] & (region == 0)] = target
    lap("fill")

    storage = np.ascontiguousarray(reo.to_storage(labels_canonical))
    labels_volume = ct.replace(
        array=storage,
        metadata={"modality": "SEG", "labels": dict(sorted(names.items()))},
        source=ct.source,
        warnings=(),
    )
    lap("to_storage")
    return LungSegmentation(
        labels=labels_volume,
        names=dict(sorted(names.items())),
        hu_range=(low, high),
        airway_found=trachea_x is not None,
        airway_voxels=airway_voxels,
        separation=separation,
        notes=tuple(notes),
        timings=timings,
        boxes=dict(sorted(label_boxes.items())),
    )
