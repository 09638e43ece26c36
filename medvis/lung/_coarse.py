"""The coarse view of a CT that the lung search works on: block means, padding, body, outside air.

Everything here works on the canonical ``[z, y, x]`` array (index growing to patient
Superior, Posterior, Left; see :mod:`medvis.canonical`), reduced to cells of about
2 mm by averaging blocks of voxels (averaging, not striding: noise drops by the square
root of the block size, which keeps the decisions stable on low-dose scans).

What is *outside* is decided slice by slice from the body, not from the image faces:
the trunk is the largest piece of tissue in the slice, and an air region lying mostly
outside the trunk's convex hull is outside air. A lung that a crop, a narrow field of
view or the reconstruction circle cuts open still lies inside the hull (the chest wall
reaches the cut on both sides of it), so it is not mistaken for outside air. Voxels
the scanner wrote outside its reconstruction circle (a constant far below air, e.g.
-2048 or -3024) are recognised and treated as "not imaged", neither air nor tissue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray
from scipy.spatial import ConvexHull, QhullError

from medvis.blocks import block_counts, block_sums
from medvis.canonical import contiguous

__all__ = ["CoarseScan", "coarse_scan", "fill_in_plane", "IN_PLANE", "grow", "shrink"]

#: A 3-D structuring element that connects voxels only within an axial slice.
IN_PLANE = np.zeros((3, 3, 3), bool)
IN_PLANE[1] = ndi.generate_binary_structure(2, 1)
#: Fine slices averaged per block along z are at most this many per chunk of work.
_CHUNK_SLICES = 24


def _square_filter(
    array: NDArray[Any], cells: int, *, through_slices: bool, minimum: bool
) -> NDArray[Any]:
    """Square (or cube) min/max filter of half-width ``cells``, edges left as they are.

    Shifted numpy slices: 10-20 times faster than ``scipy.ndimage``'s 1-D filters here.
    """
    combine = np.minimum if minimum else np.maximum
    out = array
    for axis in (0, 1, 2) if through_slices else (1, 2):
        for _ in range(cells):
            source = out
            out = source.copy()
            ahead = [slice(None)] * 3
            behind = [slice(None)] * 3
            ahead[axis], behind[axis] = slice(1, None), slice(None, -1)
            combine(out[tuple(ahead)], source[tuple(behind)], out=out[tuple(ahead)])
            combine(out[tuple(behind)], source[tuple(ahead)], out=out[tuple(behind)])
    return out


def _on_border(labels: NDArray[Any], count: int) -> NDArray[np.bool_]:
    """Per label (0..count): whether it touches a slice's border (the last two axes)."""
    border = np.concatenate(
        [
            labels[..., 0, :].ravel(),
            labels[..., -1, :].ravel(),
            labels[..., :, 0].ravel(),
            labels[..., :, -1].ravel(),
        ]
    )
    touches = np.zeros(count + 1, bool)
    touches[border] = True
    return touches


