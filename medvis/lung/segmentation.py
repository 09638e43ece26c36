"""Left and right lungs from a CT in Hounsfield units (numpy, scipy.ndimage).

The steps, all on the scan viewed in canonical LPS order (see :mod:`medvis.canonical`,
so the result does not depend on how the scan is stored):

1. **Coarse view** (:mod:`._coarse`): block means of about 2 mm; padding outside the
   reconstruction circle recognised; per slice the trunk (largest piece of tissue) and
   its convex hull; air lying mostly outside that hull is outside air. A field of view
   that cuts the chest leaves the lungs inside the hull, so they stay candidates.
2. **Trachea** (:mod:`._airways`): accepted only as a tube of pure air near the midline
   running at least 30 mm before it opens into lung; its cells are taken out.
3. **Candidates** (:mod:`._candidates`): every enclosed air region is scored for how
   lung-like it is (median above the scan's own air level, position from front to back,
   reach towards the top of the scan), so stomach and bowel gas is not taken for lung
   however large; a region joined to the trachea is lung. Sizes scale with the scan's
   coverage: a 2-slice crop has lungs of a few mL.
4. **Right and left** (:mod:`._sides`): each lung piece goes to the side of a midline
   taken from anatomy (trachea, trunk, spine); a piece spanning both sides is cut where
   it is thinnest.
5. **Full resolution** (:mod:`._fine`): slab by slab, aerated voxels of the chosen cells,
   airways kept out, holes of each lung in each axial slice filled.

The result is a label map on the CT's own grid and storage order (0 background, 1 right
lung, 2 left lung) and the warnings a user needs: lungs cut by the edges of the scan
(volumes are lower bounds), one lung missing and why, implausible HU, tiny lungs, an
unusual right/left ratio.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from medvis.canonical import canonical_reorientation, contiguous
from medvis.errors import MedvisError
from medvis.lung._airways import MIN_TUBE_MM, Airway, find_airway
from medvis.lung._candidates import Region, describe_regions
from medvis.lung._coarse import CoarseScan, coarse_scan, grow
from medvis.lung._fine import FineLungs, fine_labels
from medvis.lung._sides import Midline, find_midline, split_across
from medvis.volume import Volume

__all__ = [
    "DEFAULT_HU_RANGE",
    "LEFT_LUNG",
    "LUNG_COLOURS",
    "LUNG_NAMES",
    "PLAUSIBLE_MEDIAN_HU",
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
#: Label value -> RGB colour of pictures and meshes: right lung coral, left lung blue.
LUNG_COLOURS: Mapping[int, tuple[float, float, float]] = {
    RIGHT_LUNG: (0.93, 0.42, 0.36),
    LEFT_LUNG: (0.33, 0.62, 0.93),
}
#: Median HU of aerated lung (vessels included) outside which a warning is given.
PLAUSIBLE_MEDIAN_HU = (-950.0, -600.0)
#: Lungs smaller than this (mL) get a warning.
SMALL_LUNG_ML = 50.0
#: Right/left volume ratios outside this range get a warning.
PLAUSIBLE_RATIO = (0.6, 1.6)
_SIDE_WORDS = {RIGHT_LUNG: "right", LEFT_LUNG: "left"}


class LungNotFoundError(MedvisError, ValueError):
    """No lung-like air region big enough to be a lung was found inside the body."""


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
        Whether a trachea was confirmed and removed.
    airway_voxels : int
        Voxels kept out as trachea and bronchi (on the coarse grid, in fine voxels).
    separation : str
        How the lungs were told apart: "separate" (already apart), "airways" (removing
        the airways split them), "erosion" (they touched and were cut where thinnest),
        "midline" (cut at the midline), or "single" (only one lung found).
    midline : str
        Where the body's midline came from: "trachea", "trunk", "spine", or (guesses,
        with a warning) "table centre" (the scanner's x = 0), "image centre".
    warnings : tuple of str
        What the result cannot promise: lungs cut by the edges of the scan (volumes are
        lower bounds), only one lung and why, implausible HU, small lungs, unusual
        right/left ratio.
    notes : tuple of str
        How the result was reached (air regions not taken as lung, pieces left out...).
    timings : mapping
        Seconds per step.
    boxes : mapping
        Label value -> slices of ``labels.array`` that hold all of that label.
    volumes_ml : mapping
        Label value -> voxel volume in mL.
    median_hu : mapping
        Label value -> median HU inside the lung (vessels included).
    """

    labels: Volume
    names: Mapping[int, str]
    hu_range: tuple[float, float]
    airway_found: bool = False
    airway_voxels: int = 0
    separation: str = "separate"
    midline: str = "trachea"
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    boxes: Mapping[int, tuple[slice, slice, slice]] = field(default_factory=dict)
    volumes_ml: Mapping[int, float] = field(default_factory=dict)
    median_hu: Mapping[int, float] = field(default_factory=dict)

    def mask(self, label: int) -> NDArray[np.bool_]:
        """Boolean mask of one label, in the CT's storage order ``[k, j, i]``."""
        return self.labels.array == label


