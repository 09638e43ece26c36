"""Right or left: the body's midline from anatomy, and cutting lungs that touch.

The midline is taken, in this order, from the trachea, from the centre of the trunk
(when the field of view holds the whole width of the body), or from the spine (the
vertebral bodies, also when a crop cuts the body). Without any of them it is a guess:
the scanner's x = 0 (patients lie centred on the table), said so in the warnings. Each lung piece goes
to the side its cells lie on; a piece that spans both sides (lungs touching at the
anterior or posterior junction, or joined through the airways when no trachea was
accepted) is cut where it is thinnest: thresholding its distance map at growing depths
until it falls in two, then giving every cell to the nearer of the two cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from medvis.lung._coarse import CoarseScan, fill_in_plane

__all__ = ["Midline", "find_midline", "split_across"]


@dataclass(frozen=True)
class Midline:
    """Coarse x index of the body's midline and where it came from."""

    x: float
    source: str  # "trachea", "trunk", "spine"; a guess: "table centre", "image centre"

    @property
    def anatomical(self) -> bool:
        """Whether it was found from the patient's anatomy (not a guess)."""
        return self.source in ("trachea", "trunk", "spine")


def _trunk_centre(scan: CoarseScan) -> float | None:
    cols = np.any(scan.trunk_hull, axis=1)  # [z, x]
    has = np.any(cols, axis=1)
    if np.count_nonzero(has) == 0:
        return None
    first = np.argmax(cols[has], axis=1)
    last = cols.shape[1] - 1 - np.argmax(cols[has][:, ::-1], axis=1)
    return float(np.median(0.5 * (first + last)))


def _spine_centre(scan: CoarseScan) -> float | None:
    """x of the vertebral bodies: the column where round blobs of bone stack up.

    A blob (of 150 HU or more, holes filled) may be a vertebra when its area is
    300-4000 mm2 (the body, with its arch where they meet, or half of them in a crop cut
    at the midline), it is not elongated (box sides within 2.2 of each other; ribs,
    sternum and a table's rails are) and fills at least a third of its box. The spine is
    where such blobs lie at the same x (within 10 mm) in at least 35 % of the slices
    with a trunk; a scapula or a rib's cross-section does not stack up like that. None
    when there is no such column (a crop without the spine).
    """
    sx, sy = float(scan.spacing[0]), float(scan.spacing[1])
    bone = scan.hu >= 150.0  # cancellous bone of a vertebral body is 150-250 HU
    xs: list[float] = []
    populated = 0
    # The spine runs through every slice: 40 of them, evenly spread, are enough.
    for z in np.unique(np.linspace(0, bone.shape[0] - 1, min(bone.shape[0], 40)).astype(int)):
        if not scan.trunk_hull[z].any():
            continue
        populated += 1
        blobs, count = ndi.label(ndi.binary_fill_holes(bone[z]))
        if not count:
            continue
        areas = np.bincount(blobs.ravel()) * sx * sy
        for index, box in enumerate(ndi.find_objects(blobs), start=1):
            if box is None or not 300.0 <= areas[index] <= 4000.0:
                continue
            height, width = (box[0].stop - box[0].start) * sy, (box[1].stop - box[1].start) * sx
            if max(height, width) > 2.2 * min(height, width):
                continue
            if areas[index] < 0.33 * height * width:
                continue
            xs.append(0.5 * (box[1].start + box[1].stop - 1))
    if not xs:
        return None
    positions = np.asarray(xs)
    window = 10.0 / sx  # cells
    counts = [np.count_nonzero(np.abs(positions - x) <= window) for x in positions]
    mode = positions[int(np.argmax(counts))]
    column = positions[np.abs(positions - mode) <= window]
    if len(column) < 0.35 * populated:
        return None
    return float(np.median(column))


def find_midline(scan: CoarseScan, trachea_x: float | None) -> Midline:
    """The body's midline (coarse x index), from the best anatomy available."""
    if trachea_x is not None:
        return Midline(trachea_x, "trachea")
    if not scan.trunk_cut_x:
        centre = _trunk_centre(scan)
        if centre is not None:
            return Midline(centre, "trunk")
    spine = _spine_centre(scan)
    if spine is not None:
        return Midline(spine, "spine")
    if scan.isocentre_x is not None:
        return Midline(scan.isocentre_x, "table centre")
    return Midline(0.5 * (scan.hu.shape[2] - 1), "image centre")


def split_across(
    mask: NDArray[np.bool_], spacing_xyz: NDArray[np.float64], midline_x: float, x0: int
) -> NDArray[np.uint8] | None:
    """Cut a region spanning the midline into a right (1) and a left (2) part.

    Parameters
    ----------
    mask : ndarray of bool
        The region, cropped to its box (coarse ``[z, y, x]``).
    spacing_xyz : ndarray
        Cell size (x, y, z).
    midline_x : float
        Midline in the coarse grid's x index.
    x0 : int
        Coarse x index of the crop's first column.

    Returns
    -------
    ndarray of uint8 or None
        1 on the patient's right (smaller x), 2 on the left, 0 outside the mask; None
        when no two cores on either side of the midline were found.
    """
    solid = fill_in_plane(mask)
    depth = ndi.distance_transform_edt(solid, sampling=np.asarray(spacing_xyz, float)[::-1])
    deepest = float(depth.max())
    cores = None
    step = max(1.0, float(min(spacing_xyz)))
    level = step
    while level < deepest:
        labels, count = ndi.label(depth > level)
        if count >= 2:
            sizes = np.bincount(labels.ravel())
            sizes[0] = 0
            first, second = (int(v) for v in np.argsort(sizes)[::-1][:2])
            if sizes[second] >= 0.12 * sizes[first]:
                xs = {v: x0 + float(np.nonzero(labels == v)[2].mean()) for v in (first, second)}
                if min(xs.values()) < midline_x < max(xs.values()):
                    right = min(xs, key=lambda v: xs[v])
                    cores = np.zeros(mask.shape, np.uint8)
                    cores[labels == right] = 1
                    cores[labels == (first if right == second else second)] = 2
                    break
        level += step
    if cores is None:
        return None
    nearest = ndi.distance_transform_edt(
        cores == 0,
        sampling=np.asarray(spacing_xyz, float)[::-1],
        return_distances=False,
        return_indices=True,
    )
    out = cores[tuple(nearest)]
    out[~mask] = 0
    return out