def fill_in_plane(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``mask`` with the holes of each axial slice filled (what its border cannot reach)."""
    background, count = ndi.label(~mask, IN_PLANE)
    return mask | ~_on_border(background, count)[background]


def grow(mask: NDArray[Any], cells: int = 1, *, through_slices: bool = False) -> NDArray[Any]:
    """Dilate by a square of ``cells`` in-plane (a cube with ``through_slices``)."""
    return _square_filter(mask, cells, through_slices=through_slices, minimum=False)


def shrink(mask: NDArray[Any], cells: int = 1, *, through_slices: bool = False) -> NDArray[Any]:
    """Erode by a square of ``cells`` in-plane (a cube with ``through_slices``)."""
    return _square_filter(mask, cells, through_slices=through_slices, minimum=True)


@dataclass
class CoarseScan:
    """The CT reduced to ~2 mm cells, with what is air, body and outside.

    Attributes
    ----------
    step : tuple of int
        Fine voxels per cell along z, y, x.
    spacing : ndarray
        Cell size along x, y, z in mm.
    hu : ndarray of int16
        Block means, rounded (padding counted as air), ``[z, y, x]``.
    padding : ndarray of bool or None
        Cells holding a voxel outside the reconstruction circle; None when the scan has
        no such padding.
    pad_value : float or None
        The padding value found.
    air : ndarray of bool
        Cells at or below the air threshold (padding excluded).
    trunk_hull : ndarray of bool
        Per slice, the convex hull of the largest piece of tissue.
    outside : ndarray of bool
        Air cells that belong to the air around the body.
    trunk_cut_x : bool
        The trunk reaches a left or right image face (or the padding) in many slices:
        its centre is not the body's midline.
    air_level : float
        Median block mean of the outside air away from the body: what pure air reads
        as on this scan, at this noise (-1000 when there is no outside air).
    isocentre_x : float or None
        Coarse x index of the world's x = 0 (the scanner's centre, where patients are
        laid) when it lies in or near the image (within half of its width).
    """

    step: tuple[int, int, int]
    spacing: NDArray[np.float64]
    hu: NDArray[np.int16]
    padding: NDArray[np.bool_] | None
    pad_value: float | None
    air: NDArray[np.bool_]
    trunk_hull: NDArray[np.bool_]
    outside: NDArray[np.bool_]
    trunk_cut_x: bool
    air_level: float
    isocentre_x: float | None = None

    @property
    def cell_ml(self) -> float:
        """Volume of one cell in mL."""
        return float(np.prod(self.spacing)) / 1000.0

    def fine_slices(self, coarse_box: tuple[slice, ...], fine_shape: tuple[int, ...]):
        """Fine-grid slices covering a box of cells."""
        return tuple(
            slice(s.start * st, min(s.stop * st, n))
            for s, st, n in zip(coarse_box, self.step, fine_shape, strict=True)
        )


#: Most cells the coarse grid may hold (its label maps are 4 bytes a cell).
_MAX_CELLS = 20_000_000


def _steps(spacing_xyz: NDArray[np.float64], shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Block size per axis (z, y, x): cells of about 2 mm, and at most ``_MAX_CELLS``.

    A large scan with coarse pixels (1.4 mm over 600 slices) would otherwise keep one cell
    per voxel; its blocks grow, in-plane while its cells are no thicker than the slices.
    """
    sizes = [float(s) for s in spacing_xyz[::-1]]  # z, y, x
    step = [max(1, round(2.0 / s)) for s in sizes]

    def cells() -> int:
        return int(np.prod([-(-n // st) for n, st in zip(shape, step, strict=True)]))

    while cells() > _MAX_CELLS:
        if sizes[1] * step[1] <= sizes[0] * step[0]:  # in-plane, both axes alike
            step[1] += 1
            step[2] += 1
        else:
            step[0] += 1
    return (step[0], step[1], step[2])


def _padding_value(hu: NDArray[Any]) -> float | None:
    """The constant the scanner wrote outside its reconstruction circle, if there is one.

    The scan's minimum, filling at least 0.5 % of a sparse sample of it, either well below
    air (< -1050 HU: -2048, -3024...) or, at air's own -1024 (as Philips writes it), found
    noise-free in the image corners of most slices (real air is noisy).
    """
    sample = hu[:: max(1, hu.shape[0] // 16), ::4, ::4]
    lowest = float(sample.min())
    if lowest > -1000.0 or np.count_nonzero(sample == lowest) < 0.005 * sample.size:
        return None
    if lowest < -1050.0:
        return lowest
    corners = hu[:: max(1, hu.shape[0] // 16)][:, [0, 0, -1, -1], [0, -1, 0, -1]]
    if np.mean(np.all(corners == lowest, axis=1)) < 0.8:
        return None
    return lowest


def _border_connected(cells: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The in-plane connected parts of ``cells`` that reach the slice's border."""
    labels, count = ndi.label(cells, IN_PLANE)
    if count == 0:
        return cells
    keep = _on_border(labels, count)
    keep[0] = False
    return keep[labels]


def _block_reduce(
    hu: NDArray[Any], step: tuple[int, int, int], pad_value: float | None
) -> tuple[NDArray[np.int16], NDArray[np.bool_] | None, NDArray[np.bool_] | None]:
    """Block means (padding replaced by air), and which blocks hold any / only padding."""
    nz, ny, nx = hu.shape
    sz, sy, sx = step
    out_shape = (-(-nz // sz), -(-ny // sy), -(-nx // sx))
    means = np.empty(out_shape, np.int16)
    any_pad = np.zeros(out_shape, bool) if pad_value is not None else None
    all_pad = np.zeros(out_shape, bool) if pad_value is not None else None
    area = block_counts(ny, sy)[:, None] * block_counts(nx, sx)[None, :]
    chunk = max(1, _CHUNK_SLICES // sz) * sz

    for z0 in range(0, nz, chunk):
        block = contiguous(hu[z0 : z0 + chunk])
        if block.dtype.kind == "f" and not np.isfinite(block).all():
            block = np.nan_to_num(block, nan=0.0, posinf=3000.0, neginf=-1024.0)  # not air
        c0 = z0 // sz
        depth = block_counts(block.shape[0], sz)
        rows = slice(c0, c0 + len(depth))
        voxels = depth[:, None, None] * area[None]
        if any_pad is not None and all_pad is not None and pad_value is not None:
            is_pad = block == pad_value
            if pad_value < -1050.0:  # far below air: averaged as air, not as itself
                block = np.where(is_pad, np.int16(-1000), block)
            count = block_sums(is_pad, step)
            any_pad[rows] = count > 0
            all_pad[rows] = count == voxels
        block_means = block_sums(block, step) / voxels
        means[rows] = np.clip(np.round(block_means), -32768, 32767)
    return means, any_pad, all_pad


def _padding_cells(
    any_pad: NDArray[np.bool_], all_pad: NDArray[np.bool_], pad_value: float
) -> NDArray[np.bool_]:
    """Cells outside the reconstruction circle (reachable from the image's border).

    Padding far below air: every cell holding some. Padding that reads as air (-1024):
    cells made of it alone, reached from the border (stray blocks of noisy air clipped at
    -1024 inside the body are not padding), and the cells of the circle's edge beside
    them (a lung cut by the circle must not join the air beyond it).
    """
    if pad_value < -1050.0:
        return _border_connected(any_pad)
    return grow(_border_connected(all_pad)) & any_pad


def _hull_fill(points: NDArray[np.float64], shape: tuple[int, int]) -> NDArray[np.bool_] | None:
    """Pixels of a 2-D image inside the convex hull of ``points`` (row, col)."""
    try:
        hull = ConvexHull(points)
    except (QhullError, ValueError):
        return None
    nr, nc, off = hull.equations.T
    rows = np.arange(shape[0], dtype=np.float64)
    # Inside: nr * r + nc * c + off <= 0 for every facet, i.e. bounds on c per row.
    limit = -(nr[:, None] * rows[None, :] + off[:, None])  # (facets, rows)
    upper, lower, flat = nc > 1e-12, nc < -1e-12, np.abs(nc) <= 1e-12
    hi = np.min(limit[upper] / nc[upper, None], axis=0, initial=np.inf)
    lo = np.max(limit[lower] / nc[lower, None], axis=0, initial=-np.inf)
    if flat.any():
        beyond = np.any(limit[flat] < -1e-9, axis=0)
        lo[beyond], hi[beyond] = np.inf, -np.inf
    cols = np.arange(shape[1], dtype=np.float64)
    return (cols[None, :] >= lo[:, None] - 0.5) & (cols[None, :] <= hi[:, None] + 0.5)


def _trunk_hull(trunk: NDArray[np.bool_], scale: int, shape: tuple[int, int]) -> NDArray[np.bool_]:
    """Convex hull of one slice's trunk found on a grid ``scale`` times coarser, at ``shape``.

    The hull is spanned by each row's first and last pixel, taken back to full cells.
    """
    rows = np.flatnonzero(trunk.any(axis=1))
    if len(rows) < 2:
        return np.zeros(shape, bool)
    first = np.argmax(trunk[rows], axis=1)
    last = trunk.shape[1] - 1 - np.argmax(trunk[rows, ::-1], axis=1)
    # A coarse pixel covers full cells scale*p .. scale*p + scale - 1.
    top, bottom = scale * rows, scale * rows + scale - 1
    left, right = scale * first, scale * last + scale - 1
    points = np.concatenate(
        [
            np.stack([top, left], axis=1),
            np.stack([bottom, left], axis=1),
            np.stack([top, right], axis=1),
            np.stack([bottom, right], axis=1),
        ]
    ).astype(np.float64)
    filled = _hull_fill(points, shape)
    if filled is None:
        full = np.repeat(np.repeat(trunk, scale, axis=0), scale, axis=1)
        return np.ascontiguousarray(full[: shape[0], : shape[1]])
    return filled


def _trunks(
    tissue: NDArray[np.bool_], padding: NDArray[np.bool_] | None
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """Per slice the trunk's convex hull, whether there is a trunk, whether it is cut.

    The trunk is the largest piece of tissue after a one-cell opening (so cables, blanket
    folds or a neighbouring arm's skin line do not join it). It is cut when it reaches a
    left or right image face or the reconstruction circle.
    """
    nz = tissue.shape[0]
    hulls = np.zeros(tissue.shape, bool)
    populated = np.zeros(nz, bool)
    cut = np.zeros(nz, bool)
    near_pad = grow(padding)[:, ::2, ::2] if padding is not None else None
    # Found on every other cell in-plane (~4 mm): the hull only needs the trunk's outline.
    opened = grow(shrink(tissue))[:, ::2, ::2]
    shape = (tissue.shape[1], tissue.shape[2])
    for z in range(nz):
        pieces, count = ndi.label(opened[z])
        if not count:
            continue
        sizes = np.bincount(pieces.ravel())
        sizes[0] = 0
        trunk = pieces == int(np.argmax(sizes))
        hulls[z] = _trunk_hull(trunk, 2, shape)
        populated[z] = True
        cut[z] = bool(trunk[:, 0].any() or trunk[:, -1].any())
        if near_pad is not None:
            cut[z] |= bool(np.any(trunk & near_pad[z]))
    return hulls, populated, cut


def _mostly_outside(labels: NDArray[Any], count: int, hull: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Per label: more than half of it lies outside the hull (index 0 is False)."""
    total = np.bincount(labels.ravel(), minlength=count + 1)
    beyond = np.bincount(labels[~hull], minlength=count + 1)
    result = beyond > 0.5 * total
    result[0] = False
    return result


#: How far (fine voxels) outside the image the world's x = 0 may lie to be used.
_NEAR_ISOCENTRE = 256
#: Mean block value above which air cut by the image's edge is lung, not the room's air.
_LUNG_DENSE_HU = -890.0


def _outside_air(
    air: NDArray[np.bool_], hull: NDArray[np.bool_], hu: NDArray[np.int16]
) -> NDArray[np.bool_]:
    """Air regions of each slice lying mostly outside the trunk's hull.

    Slice by slice, not in 3-D: when the face is in the scan the airways and lungs join
    the room's air through the mouth and nose, but never within an axial slice of the
    chest. A lung cut by the field of view stays inside the hull; one cut in an image
    corner can fall outside it, and is told from the room's air by its density (lung
    parenchyma, mean above -890 HU, where the room's air reads about -1000).
    """
    outside = np.zeros(air.shape, bool)
    for z in range(air.shape[0]):
        regions, count = ndi.label(air[z])
        if not count:
            continue
        is_outside = _mostly_outside(regions, count, hull[z])
        if is_outside.any():
            at_edge = _on_border(regions, count)
            total = np.bincount(regions.ravel(), minlength=count + 1)
            sums = np.bincount(regions.ravel(), weights=hu[z].ravel(), minlength=count + 1)
            dense = sums > _LUNG_DENSE_HU * np.maximum(total, 1)
            is_outside &= ~(at_edge & dense)
            is_outside[0] = False
        outside[z] = is_outside[regions]
    return outside


def coarse_scan(
    hu: NDArray[Any],
    spacing_xyz: NDArray[np.float64],
    high: float,
    *,
    x0_index: float | None = None,
) -> CoarseScan:
    """Reduce a canonical CT to ~2 mm cells and find air, body and outside air.

    Parameters
    ----------
    hu : ndarray
        Canonical ``[z, y, x]`` CT in HU (a view is fine).
    spacing_xyz : ndarray
        Voxel size along x, y, z.
    high : float
        Air threshold: cells at or below it are air.
    x0_index : float, optional
        Fine x index of the world's x = 0.
    """
    step = _steps(spacing_xyz, hu.shape)
    pad_value = _padding_value(hu)
    means, any_pad, all_pad = _block_reduce(hu, step, pad_value)
    padding = None
    if any_pad is not None and all_pad is not None and pad_value is not None:
        padding = _padding_cells(any_pad, all_pad, pad_value)
        del any_pad, all_pad
    air = means <= high
    tissue = ~air
    if padding is not None:
        air &= ~padding
        tissue &= ~padding
    # Thin tissue (cables, blanket folds, the skin line of a neighbouring arm) must not
    # join things to the trunk: a 1-cell opening in-plane first.
    hull, populated, cut = _trunks(tissue, padding)
    del tissue
    outside = _outside_air(air, hull, means)
    trunk_cut_x = int(np.count_nonzero(cut)) > 0.2 * max(1, int(np.count_nonzero(populated)))
    spacing = np.asarray(spacing_xyz, float) * np.array(step[::-1], float)
    # Pure outside air: two cells away from anything else (every other slice suffices).
    far = shrink(outside[::2], 2)
    far_values = means[::2][far][::7]
    air_level = float(np.median(far_values)) if far_values.size > 100 else -1000.0
    return CoarseScan(
        step=step,
        spacing=spacing,
        hu=means,
        padding=padding,
        pad_value=pad_value,
        air=air,
        trunk_hull=hull,
        outside=outside,
        trunk_cut_x=trunk_cut_x,
        air_level=air_level,
        isocentre_x=(
            (x0_index - (step[2] - 1) / 2.0) / step[2]
            if x0_index is not None
            and -_NEAR_ISOCENTRE <= x0_index <= hu.shape[2] + _NEAR_ISOCENTRE
            else None
        ),
    )