# ------------------------------------------------------------------ choosing lungs
@dataclass
class _Piece:
    """A lung piece on the coarse grid: a region, or one side of a region that was cut."""

    side: int
    volume_ml: float
    region: Region
    part: NDArray[np.bool_]  # mask within region.box


@dataclass
class _Choice:
    pieces: list[_Piece]
    separation: str
    notes: list[str]
    dropped: dict[int, list[_Piece]]


def _minimum_ml(coverage_mm: float, given: float | None) -> float:
    """Smallest lung worth reporting: 1 mL per cm of scanned length, 0.2 to 20 mL."""
    if given is not None:
        return float(given)
    return float(min(20.0, max(0.2, coverage_mm / 10.0)))


def _sides_of(
    region: Region, labels: NDArray[np.int32], scan: CoarseScan, midline: Midline
) -> tuple[list[_Piece], str | None]:
    """Split a lung-like region into right/left pieces; returns how, if it was cut."""
    mask = labels[region.box] == region.label
    x0 = region.box[2].start
    columns = np.count_nonzero(mask, axis=(0, 1))
    x = x0 + np.arange(len(columns))
    left_share = float(columns[x > midline.x].sum()) / max(1, int(columns.sum()))
    cell = scan.cell_ml
    if left_share >= 0.85 or left_share <= 0.15:
        side = 2 if left_share >= 0.5 else 1
        return [_Piece(side, region.volume_ml, region, mask)], None
    parts = split_across(mask, scan.spacing, midline.x, x0)
    how = "erosion"
    if parts is None:  # no neck to cut at: the midline plane
        parts = np.where(mask, np.where(x[None, None, :] > midline.x, 2, 1), 0).astype(np.uint8)
        how = "midline"
    pieces = []
    for side in (1, 2):
        part = parts == side
        count = int(np.count_nonzero(part))
        if count:
            pieces.append(_Piece(side, count * cell, region, part))
    return pieces, how


def _choose(
    regions: list[Region],
    labels: NDArray[np.int32],
    scan: CoarseScan,
    midline: Midline,
    min_ml: float,
) -> _Choice:
    notes: list[str] = []
    pieces: list[_Piece] = []
    separation = "separate"
    not_lung = [r for r in regions if not r.lung_like and r.volume_ml >= 0.1]
    for region in (r for r in regions if r.lung_like):
        found, how = _sides_of(region, labels, scan, midline)
        if how is not None and region.volume_ml >= min_ml:
            separation = how
        pieces.extend(found)
    if not_lung:
        shown = "; ".join(r.describe() for r in not_lung[:3])
        more = f" and {len(not_lung) - 3} more" if len(not_lung) > 3 else ""
        notes.append(f"air not taken as lung: {shown}{more}")
    # Each side's largest piece must reach min_ml, further pieces a tenth of it. Once
    # one lung is found, the other side's lung-like air needs only a tenth of that lung
    # (lung bases at the top of an abdominal scan are small beside its coverage).
    kept: list[_Piece] = []
    dropped: dict[int, list[_Piece]] = {1: [], 2: []}
    by_side = {
        side: sorted((p for p in pieces if p.side == side), key=lambda p: -p.volume_ml)
        for side in (1, 2)
    }
    biggest = {side: (mine[0].volume_ml if mine else 0.0) for side, mine in by_side.items()}
    for side, mine in by_side.items():
        other = biggest[3 - side]
        need = min_ml if other < min_ml else min(min_ml, max(0.2, 0.1 * other))
        if not mine or mine[0].volume_ml < need:
            dropped[side].extend(mine)
            continue
        for piece in mine:
            (kept if piece.volume_ml >= 0.1 * need else dropped[side]).append(piece)
    for side, gone in dropped.items():
        total = sum(p.volume_ml for p in gone)
        if total >= 0.1:  # crumbs of partial volume aside
            notes.append(
                f"{len(gone)} lung-like piece(s) on the {_SIDE_WORDS[side]} "
                f"({total:.1f} mL in all) left out: under the minimum for this coverage "
                f"({min_ml:.1f} mL for a lung, {0.1 * min_ml:.2f} mL for a further piece)"
            )
    if len({p.side for p in kept}) < 2:
        separation = "single"
    return _Choice(kept, separation, notes, dropped)


