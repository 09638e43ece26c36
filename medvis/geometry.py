"""Pure-numpy geometry helpers: affines, axis codes and LPS <-> RAS.

medvis has one world: LPS (DICOM patient coordinates, as ITK and SimpleITK use).
``+x`` points to the patient's Left, ``+y`` Posterior, ``+z`` Superior. RAS formats
(NIfTI, MINC, PAR/REC through nibabel, 3D Slicer) differ by negating x and y.

Index order in this module is VTK's (i, j, k): ``i`` is the fastest-varying storage
axis (columns), ``k`` the slowest (slices). The numpy array of a :class:`Volume`
is indexed ``array[k, j, i]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "LPS_TO_RAS",
    "affine_from_geometry",
    "geometry_from_affine",
    "lps_to_ras_affine",
    "ras_to_lps_affine",
    "axis_codes",
    "is_right_handed",
    "is_orthonormal",
]

#: 4x4 matrix that maps LPS points to RAS points (and back: it is its own inverse).
LPS_TO_RAS: NDArray[np.float64] = np.diag([-1.0, -1.0, 1.0, 1.0])

_POSITIVE = ("L", "P", "S")
_NEGATIVE = ("R", "A", "I")


def affine_from_geometry(
    spacing: ArrayLike, origin: ArrayLike, direction: ArrayLike
) -> NDArray[np.float64]:
    """Build the index (i, j, k) -> world 4x4 from spacing, origin and direction.

    Parameters
    ----------
    spacing : array-like, shape (3,)
        Voxel size along i, j, k in mm.
    origin : array-like, shape (3,)
        World position of voxel (0, 0, 0) (its centre).
    direction : array-like, shape (3, 3)
        Columns are the unit world vectors of the i, j and k axes.

    Returns
    -------
    ndarray, shape (4, 4)
        ``world = A @ [i, j, k, 1]``.
    """
    affine = np.eye(4)
    affine[:3, :3] = np.asarray(direction, float) * np.asarray(spacing, float)[np.newaxis, :]
    affine[:3, 3] = np.asarray(origin, float)
    return affine


def geometry_from_affine(
    affine: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Split an index -> world 4x4 into spacing, origin and direction.

    Spacing is the norm of each column, direction each column divided by its norm.
    A sheared affine gives a non-orthonormal direction that still reproduces it
    exactly; a zero column is refused.

    Returns
    -------
    spacing, origin, direction : ndarray
        Shapes (3,), (3,), (3, 3).

    Raises
    ------
    ValueError
        When a column of the 3x3 part has zero length.
    """
    affine = np.asarray(affine, float)
    linear = affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    if np.any(spacing == 0) or not np.all(np.isfinite(linear)):
        raise ValueError(f"affine has a zero or non-finite axis: {linear.tolist()}")
    direction = linear / spacing[np.newaxis, :]
    return spacing, affine[:3, 3].copy(), direction


def lps_to_ras_affine(affine: ArrayLike) -> NDArray[np.float64]:
    """Convert an index -> LPS affine into index -> RAS."""
    return LPS_TO_RAS @ np.asarray(affine, float)


def ras_to_lps_affine(affine: ArrayLike) -> NDArray[np.float64]:
    """Convert an index -> RAS affine (nibabel, Slicer) into index -> LPS."""
    return LPS_TO_RAS @ np.asarray(affine, float)


def axis_codes(direction: ArrayLike, *, world: str = "LPS") -> str:
    """Name the anatomical direction each index axis points to most closely.

    Parameters
    ----------
    direction : array-like, shape (3, 3)
        Columns are the i, j, k unit vectors in LPS world coordinates.
    world : {"LPS", "RAS"}
        The world the direction is expressed in.

    Returns
    -------
    str
        Three letters, e.g. ``"LPS"`` for identity in LPS, ``"RAS"`` for a volume
        stored left-to-right flipped, ``"LAS"`` for the common NIfTI storage. Each
        axis gets the largest-magnitude world component not taken by an earlier
        axis (the same greedy rule as nibabel's ``aff2axcodes`` for orthogonal input).
    """
    mat = np.asarray(direction, float)
    if world.upper() == "RAS":
        mat = LPS_TO_RAS[:3, :3] @ mat
    elif world.upper() != "LPS":
        raise ValueError(f"world must be 'LPS' or 'RAS', not {world!r}")
    codes = [""] * 3
    used: set[int] = set()
    # Assign the most decisive axes first so an oblique volume gets a consistent answer.
    order = np.argsort(-np.max(np.abs(mat), axis=0), kind="stable")
    for axis in order:
        column = np.abs(mat[:, axis]).copy()
        for taken in used:
            column[taken] = -1.0
        world_axis = int(np.argmax(column))
        used.add(world_axis)
        positive = mat[world_axis, axis] >= 0
        codes[axis] = (_POSITIVE if positive else _NEGATIVE)[world_axis]
    return "".join(codes)


def is_right_handed(direction: ArrayLike) -> bool:
    """True when the direction's determinant is positive (no flip)."""
    return bool(np.linalg.det(np.asarray(direction, float)) > 0)


def is_orthonormal(direction: ArrayLike, *, tol: float = 1e-4) -> bool:
    """True when the direction columns are orthonormal within ``tol``."""
    mat = np.asarray(direction, float)
    return bool(np.allclose(mat.T @ mat, np.eye(3), atol=tol))
