"""The trachea and main bronchi, on the coarse grid, accepted only when they are a trachea.

A trachea is a tube of pure air near the body's midline that runs at least
:data:`MIN_TUBE_MM` down from where it is first seen before it opens into lung. It is
followed slice by slice (through the carina into both main bronchi) until each branch
opens into lung in the slice plane; those cells are the airway. Anything else (a gas
bubble, a short stretch of airway at the top of a crop) is not taken for a trachea, and
the lungs are then told apart another way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

__all__ = ["Airway", "MIN_TUBE_MM", "find_airway"]

#: Shortest stretch of tube above the lungs that counts as a trachea.
MIN_TUBE_MM = 30.0
_FACES_2D = ndi.generate_binary_structure(2, 1)
#: Cells around the airway's previous cross-section searched in the next slice.
_WINDOW = 24


@dataclass
class Airway:
    """What the airway search found.

    Attributes
    ----------
    mask : ndarray of bool
        Airway cells (empty unless ``confirmed``).
    confirmed : bool
        A trachea as defined above was found.
    x : float or None
        Coarse x index of the trachea's centre (the body's midline).
    tube_mm : float
        Length of tube followed before it opened into lung.
    reason : str
        Why no trachea was accepted (empty when one was).
    top_z : int
        Coarse slice where the tube was first seen (-1 when none).
    """

    mask: NDArray[np.bool_]
    confirmed: bool
    x: float | None
    tube_mm: float
    reason: str
    top_z: int = -1
    _box: tuple[slice, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def box(self) -> tuple[slice, ...]:
        """Coarse slices holding the airway's cells (computed once)."""
        if self._box is None:
            found = ndi.find_objects(self.mask.view(np.uint8))
            self._box = found[0] if found and found[0] is not None else (slice(0, 0),) * 3
        return self._box

    def rejected(self, reason: str) -> Airway:
        """The same search, with the tube not taken for a trachea and why."""
        return Airway(np.zeros_like(self.mask), False, None, self.tube_mm, reason, self.top_z)


def _seed(
    inside: NDArray[np.bool_],
    hu: NDArray[np.int16],
    spacing_xyz: NDArray[np.float64],
    midline_x: float,
    pure_air: float,
    slices: range,
) -> tuple[int, NDArray[np.bool_], float] | None:
    """The highest small, round, pure-air region near the midline among ``slices``."""
    sx, sy = float(spacing_xyz[0]), float(spacing_xyz[1])
    pixel = sx * sy
    tolerance = max(40.0, 0.2 * inside.shape[2] * sx)
    for z in slices:
        plane = inside[z]
        if not plane.any():
            continue
        labels, _ = ndi.label(plane)
        areas = np.bincount(labels.ravel())[1:] * pixel
        best = None
        for index, box in enumerate(ndi.find_objects(labels)):
            area = areas[index]
            if box is None or not 20.0 <= area <= 700.0:
                continue
            height = (box[0].stop - box[0].start) * sy
            width = (box[1].stop - box[1].start) * sx
            if area < 0.5 * height * width or max(height, width) > 2.5 * min(height, width):
                continue
            centre_x = 0.5 * (box[1].start + box[1].stop - 1)
            offset = abs(centre_x - midline_x) * sx
            if offset > tolerance:
                continue
            region = labels == index + 1
            if float(np.median(hu[z][region])) > pure_air:
                continue
            if best is None or offset < best[0]:
                best = (offset, region, centre_x)
        if best is not None:
            return z, best[1], best[2]
    return None