def _not_found_reason(regions: list[Region], choice: _Choice, min_ml: float) -> str:
    lung_like = [p for gone in choice.dropped.values() for p in gone]
    if lung_like:
        biggest = max(p.volume_ml for p in lung_like)
        return (
            f"no lung: the largest lung-like air region holds {biggest:.1f} mL, under the "
            f"{min_ml:.1f} mL minimum for this scan's coverage"
        )
    if regions:
        return (
            "no lung-like air inside the body: the enclosed air looks like gas, not lung "
            f"(largest: {regions[0].describe()})"
        )
    return "no enclosed air region inside the body (is this a chest CT?)"


# ------------------------------------------------------------------------ warnings
def _missing_reason(side: int, scan: CoarseScan, choice: _Choice, midline: Midline) -> str:
    """Why one side has no lung, as far as the scan tells."""
    other_face = scan.trunk_hull[:, :, 0 if side == RIGHT_LUNG else -1]
    gone = choice.dropped.get(side, [])
    if scan.trunk_cut_x and other_face.any():
        return f"the field of view cuts the body on its {_SIDE_WORDS[side]} side"
    if gone:
        return (
            f"the lung-like air there ({sum(p.volume_ml for p in gone):.1f} mL) is below the "
            "minimum for this coverage"
        )
    if not midline.anatomical:
        return "no midline could be found from anatomy, so the side is a guess"
    return "no aerated lung on that side (collapsed, filled, removed, or outside the lung window)"


def _warnings(
    fine: FineLungs, scan: CoarseScan, choice: _Choice, midline: Midline, voxel_ml: float
) -> tuple[list[str], dict[int, float], dict[int, float]]:
    warnings: list[str] = []
    volumes = {v: fine.voxels(v) * voxel_ml for v in fine.histograms}
    medians = {v: fine.median_hu(v) for v in fine.histograms}
    for v in sorted(fine.cut_by):
        edges = fine.cut_by[v]
        if edges:
            name = f"{_SIDE_WORDS[v]} lung"
            warnings.append(
                f"{name} is cut by the {', '.join(edges)} of the scan: its volume is a lower bound"
            )
    present = set(volumes)
    if present and not midline.anatomical:
        where = "the scanner's x = 0 (patients lie centred on the table)"
        if midline.source == "image centre":
            where = "the image's centre"
        warnings.append(
            "right and left could not be told from anatomy (no trachea, whole trunk or "
            f"spine in the scan): the sides assume the body's midline at {where}; check them"
        )
    for side in (RIGHT_LUNG, LEFT_LUNG):
        if side not in present and present:
            (only,) = present
            warnings.append(
                f"only the {_SIDE_WORDS[only]} lung was found; no {_SIDE_WORDS[side]} lung: "
                + _missing_reason(side, scan, choice, midline)
            )
    low, high = PLAUSIBLE_MEDIAN_HU
    for side in sorted(present):
        median = medians[side]
        if not low <= median <= high:
            warnings.append(
                f"{_SIDE_WORDS[side]} lung: median {median:.0f} HU is outside the usual "
                f"{low:.0f} .. {high:.0f} HU of aerated lung (emphysema, consolidation, or not lung)"
            )
        if volumes[side] < SMALL_LUNG_ML:
            warnings.append(
                f"{_SIDE_WORDS[side]} lung: {volumes[side]:.1f} mL, under {SMALL_LUNG_ML:.0f} mL: "
                "only a small part of a lung is in the scan"
            )
    if {RIGHT_LUNG, LEFT_LUNG} <= present and volumes[LEFT_LUNG] > 0:
        ratio = volumes[RIGHT_LUNG] / volumes[LEFT_LUNG]
        lo, hi = PLAUSIBLE_RATIO
        if not lo <= ratio <= hi:
            warnings.append(
                f"right/left volume ratio {ratio:.2f} is outside {lo:g} .. {hi:g} "
                "(a lung partly collapsed, filled, removed, or cut by the scan)"
            )
    return warnings, volumes, medians


