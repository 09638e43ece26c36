"""Enclosed air regions and how lung-like each is.

Lung parenchyma is air mixed with tissue: its median sits well above pure air (about
-950 to -700 HU where air reads -1000) while gas in the stomach or bowel is nearly pure
air. What "pure air" reads as differs between scanners and rises with noise (values
below -1024 are clipped), so the median is compared with the outside air of the same
scan, measured the same way. Lungs lie from the middle of the trunk to its back and
reach the top of the scanned part of the chest; stomach and colon gas lies in front
and below the diaphragm. Each feature gives a weight between 0 and 1 and the score is
their weighted mean, so no single cut-off decides (emphysematous lungs come close to
air, a gas pocket can sit at the back): see :func:`lung_likeness`. A region joined to
a confirmed trachea is lung whatever its score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from medvis.lung._coarse import CoarseScan, shrink

__all__ = ["LUNG_LIKE", "Region", "describe_regions", "lung_likeness"]

#: Score at or above which a region counts as lung.
LUNG_LIKE = 0.55
#: Regions with more of their cells next to outside air than this are not lungs.
MAX_OUTSIDE_CONTACT = 0.02
_WEIGHTS = {"hu": 0.5, "position": 0.25, "height": 0.25}


@dataclass
class Region:
    """One enclosed air region on the coarse grid, and what it looks like.

    Attributes
    ----------
    label : int
        Its value in the coarse label map.
    volume_ml : float
        Size.
    box : tuple of slice
        Coarse bounding box.
    median_hu : float
        Median block mean of its interior (one cell in from its edge where it is thick
        enough).
    above_air : float
        ``median_hu`` minus what pure air reads on this scan.
    ap_position : float
        Centroid from the front (0) to the back (1) of the trunk at its slices.
    top_gap_mm : float
        Distance from its top to the top of the scan.
    trachea : bool
        Joined to a confirmed trachea.
    outside_contact : float
        Share of its cells next to the air outside the body (lungs have a chest wall).
    score : float
        Lung-likeness (0..1).
    """

    label: int
    volume_ml: float
    box: tuple[slice, slice, slice]
    median_hu: float
    above_air: float
    ap_position: float
    top_gap_mm: float
    trachea: bool = False
    outside_contact: float = 0.0
    score: float = 0.0

    @property
    def lung_like(self) -> bool:
        """Whether it counts as lung: joined to the trachea or scored, and not open to the
        air outside the body (air between an arm and the chest, in a skin fold)."""
        if self.outside_contact > MAX_OUTSIDE_CONTACT:
            return False
        return self.trachea or self.score >= LUNG_LIKE

    def describe(self) -> str:
        """What it is and why it is not lung (for notes and errors)."""
        size = f"{self.volume_ml:.1f}" if self.volume_ml < 10 else f"{self.volume_ml:.0f}"
        text = f"{size} mL, median {self.median_hu:.0f} HU ({self.above_air:.0f} above air)"
        if self.outside_contact > MAX_OUTSIDE_CONTACT:
            return text + ": open to the air outside the body"
        if self.above_air < 110.0:
            return text + ": close to pure air (gas, or an airway)"
        return text + ": in front of the trunk or far below the top of the scan"


def _ramp(value: float, zero: float, one: float) -> float:
    """0 at ``zero``, 1 at ``one``, linear between (either direction)."""
    t = (value - zero) / (one - zero)
    return float(min(1.0, max(0.0, t)))


def lung_likeness(region: Region) -> float:
    """Weighted mean of the features, each mapped to 0 (gas-like) .. 1 (lung-like).

    * HU (weight 0.5): a median 110 HU or more above pure air counts fully, 55 HU or
      less (gas) not at all; medians above -500 HU (mostly tissue: partial volume, not
      aerated lung) fade out again.
    * Position (0.25): a centroid behind the front 45 % of the trunk counts fully, one
      in its front 20 % not at all, nor one behind the trunk's back (a table's mattress).
    * Height (0.25): lungs reach the top of the chest; a region whose top is more than
      150 mm below the top of the scan gets no weight here.

    Pure gas therefore scores at most 0.5, below :data:`LUNG_LIKE`, wherever it lies.
    """
    hu = _ramp(region.above_air, 55.0, 110.0) * _ramp(region.median_hu, -350.0, -500.0)
    position = _ramp(region.ap_position, 0.2, 0.45) * _ramp(region.ap_position, 1.1, 0.95)
    height = _ramp(region.top_gap_mm, 150.0, 30.0)
    features = {"hu": hu, "position": position, "height": height}
    return float(sum(_WEIGHTS[name] * value for name, value in features.items()))


def _trunk_front_back(hull: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    rows = np.any(hull, axis=2)
    has = np.any(rows, axis=1)
    front = np.where(has, np.argmax(rows, axis=1), 0)
    back = np.where(has, rows.shape[1] - 1 - np.argmax(rows[:, ::-1], axis=1), rows.shape[1] - 1)
    return front, back


def describe_regions(
    labels: NDArray[np.int32],
    count: int,
    scan: CoarseScan,
    *,
    min_ml: float,
    trachea_labels: set[int],
    outside_contact: NDArray[np.int64] | None = None,
    objects: list[Any] | None = None,
) -> list[Region]:
    """Features of every region of at least ``min_ml``, largest first.

    Parameters
    ----------
    labels : ndarray
        Coarse label map of the enclosed air (``[z, y, x]``).
    count : int
        Number of labels.
    scan : CoarseScan
        The coarse scan (HU block means, trunk hull, air level).
    min_ml : float
        Smaller regions are not described.
    trachea_labels : set of int
        Labels joined to the confirmed trachea.
    outside_contact : ndarray, optional
        Per label, its cells next to outside air.
    objects : list, optional
        ``scipy.ndimage.find_objects(labels)`` when already known.
    """
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    cell = scan.cell_ml
    wanted = [int(v) for v in np.argsort(sizes)[::-1] if v > 0 and sizes[v] * cell >= min_ml]
    if not wanted:
        return []
    if objects is None:
        objects = ndi.find_objects(labels, max_label=count)
    front, back = _trunk_front_back(scan.trunk_hull)
    nz = labels.shape[0]
    regions = []
    for value in wanted:
        box = objects[value - 1]
        assert box is not None
        mask = labels[box] == value
        # Big regions are summarised from every other cell along each axis: the median
        # and centroid of a lung do not need 600,000 cells.
        thin = (slice(None, None, 2),) * 3 if sizes[value] > 200_000 else (slice(None),) * 3
        sample = mask[thin]
        core = shrink(sample)
        if np.count_nonzero(core) < 20:
            core = sample
        median = float(np.median(scan.hu[box][thin][core]))
        stride = 2 if thin[0].step else 1
        zz = np.count_nonzero(sample, axis=(1, 2))
        yy = np.count_nonzero(sample, axis=(0, 2))
        cy = box[1].start + stride * float(yy @ np.arange(len(yy))) / float(zz.sum())
        z_index = np.arange(box[0].start, box[0].stop, stride)
        f = float(np.average(front[z_index], weights=zz))
        b = float(np.average(back[z_index], weights=zz))
        region = Region(
            label=value,
            volume_ml=float(sizes[value]) * cell,
            box=box,
            median_hu=median,
            above_air=median - scan.air_level,
            ap_position=(cy - f) / max(b - f, 1.0),
            top_gap_mm=float(nz - box[0].stop) * float(scan.spacing[2]),
            trachea=value in trachea_labels,
            outside_contact=(
                float(outside_contact[value]) / float(sizes[value])
                if outside_contact is not None
                else 0.0
            ),
        )
        region.score = lung_likeness(region)
        regions.append(region)
    return regions
