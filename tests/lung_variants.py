"""Variants of a real chest CT for the lung segmentation tests, and the maths to score them.

Every builder returns a proper :class:`~medvis.volume.Volume`: a crop moves the origin to
its first voxel, a flip moves it to the other end, a permutation swaps the direction
columns, so that every voxel keeps its LPS world position. That is what lets
:func:`map_labels` carry the full scan's segmentation onto any variant's grid as the
reference to compare with.

Only cheap numpy views and copies here: each builder takes well under a second on the
512 x 512 x 141 chest CT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import ArrayLike, NDArray

from medvis.phantoms import world_grid
from medvis.volume import Volume

#: Air, lung and bone are below this; fat, muscle, organs, bone and the table above.
DENSE_HU = -500.0

#: Words a warning uses for the edge of the scan that cuts a lung (the issue says
#: "cut by the top/bottom/sides of the scan"); a warning counts when it also says
#: it is about a cut (:data:`CUT_WORDS`).
EDGE_WORDS: dict[str, tuple[str, ...]] = {
    "top": ("top", "superior", "first slice", "apex", "apices"),
    "bottom": ("bottom", "inferior", "last slice", "base"),
    "side": (
        "side",
        "lateral",
        "in-plane",
        "field of view",
        "fov",
        "circle",
        "front",
        "back",
        "anterior",
        "posterior",
    ),
}
CUT_WORDS = ("cut", "truncat", "lower bound", "clipped", "outside the scan", "reaches")
#: Words of a warning that only one lung was found.
SINGLE_WORDS = ("one lung", "single lung", "only the right", "only the left", "only one")


# ------------------------------------------------------------------------ scoring
def dice(a: ArrayLike, b: ArrayLike) -> float:
    """Dice coefficient of two masks of the same shape.

    Parameters
    ----------
    a, b : array-like of bool
        The masks.

    Returns
    -------
    float
        ``2 |a & b| / (|a| + |b|)``; 1.0 when both are empty.
    """
    a = np.asarray(a, bool)
    b = np.asarray(b, bool)
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    if total == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(a & b)) / total


def voxel_ml(volume: Volume) -> float:
    """Volume of one voxel of ``volume`` in millilitres."""
    return float(np.prod(volume.spacing)) / 1000.0


def label_ml(labels: Volume, value: int) -> float:
    """Millilitres of label ``value`` in a label map."""
    return int(np.count_nonzero(labels.array == value)) * voxel_ml(labels)


def map_labels(reference: Volume, grid: Volume) -> NDArray[Any]:
    """A label map resampled onto another grid through world coordinates.

    Nearest neighbour: each voxel centre of ``grid`` goes to LPS world, then to the
    nearest voxel of ``reference``; centres outside ``reference`` get 0.

    Parameters
    ----------
    reference : Volume
        Labels (any integer dtype) on their own grid.
    grid : Volume
        The grid to map onto (only its geometry is used). Its axes must be parallel to
        the reference's axes (any permutation and flips, any spacing and origin), which
        holds for every variant built here; then each reference index depends on one
        grid index only and the mapping is exact and cheap.

    Returns
    -------
    ndarray, shape of ``grid.array``, dtype of ``reference.array``
        The reference labels in ``grid``'s storage order ``[k, j, i]``.

    Raises
    ------
    ValueError
        The two grids' axes are not parallel.
    """
    # index of reference = M @ index of grid (homogeneous)
    m = reference.world_to_index @ grid.index_to_world
    linear = m[:3, :3]
    scale = np.abs(linear).max()
    n_grid = grid.shape_ijk
    n_ref = reference.shape_ijk
    index: list[NDArray[np.intp]] = [np.empty(0, np.intp)] * 3  # per reference dim [k, j, i]
    valid = np.ones(grid.array.shape, bool)
    for axis in range(3):  # reference axis i, j, k
        row = linear[axis]
        sources = np.nonzero(np.abs(row) > 1e-6 * scale)[0]
        if len(sources) != 1:
            raise ValueError(f"grids not parallel: index map {linear.tolist()}")
        src = int(sources[0])
        steps = np.arange(n_grid[src], dtype=float)
        # floor(x + 0.5) with a little slack, so a centre lying exactly between two
        # reference centres (5 mm over 2 mm slices) always rounds the same way.
        ref_index = np.floor(row[src] * steps + m[axis, 3] + 0.5 + 1e-6).astype(np.intp)
        inside = (ref_index >= 0) & (ref_index < n_ref[axis])
        shape = [1, 1, 1]
        shape[2 - src] = n_grid[src]  # the grid's storage dim of axis src
        index[2 - axis] = np.clip(ref_index, 0, n_ref[axis] - 1).reshape(shape)
        valid &= inside.reshape(shape)
    out = reference.array[index[0], index[1], index[2]]  # a new array
    out[~valid] = 0
    return np.ascontiguousarray(out)


def cut_edges(warnings: tuple[str, ...]) -> set[str]:
    """Which edges of the scan ("top", "bottom", "side") the warnings say cut a lung."""
    found: set[str] = set()
    for text in warnings:
        low = text.lower()
        if not any(word in low for word in CUT_WORDS):
            continue
        for edge, words in EDGE_WORDS.items():
            if any(word in low for word in words):
                found.add(edge)
    return found


def says_single_lung(warnings: tuple[str, ...]) -> bool:
    """Whether a warning says only one lung was found."""
    return any(word in text.lower() for text in warnings for word in SINGLE_WORDS)


# ---------------------------------------------------------------- geometry builders
def crop(
    ct: Volume, *, k: slice = slice(None), j: slice = slice(None), i: slice = slice(None)
) -> Volume:
    """A box of ``ct`` (storage indices, step 1) with its origin at the box's first voxel.

    Parameters
    ----------
    ct : Volume
        The scan.
    k, j, i : slice
        Index ranges along the storage axes.

    Returns
    -------
    Volume
        A contiguous copy; every voxel keeps its world position.
    """
    box = (k, j, i)
    starts = []
    for s, n in zip(box, ct.array.shape, strict=True):
        start, _, step = s.indices(n)
        if step != 1:
            raise ValueError("crop takes slices with step 1")
        starts.append(start)
    origin = ct.index_to_world_points([starts[2], starts[1], starts[0]])
    return ct.replace(array=np.ascontiguousarray(ct.array[box]), origin=origin)


def reorder(
    ct: Volume,
    *,
    axes: tuple[int, int, int] = (0, 1, 2),
    flip: tuple[bool, bool, bool] = (False, False, False),
) -> Volume:
    """The same scan stored in another order: axes permuted, then some of them reversed.

    Parameters
    ----------
    ct : Volume
        The scan.
    axes : tuple of int
        New axis ``n`` (0 = i, 1 = j, 2 = k) is old axis ``axes[n]``; the direction
        columns and spacings follow.
    flip : tuple of bool
        Reverse new axis i, j, k: the direction column changes sign and the origin moves
        to the voxel that was last along that axis.

    Returns
    -------
    Volume
        Every voxel keeps its world position.
    """
    order = list(axes)
    array = ct.array.transpose([2 - order[2 - d] for d in range(3)])
    direction = ct.direction[:, order].copy()
    spacing = ct.spacing[order]
    moved = Volume(array, spacing=spacing, origin=ct.origin, direction=direction)
    last = [n - 1 if f else 0 for n, f in zip(moved.shape_ijk, flip, strict=True)]
    origin = moved.index_to_world_points(last)
    for axis, f in enumerate(flip):
        if f:
            array = np.flip(array, axis=2 - axis)
            direction[:, axis] *= -1.0
    return ct.replace(
        array=np.ascontiguousarray(array), spacing=spacing, origin=origin, direction=direction
    )


def thin_slices(ct: Volume, factor: int) -> Volume:
    """Each slice split in ``factor`` thinner ones (same values), on a grid ``factor``
    times finer along k with the same extent: slice ``k`` covering ``[k - 0.5, k + 0.5)``
    becomes slices at ``k - 0.5 + (m + 0.5) / factor``."""
    spacing = np.array(ct.spacing, float)
    spacing[2] /= factor
    origin = ct.index_to_world_points([0.0, 0.0, -0.5 + 0.5 / factor])
    return Volume(
        np.repeat(ct.array, factor, axis=0),
        spacing=spacing,
        origin=origin,
        direction=ct.direction,
        metadata=ct.metadata,
        source=ct.source,
    )


def thick_slices(ct: Volume, thickness_mm: float) -> Volume:
    """Slabs of ``thickness_mm`` along k, each the overlap-weighted mean of the thin slices.

    Slab ``n`` covers k-index interval ``[-0.5 + n f, -0.5 + (n + 1) f)`` with
    ``f = thickness_mm / spacing_k`` (the thin slices' own extents: each covers
    ``[k - 0.5, k + 0.5)``); only whole slabs inside the scan are kept. Its centre, at
    index ``-0.5 + (n + 0.5) f``, is where the new grid puts it.

    Parameters
    ----------
    ct : Volume
        The scan (HU).
    thickness_mm : float
        New slice spacing and thickness.

    Returns
    -------
    Volume
        int16 HU (rounded), spacing k = ``thickness_mm``.
    """
    nk = ct.array.shape[0]
    factor = thickness_mm / float(ct.spacing[2])
    count = int(np.floor(nk / factor + 1e-9))
    weights = np.zeros((count, nk))
    for n in range(count):
        lo, hi = -0.5 + n * factor, -0.5 + (n + 1) * factor
        for kk in range(int(np.floor(lo + 0.5)), min(nk, int(np.ceil(hi + 0.5)))):
            overlap = min(hi, kk + 0.5) - max(lo, kk - 0.5)
            if overlap > 0:
                weights[n, kk] = overlap / factor
    slabs = np.tensordot(weights, ct.array.astype(np.float32), axes=(1, 0))
    origin = ct.index_to_world_points([0.0, 0.0, -0.5 + 0.5 * factor])
    spacing = ct.spacing.copy()
    spacing[2] = thickness_mm
    return ct.replace(array=np.round(slabs).astype(np.int16), spacing=spacing, origin=origin)


# ----------------------------------------------------------------- what is in the scan
def body_mask(ct: Volume) -> NDArray[np.bool_]:
    """The patient: the largest 3-D region of ``HU > -500``, holes filled in each slice.

    The table does not touch the patient's skin in these scans (a layer of air lies
    between), so it stays out; so does anything else outside the body.
    """
    labels, _ = ndi.label(ct.array > DENSE_HU)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    body = labels == int(sizes.argmax())
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = ndi.generate_binary_structure(2, 1)
    return np.asarray(ndi.binary_fill_holes(body, in_plane), bool)


@dataclass(frozen=True)
class Trachea:
    """The trachea in the top slices of an axial scan stored ``i`` = x, ``j`` = y."""

    column: float  #: median i of its centre (the patient's midline)
    row: float  #: median j of its centre
    air_sd: float  #: standard deviation of the HU of its lumen (the scan's air noise)
    slices: int  #: how many slices it was found in


def find_trachea(ct: Volume, body: NDArray[np.bool_], *, top_mm: float = 40.0) -> Trachea:
    """The trachea: in each of the top ``top_mm`` slices, the air region inside the body
    of 100 to 800 mm2 nearest to the body's centre column.

    Raises
    ------
    AssertionError
        It is not found in at least half of those slices.
    """
    pixel = float(ct.spacing[0] * ct.spacing[1])
    nk = ct.array.shape[0]
    columns, rows, air = [], [], []
    for k in range(nk - 1, nk - 1 - round(top_mm / float(ct.spacing[2])), -1):
        inside = (ct.array[k] < DENSE_HU) & body[k]
        parts, _ = ndi.label(inside)
        cols = np.nonzero(body[k].any(axis=0))[0]
        centre = 0.5 * (cols[0] + cols[-1])
        best = None
        for idx, found in enumerate(ndi.find_objects(parts), start=1):
            area = np.count_nonzero(parts[found] == idx) * pixel
            if 100.0 <= area <= 800.0:
                jj, ii = ndi.center_of_mass(parts == idx)
                if best is None or abs(ii - centre) < abs(best[1] - centre):
                    best = (jj, ii, idx)
        if best is not None:
            rows.append(best[0])
            columns.append(best[1])
            lumen = ndi.binary_erosion(parts == best[2])  # away from the wall
            air.append(ct.array[k][lumen].astype(float))
    assert len(columns) * 2 >= round(top_mm / float(ct.spacing[2])), "trachea not found"
    return Trachea(
        column=float(np.median(columns)),
        row=float(np.median(rows)),
        air_sd=float(np.std(np.concatenate(air))),
        slices=len(columns),
    )


# --------------------------------------------------------------- intensity builders
def with_noise(ct: Volume, sigma: float, *, seed: int = 0) -> Volume:
    """Gaussian noise added, clipped at -1024 (as a scanner writes) and to int16."""
    rng = np.random.default_rng(seed)
    noisy = ct.array.astype(np.float32) + rng.normal(0.0, sigma, ct.array.shape).astype(np.float32)
    return ct.replace(array=np.clip(np.round(noisy), -1024, 32767).astype(np.int16))


def inside_circle(ct: Volume, radius_mm: float) -> NDArray[np.bool_]:
    """Voxels whose in-plane distance from the image centre is at most ``radius_mm``
    (axial storage, the reconstruction circle of a scanner), shape of ``ct.array``."""
    nk, nj, ni = ct.array.shape
    y = (np.arange(nj) - 0.5 * (nj - 1)) * float(ct.spacing[1])
    x = (np.arange(ni) - 0.5 * (ni - 1)) * float(ct.spacing[0])
    disc = np.hypot(y[:, None], x[None, :]) <= radius_mm
    return np.broadcast_to(disc, (nk, nj, ni))


def circular_fov(ct: Volume, radius_mm: float, *, fill: int) -> Volume:
    """Padding outside the reconstruction circle set to ``fill`` (-2048, -3024...)."""
    array = ct.array.copy()
    array[~inside_circle(ct, radius_mm)] = fill
    return ct.replace(array=array)


def prone(ct: Volume, body: NDArray[np.bool_], *, margin_mm: float = 3.0) -> Volume:
    """What a prone scan looks like: the table in front of the patient, stored rotated.

    The rows posterior to the whole body (from ``margin_mm`` behind its most posterior
    voxel: the table, and the air around it) are cut off, mirrored and put in front of
    the first row, so the table's upper surface faces the patient's front; the patient's
    voxels shift in storage and the origin moves so that they keep their world
    positions. Then the in-plane storage is turned 180 degrees (rows and columns
    reversed, direction columns i and j negated: diag(-1, -1, 1) for an identity scan).

    Parameters
    ----------
    ct : Volume
        An axial scan stored with ``j`` pointing posterior (LPS +y).
    body : ndarray of bool
        :func:`body_mask` of ``ct``.

    Returns
    -------
    Volume
        Same shape; the table now anterior, outside the original scan's field.
    """
    assert ct.direction[1, 1] > 0.99, "j must point posterior"
    back = int(np.nonzero(body.any(axis=(0, 2)))[0][-1])
    first = back + 1 + int(np.ceil(margin_mm / float(ct.spacing[1])))
    band = ct.array[:, first:, :]
    moved = np.concatenate([band[:, ::-1, :], ct.array[:, :first, :]], axis=1)
    origin = ct.index_to_world_points([0.0, -float(band.shape[1]), 0.0])
    shifted = ct.replace(array=np.ascontiguousarray(moved), origin=origin)
    return reorder(shifted, flip=(True, True, False))


def table_rows(ct: Volume, body: NDArray[np.bool_], *, margin_mm: float = 3.0) -> slice:
    """Rows posterior to the whole body (what :func:`prone` moves)."""
    back = int(np.nonzero(body.any(axis=(0, 2)))[0][-1])
    return slice(back + 1 + int(np.ceil(margin_mm / float(ct.spacing[1]))), ct.array.shape[1])


@dataclass(frozen=True)
class GasPocket:
    """An ellipsoid of bowel or stomach gas, in LPS millimetres."""

    name: str
    centre: tuple[float, float, float]
    radii: tuple[float, float, float]


def ellipsoid_mask(grid: Volume, pocket: GasPocket) -> NDArray[np.bool_]:
    """Voxels of ``grid`` whose centres lie inside the pocket."""
    xyz = world_grid(grid.shape_ijk, grid.spacing, grid.origin, grid.direction)
    d = (xyz - np.asarray(pocket.centre)) / np.asarray(pocket.radii)
    return np.asarray(np.einsum("...i,...i->...", d, d) <= 1.0)


def with_gas(
    ct: Volume, pockets: list[GasPocket], *, air_sd: float, seed: int = 0
) -> tuple[Volume, NDArray[np.bool_]]:
    """Gas pockets put into a scan: -1000 HU with the scan's air noise, smooth, no vessels.

    The edge is blurred over about a voxel (partial volume) like a real gas-tissue
    boundary; the mask returned is where the gas is at least half (HU below the mean of
    tissue and gas).

    Returns
    -------
    Volume
        The scan with the gas (int16).
    ndarray of bool
        The gas voxels.
    """
    rng = np.random.default_rng(seed)
    share = np.zeros(ct.array.shape, np.float32)
    for pocket in pockets:
        share = np.maximum(share, ellipsoid_mask(ct, pocket).astype(np.float32))
    sigma_vox = [0.7 / s for s in ct.spacing[::-1]]  # about 0.7 mm: partial volume
    share = ndi.gaussian_filter(share, sigma_vox)
    gas = -1000.0 + rng.normal(0.0, air_sd, ct.array.shape).astype(np.float32)
    hu = ct.array.astype(np.float32) * (1.0 - share) + gas * share
    out = np.clip(np.round(hu), -1024, 32767).astype(np.int16)
    return ct.replace(array=out), share >= 0.5
