"""Geometry as 3D Slicer stores it: IJK-to-RAS matrices and volume-node parts (pure numpy).

A Slicer ``vtkMRMLVolumeNode`` keeps its ``vtkImageData`` at origin 0, spacing 1 and an
identity direction, and holds the geometry itself, in **RAS**:

``node.SetOrigin(*origin_ras)``
    RAS position of the centre of voxel (0, 0, 0).
``node.SetSpacing(*spacing)``
    Voxel size along i, j, k in mm (the same numbers as medvis's).
``node.SetIJKToRASDirections(*directions_ras.ravel())``
    3x3 whose **columns** are the RAS unit vectors of the i, j and k axes (the nine-number
    overload takes them row by row: ir, jr, kr, ia, ja, ka, is, js, ks).

so that ``IJKToRAS = [directions_ras * spacing | origin_ras]``. medvis's world is LPS and
Slicer's is RAS; they differ by negating x and y (``LPS_TO_RAS = diag(-1, -1, 1, 1)``), and
the voxel index (i, j, k) means the same in both: i is the fastest storage axis, and the
numpy array ``volume.array[k, j, i]`` is exactly what ``slicer.util.arrayFromVolume``
returns. So nothing is transposed or flipped, only the world changes:

``IJKToRAS = LPS_TO_RAS @ volume.index_to_world``.

This module imports numpy and medvis's pure-numpy geometry only, so it is usable (and
tested) without Slicer or VTK.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medvis.geometry import LPS_TO_RAS, affine_from_geometry, geometry_from_affine
from medvis.volume import Volume

__all__ = [
    "SlicerVolumeGeometry",
    "ijk_to_ras",
    "lps_to_ras_points",
    "ras_to_lps_points",
    "slicer_volume_geometry",
    "volume_from_ijk_to_ras",
]


class SlicerVolumeGeometry(NamedTuple):
    """What a ``vtkMRMLVolumeNode`` is given: origin, spacing and directions, in RAS.

    Attributes
    ----------
    origin : ndarray, shape (3,)
        RAS mm of the centre of voxel (0, 0, 0), for ``SetOrigin``.
    spacing : ndarray, shape (3,)
        Voxel size along i, j, k in mm, for ``SetSpacing``.
    directions : ndarray, shape (3, 3)
        Columns are the RAS unit vectors of the i, j, k axes, for
        ``SetIJKToRASDirections`` (pass ``directions.ravel()``: row-major).
    """

    origin: NDArray[np.float64]
    spacing: NDArray[np.float64]
    directions: NDArray[np.float64]

    @property
    def ijk_to_ras(self) -> NDArray[np.float64]:
        """The 4x4 Slicer composes from the three parts (``GetIJKToRASMatrix``)."""
        return affine_from_geometry(self.spacing, self.origin, self.directions)


def ijk_to_ras(volume: Volume) -> NDArray[np.float64]:
    """The IJK-to-RAS 4x4 of a volume, as ``vtkMRMLVolumeNode.GetIJKToRASMatrix`` gives it.

    Parameters
    ----------
    volume : Volume
        Any medvis volume (its LPS ``index_to_world`` is converted).

    Returns
    -------
    ndarray, shape (4, 4)
        ``LPS_TO_RAS @ volume.index_to_world``: maps (i, j, k, 1) to RAS mm.

    Examples
    --------
    >>> import numpy as np
    >>> vol = Volume(np.zeros((2, 3, 4)), spacing=(0.5, 0.5, 2), origin=(10, 20, 30))
    >>> ijk_to_ras(vol).tolist()  # doctest: +NORMALIZE_WHITESPACE
    [[-0.5, 0.0, 0.0, -10.0], [0.0, -0.5, 0.0, -20.0], [0.0, 0.0, 2.0, 30.0],
     [0.0, 0.0, 0.0, 1.0]]
    """
    return LPS_TO_RAS @ volume.index_to_world


def slicer_volume_geometry(volume: Volume) -> SlicerVolumeGeometry:
    """Origin, spacing and directions in RAS, ready for a Slicer volume node.

    Parameters
    ----------
    volume : Volume
        Any medvis volume; a mirrored (determinant -1) or oblique direction is kept as it
        is (Slicer accepts left-handed IJK-to-RAS matrices).

    Returns
    -------
    SlicerVolumeGeometry
        ``origin`` = LPS origin with x and y negated, ``spacing`` unchanged, ``directions``
        = LPS direction with its first two rows negated.

    Examples
    --------
    >>> import numpy as np
    >>> g = slicer_volume_geometry(Volume(np.zeros((2, 2, 2)), origin=(1, 2, 3)))
    >>> g.origin.tolist(), g.directions.diagonal().tolist()
    ([-1.0, -2.0, 3.0], [-1.0, -1.0, 1.0])
    """
    flip = LPS_TO_RAS[:3, :3]
    return SlicerVolumeGeometry(
        origin=flip @ volume.origin,
        spacing=np.array(volume.spacing, dtype=float),
        directions=flip @ volume.direction,
    )


def volume_from_ijk_to_ras(array: ArrayLike, matrix: ArrayLike, **kwargs: Any) -> Volume:
    """The inverse of :func:`ijk_to_ras`: voxels plus a Slicer IJK-to-RAS 4x4 -> Volume.

    Parameters
    ----------
    array : array-like
        Voxels indexed ``[k, j, i]`` (what ``slicer.util.arrayFromVolume`` returns).
    matrix : array-like, shape (4, 4)
        The node's IJK-to-RAS matrix.
    **kwargs
        Other :class:`~medvis.volume.Volume` fields (``metadata``, ``layout``...).

    Returns
    -------
    Volume
        LPS geometry; ``ijk_to_ras(result)`` equals ``matrix``.

    Raises
    ------
    ValueError
        When ``matrix`` is not 4x4, has a zero axis or a last row other than (0, 0, 0, 1).
    """
    m = np.asarray(matrix, dtype=float)
    if m.shape != (4, 4):
        raise ValueError(f"an IJK-to-RAS matrix is 4x4, got shape {m.shape}")
    if not np.allclose(m[3], (0.0, 0.0, 0.0, 1.0)):
        raise ValueError(f"IJK-to-RAS last row must be (0, 0, 0, 1), got {m[3].tolist()}")
    spacing, origin, direction = geometry_from_affine(LPS_TO_RAS @ m)
    return Volume(np.asarray(array), spacing=spacing, origin=origin, direction=direction, **kwargs)


def lps_to_ras_points(points: ArrayLike) -> NDArray[np.float64]:
    """LPS points of shape (..., 3) as RAS points (x and y negated)."""
    pts = np.array(points, dtype=float)
    if pts.shape[-1:] != (3,):
        raise ValueError(f"points must have shape (..., 3), got {pts.shape}")
    pts[..., :2] *= -1.0
    return pts


def ras_to_lps_points(points: ArrayLike) -> NDArray[np.float64]:
    """RAS points of shape (..., 3) as LPS points (the same negation)."""
    return lps_to_ras_points(points)