def _follow(
    inside: NDArray[np.bool_],
    seed_z: int,
    seed: NDArray[np.bool_],
    pixel: float,
) -> tuple[NDArray[np.bool_], int | None, int]:
    """Follow a tube down from its seed; returns its cells, where it opened, where it ended.

    Each slice keeps the air touching the tube's last cross-section that is no bigger
    than twice the tube (through the carina into both main bronchi); a bigger piece is
    lung the tube opens into.
    """
    airway = np.zeros_like(inside)
    airway[seed_z] = seed
    reference = float(np.count_nonzero(seed)) * pixel
    history = [reference]
    previous = seed
    opened_at: int | None = None
    ny, nx = inside.shape[1:]
    bounds: tuple[slice, slice] = (slice(0, ny), slice(0, nx))  # where ``previous`` lies
    end = seed_z
    for z in range(seed_z - 1, -1, -1):
        # Work in a window around the airway so far: a piece touching the window's edge is
        # bigger than any airway cross-section (it is lung).
        r, c = np.nonzero(previous[bounds])
        rows = slice(bounds[0].start + int(r.min()), bounds[0].start + int(r.max()) + 1)
        cols = slice(bounds[1].start + int(c.min()), bounds[1].start + int(c.max()) + 1)
        window = (
            slice(max(0, rows.start - _WINDOW), min(ny, rows.stop + _WINDOW)),
            slice(max(0, cols.start - _WINDOW), min(nx, cols.stop + _WINDOW)),
        )
        plane = inside[z][window]
        labels, _ = ndi.label(plane)
        reach = ndi.binary_dilation(previous[window], _FACES_2D)
        hits = np.unique(labels[reach & plane])
        hits = hits[hits > 0]
        # Window sides inside the image (the image's own faces are not "elsewhere").
        sides = [np.zeros(0, labels.dtype)]
        if window[0].start > 0:
            sides.append(labels[0])
        if window[0].stop < ny:
            sides.append(labels[-1])
        if window[1].start > 0:
            sides.append(labels[:, 0])
        if window[1].stop < nx:
            sides.append(labels[:, -1])
        edge = np.unique(np.concatenate(sides))
        keep = np.zeros_like(plane)
        limit = 2.0 * reference
        for hit in hits:
            component = labels == hit
            small = np.count_nonzero(component) * pixel <= limit
            if small and hit not in edge:
                keep |= component
            elif opened_at is None:
                opened_at = z  # a branch opens into lung here
        if not keep.any():
            break
        airway[z][window] = keep
        previous = airway[z]
        bounds = window
        end = z
        if len(history) < 5:  # the trachea's own size, from its first slices
            history.append(float(np.count_nonzero(keep)) * pixel)
            reference = float(np.median(history))
    return airway, opened_at, end


def find_airway(
    inside: NDArray[np.bool_],
    hu: NDArray[np.int16],
    spacing_xyz: NDArray[np.float64],
    midline_x: float,
    air_level: float,
    lowest_z: int = 0,
) -> Airway:
    """Find and follow the trachea in the enclosed air (coarse, ``[z, y, x]``, z up).

    Tubes are searched from the top of the scan down to ``lowest_z``; a tube that ends
    without opening into lung (a gas bubble, the larynx closing it at 2 mm) or opens too
    soon (the pharynx widening) does not stop the search: it goes on below it.

    Parameters
    ----------
    inside : ndarray of bool
        Enclosed air cells.
    hu : ndarray
        Block means.
    spacing_xyz : ndarray
        Cell size (x, y, z) in mm.
    midline_x : float
        Best guess of the body's midline (coarse x index).
    air_level : float
        What pure air reads on this scan; the trachea's median must be within 80 HU.
    lowest_z : int
        Lowest coarse slice where a trachea may begin.
    """
    sz = float(spacing_xyz[2])
    pixel = float(spacing_xyz[0] * spacing_xyz[1])
    start = inside.shape[0] - 1
    reason = "no tube of pure air near the midline at the top"
    tube_mm = 0.0
    while start >= lowest_z:
        found = _seed(
            inside, hu, spacing_xyz, midline_x, air_level + 80.0, range(start, lowest_z - 1, -1)
        )
        if found is None:
            break
        seed_z, seed, trachea_x = found
        airway, opened_at, end = _follow(inside, seed_z, seed, pixel)
        if opened_at is None:
            reason = "the air tube at the top does not open into lung (a gas pocket, not a trachea)"
            start = end - 1
            continue
        tube_mm = float(seed_z - opened_at) * sz
        if tube_mm < MIN_TUBE_MM:
            reason = (
                f"the air tube at the top runs only {tube_mm:.0f} mm before it opens into lung "
                f"(a trachea runs at least {MIN_TUBE_MM:.0f} mm)"
            )
            start = opened_at - 1
            continue
        return Airway(airway, True, float(trachea_x), tube_mm, "", seed_z)
    return Airway(np.zeros_like(inside), False, None, tube_mm, reason)