# ------------------------------------------------------------------------ airways
def _search_floor(inside: NDArray[np.bool_], scan: CoarseScan) -> int:
    """Lowest coarse slice where the trachea may begin: 80 mm below where lungs get big.

    Lungs are big where a slice holds over 3000 mm2 of enclosed air; above that the
    trachea (or, in a scan that holds the head, the pharynx) runs alone.
    """
    area = np.count_nonzero(inside, axis=(1, 2)) * float(scan.spacing[0] * scan.spacing[1])
    big = np.flatnonzero(area > 3000.0)
    top_of_lungs = int(big[-1]) if len(big) else 0
    return max(0, top_of_lungs - round(80.0 / float(scan.spacing[2])))


def _joined_to(airway: Airway, labels: NDArray[np.int32]) -> set[int]:
    """Labels of the regions next to the airway's cells."""
    box = tuple(slice(max(0, s.start - 1), s.stop + 1) for s in airway.box)
    near = grow(airway.mask[box], through_slices=True)
    return {int(v) for v in np.unique(labels[box][near]) if v > 0}


def _label_around_airway(
    inside: NDArray[np.bool_], airway: Airway, scan: CoarseScan, min_ml: float
) -> tuple[NDArray[np.int32], int, Airway, set[int], list[Any]]:
    """Label the enclosed air without the airway, if the airway is a trachea.

    Returns the labels, their count, the airway (rejected when it is no trachea), the
    labels of lung-sized regions a carina opens into, and ``find_objects`` of the labels.
    A tube that branches into regions on both sides of it (the carina) is a trachea,
    and what it opens into is lung whatever its HU. A tube
    opening on one side only (one lung in the scan, or the oesophagus into the stomach,
    a bowel loop into a gas pocket) is kept out of the air only when it starts at least
    30 mm above what it opens into, which must then look like lung on its own.
    """
    if not airway.confirmed:
        labels, count = ndi.label(inside)
        return labels, count, airway, set(), ndi.find_objects(labels)
    labels, count = ndi.label(inside & ~airway.mask)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    objects = ndi.find_objects(labels)
    joined = [v for v in _joined_to(airway, labels) if sizes[v] * scan.cell_ml >= min_ml]
    boxes = [b for v in joined if (b := objects[v - 1]) is not None]
    centres = [0.5 * (b[2].start + b[2].stop - 1) for b in boxes]
    assert airway.x is not None
    if any(c < airway.x for c in centres) and any(c > airway.x for c in centres):
        return labels, count, airway, set(joined), objects
    top = max((b[0].stop - 1 for b in boxes), default=None)
    above_mm = (airway.top_z - top) * float(scan.spacing[2]) if top is not None else 0.0
    lung_like = all(
        float(np.median(scan.hu[objects[v - 1]][labels[objects[v - 1]] == v])) - scan.air_level
        >= 110.0
        for v in joined
    )
    if boxes and above_mm >= MIN_TUBE_MM and lung_like:
        return labels, count, airway, set(), objects
    reason = (
        "the air tube near the midline opens on one side only, into "
        + ("air that is not lung (gas)" if boxes and not lung_like else "what lies below it")
        + (f", starting {max(above_mm, 0.0):.0f} mm above it" if boxes else "")
        + ": an oesophagus or a bowel loop, not a trachea"
    )
    labels, count = ndi.label(inside)
    return labels, count, airway.rejected(reason), set(), ndi.find_objects(labels)


def _air_regions(
    scan: CoarseScan, inside: NDArray[np.bool_], min_ml: float
) -> tuple[NDArray[np.int32], Airway, list[Region], Midline]:
    """The enclosed air's regions (airway kept out when it is a trachea), described.

    Returns the coarse label map, the airway search, the regions of at least a
    twentieth of ``min_ml`` (largest first) and the body's midline (the trachea's when
    one was accepted).
    """
    first_midline = find_midline(scan, None)
    airway = find_airway(
        inside, scan.hu, scan.spacing, first_midline.x, scan.air_level, _search_floor(inside, scan)
    )
    labels, count, airway, trachea_labels, objects = _label_around_airway(
        inside, airway, scan, min_ml
    )
    near_outside = grow(scan.outside, through_slices=True) & ~scan.outside
    contact = np.bincount(labels[near_outside], minlength=count + 1)
    del near_outside
    regions = describe_regions(
        labels,
        count,
        scan,
        min_ml=0.05 * min_ml,
        trachea_labels=trachea_labels,
        outside_contact=contact,
        objects=objects,
    )
    midline = first_midline if airway.x is None else Midline(airway.x, "trachea")
    return labels, airway, regions, midline


