"""Right or left: the body's midline from anatomy, and cutting lungs that touch.

The midline is taken, in this order, from the trachea, from the centre of the trunk
(when the field of view holds the whole width of the body), or from the spine (the
column of bone behind the lungs, also when a crop cuts the body). Each lung piece goes
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
    source: str  # "trachea", "trunk", "spine" or "image centre"


def _trunk_centre(scan: CoarseScan) -> float | None:
    cols = np.any(scan.trunk_hull, axis=1)  # [z, x]
    has = np.any(cols, axis=1)
    if np.count_nonzero(has) == 0:
        return None
    first = np.argmax(cols[has], axis=1)
    last = cols.shape[1] - 1 - np.argmax(cols[has][:, ::-1], axis=1)
    return float(np.median(0.5 * (first + last)))


def _spine_centre(scan: CoarseScan) -> float | None:
    """x of the densest column of bone in the back half of the trunk, over all slices."""
    hull = scan.trunk_hull
    rows = np.any(hull, axis=2)
    has = np.any(rows, axis=1)
    if not has.any():
        return None
    front = np.argmax(rows, axis=1)
    back = rows.shape[1] - 1 - np.argmax(rows[:, ::-1], axis=1)
    middle = 0.5 * (front + back)
    y = np.arange(hull.shape[1])
    back_half = (y[None, :] >= middle[:, None]) & has[:, None]  # [z, y]
    bone = (scan.hu >= 200.0) & hull & back_half[:, :, None]
    profile = np.count_nonzero(bone, axis=(0, 1)).astype(float)
    width = max(1, round(20.0 / float(scan.spacing[0])))
    profile = ndi.uniform_filter1d(profile, width)
    if profile.max() < 2.0 * np.count_nonzero(has):  # under ~2 cells of bone a slice
        return None
    return float(np.argmax(profile))


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
