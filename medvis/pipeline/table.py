"""The patient table of a CT, found so that volume renderings can leave it out.

The table (or couch top) is a flat, dense structure that runs the whole length of the
scan, separate from the patient, behind the patient's back (in front when the patient
lies prone). Everything beyond the patient on the table's side can then be cut away with
a cropping plane: no voxel is changed or resampled, nothing inside the body is touched,
and it costs nothing at render time.

The search works on a sparse sample of the scan viewed in canonical LPS order (see
:mod:`medvis.canonical`): dense voxels (above -500 HU) are grouped in 3-D; the patient
is the largest group; a table is another group that spans at least half of the slices,
is at most 60 mm thick front to back and at least 100 mm wide, and lies wholly behind
(or in front of) the patient. When the table touches the patient no plane separates
them, and nothing is cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndi

from medvis.blocks import block_sums
from medvis.canonical import canonical_reorientation
from medvis.volume import Volume

__all__ = ["TableCut", "find_table"]

_DENSE_HU = -500.0
#: Room kept between the patient's outermost point and the cutting plane, in mm.
_MARGIN_MM = 2.0


@dataclass(frozen=True)
class TableCut:
    """Where to cut the table away.

    Attributes
    ----------
    side : {"posterior", "anterior"}
        The table's side of the patient.
    y_mm : float
        LPS y of the cutting plane: keep ``y <= y_mm`` (posterior table) or ``y >= y_mm``
        (anterior table).
    box : tuple of 6 floats
        LPS box ``(xmin, xmax, ymin, ymax, zmin, zmax)`` holding the patient side of the
        volume (for :func:`medvis.render.volume_render.world_box_to_crop`).
    """

    side: str
    y_mm: float
    box: tuple[float, float, float, float, float, float]


def _any_in_blocks(hu: np.ndarray, step: tuple[int, ...]) -> np.ndarray:
    """Blocks of ``step`` voxels holding any dense voxel (a 2 mm shell is not lost)."""
    slab = 32 * step[0]  # slabs: small temporaries
    return np.concatenate(
        [
            block_sums(np.asarray(hu[z0 : z0 + slab]) > _DENSE_HU, step) > 0
            for z0 in range(0, hu.shape[0], slab)
        ]
    )


def find_table(volume: Volume) -> TableCut | None:
    """Find the table of a CT in HU; None when there is none separate from the patient.

    Parameters
    ----------
    volume : Volume
        3-D CT in HU, any storage order whose axes are near the patient axes.

    Returns
    -------
    TableCut or None
        The plane just beyond the patient on the table's side.
    """
    if volume.layout != "kji" or min(volume.shape_ijk) < 2:
        return None
    reo = canonical_reorientation(volume)
    if not np.allclose(np.abs(reo.direction), np.eye(3), atol=1e-3):
        return None  # oblique: a plane along y would not be the table's plane
    hu = reo.to_canonical(volume.array)
    spacing = reo.spacing  # x, y, z
    step = tuple(
        max(1, round(s_target / s))
        for s_target, s in zip((4.0, 4.0, 4.0), spacing[::-1], strict=True)
    )
    sample = _any_in_blocks(hu, step)
    labels, count = ndi.label(sample)
    if count < 2:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    patient = int(np.argmax(sizes))
    boxes = ndi.find_objects(labels)
    body = boxes[patient - 1]
    assert body is not None
    cell = np.array(step[::-1], float) * spacing  # x, y, z mm per sample
    nz = sample.shape[0]
    tables = []
    for value, box in enumerate(boxes, start=1):
        if box is None or value == patient:
            continue
        slices = box[0].stop - box[0].start
        thick = (box[1].stop - box[1].start) * cell[1]
        wide = (box[2].stop - box[2].start) * cell[0]
        if slices < 0.5 * nz or thick > 60.0 or wide < 100.0:
            continue
        if box[1].start >= body[1].stop:
            tables.append("posterior")
        elif box[1].stop <= body[1].start:
            tables.append("anterior")
    if not tables or len(set(tables)) > 1:
        return None
    side = tables[0]

    def world_y(index: float) -> float:
        return float(reo.origin[1] + reo.direction[1, 1] * spacing[1] * index)

    # The patient's outermost dense sample on the table's side, then half a sample on.
    if side == "posterior":
        edge = (body[1].stop - 1) * step[1] + (step[1] - 1)
        y_cut = world_y(edge) + _MARGIN_MM
    else:
        edge = body[1].start * step[1]
        y_cut = world_y(edge) - _MARGIN_MM
    lo, hi = np.asarray(volume.world_bounds, float).reshape(3, 2).T
    pad = 1.0  # mm: the box must hold the whole volume on the patient's side
    box = [lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad, lo[2] - pad, hi[2] + pad]
    if side == "posterior":
        box[3] = min(box[3], y_cut)
    else:
        box[2] = max(box[2], y_cut)
    return TableCut(side=side, y_mm=y_cut, box=(box[0], box[1], box[2], box[3], box[4], box[5]))