# ----------------------------------------------------------------------- public
def segment_lungs(
    ct: Volume,
    *,
    hu_range: tuple[float, float] = DEFAULT_HU_RANGE,
    min_lung_ml: float | None = None,
) -> LungSegmentation:
    """Segment the left and right lungs of a CT.

    Parameters
    ----------
    ct : Volume
        3-D CT in Hounsfield units, any storage order (LPS world).
    hu_range : (float, float)
        Lung window ``(low, high)``: voxels with ``low <= HU <= high`` are aerated.
    min_lung_ml : float, optional
        Smallest lung kept. By default 1 mL per cm of scanned length, between 0.2 and
        20 mL (a crop of two slices holds lungs of a few mL). Further pieces of a lung
        are kept down to a tenth of it; what is left out is said in ``notes``.

    Returns
    -------
    LungSegmentation
        Label map on the CT grid (1 right lung, 2 left lung), warnings and notes.

    Raises
    ------
    LungNotFoundError
        No lung-like air region was found (the message names ``ct.source`` and why:
        no air at all, only gas, or lung-like air too small for the coverage).

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
    hu = reo.to_canonical(ct.array)  # a view: only slabs of it are ever copied
    spacing = reo.spacing
    # Canonical x index of the world's x = 0 (a last resort for right and left).
    x0 = -float(reo.origin[0]) / float(reo.direction[0, 0] * spacing[0])
    scan = coarse_scan(hu, spacing, high, x0_index=x0)
    if not scan.air.any():
        if scan.padding is not None and scan.padding.all():
            reason = f"the image holds nothing but one constant value ({scan.pad_value:g})"
        elif float(np.max(scan.hu)) <= high:
            reason = f"every voxel is at or below {high:g} HU: no body in the image"
        else:
            reason = f"no voxel at or below {high:g} HU: is this a CT in HU?"
        raise LungNotFoundError(ct.source, reason)
    inside = scan.air & ~scan.outside
    lap("outside_air")

    min_ml = _minimum_ml(hu.shape[0] * float(spacing[2]), min_lung_ml)
    labels, airway, regions, midline = _air_regions(scan, inside, min_ml)
    lap("airways")

    choice = _choose(regions, labels, scan, midline, min_ml)
    if not choice.pieces:
        raise LungNotFoundError(ct.source, _not_found_reason(regions, choice, min_ml))
    side = np.zeros(labels.shape, np.uint8)  # coarse cells: 1 right lung, 2 left lung
    for piece in choice.pieces:
        view = side[piece.region.box]
        view[piece.part] = piece.side
    del labels
    separation = choice.separation
    if separation == "separate" and airway.confirmed:
        separation = "airways"
    lap("candidates")

    fine = fine_labels(hu, scan, side, airway.mask, (low, high))
    lap("fine")
    voxel_ml = float(np.prod(spacing)) / 1000.0
    warnings, volumes, medians = _warnings(fine, scan, choice, midline, voxel_ml)
    notes = list(choice.notes)
    if midline.source != "trachea":
        notes.append(f"midline from the {midline.source}")
    if not airway.confirmed:
        notes.append(f"no trachea accepted: {airway.reason}")

    storage = contiguous(reo.to_storage(fine.labels))
    names = {v: LUNG_NAMES[v] for v in sorted(fine.boxes)}
    label_boxes = {
        v: reo.box_to_storage(box, hu.shape)  # type: ignore[arg-type]
        for v, box in sorted(fine.boxes.items())
    }
    labels_volume = ct.replace(
        array=storage,
        metadata={"modality": "SEG", "labels": dict(names)},
        source=ct.source,
        warnings=(),
    )
    lap("to_storage")
    cell_voxels = int(np.prod(scan.step))
    return LungSegmentation(
        labels=labels_volume,
        names=names,
        hu_range=(low, high),
        airway_found=airway.confirmed,
        airway_voxels=int(np.count_nonzero(airway.mask)) * cell_voxels,
        separation=separation,
        midline=midline.source,
        warnings=tuple(warnings),
        notes=tuple(notes),
        timings=timings,
        boxes=label_boxes,
        volumes_ml={k: round(v, 3) for k, v in sorted(volumes.items())},
        median_hu=dict(sorted(medians.items())),
    )
