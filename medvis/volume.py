"""The one value object of medvis: :class:`Volume`.

A volume is a C-ordered numpy array indexed ``array[k, j, i]`` (slowest to fastest
storage axis) plus the geometry that maps an index (i, j, k) to LPS world millimetres:
``world = origin + direction @ (spacing * [i, j, k])``.

Besides plain scalar volumes, two 4-D layouts are kept whole:

``"tkji"``
    a series of frames (time points, diffusion directions, echoes): ``array[t, k, j, i]``.
``"kjic"``
    several components per voxel (RGB colour, vectors): ``array[k, j, i, c]``,
    which is also how VTK stores multi-component scalars.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medvis import geometry

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    import nibabel
    import SimpleITK
    import vtkmodules.vtkCommonDataModel

__all__ = ["Volume", "Layout"]

Layout = Literal["kji", "tkji", "kjic"]


def _frozen_mapping(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True, eq=False)
class Volume:
    """A voxel array with its true place in LPS patient space.

    Parameters
    ----------
    array : ndarray
        Voxels, C-ordered, shape ``(k, j, i)``, ``(t, k, j, i)`` or ``(k, j, i, c)``
        as ``layout`` says. A non-contiguous array is made contiguous (copied).
    spacing : array-like, shape (3,)
        Voxel size along i, j, k in millimetres (positive).
    origin : array-like, shape (3,)
        LPS position of the centre of voxel (0, 0, 0), in millimetres.
    direction : array-like, shape (3, 3)
        Columns are the LPS unit vectors of the i, j and k axes. A determinant of -1
        (a mirrored storage order, e.g. NIfTI stored LAS) is kept as it is.
    layout : {"kji", "tkji", "kjic"}
        Axis order of ``array``; defaults to "kji" for 3-D arrays.
    metadata : mapping
        Read-only header facts (format, modality, rescale, ...).
    source : str or None
        The file or folder the volume came from.
    warnings : tuple of str
        Things the reader noticed that the user should know (never silent).

    Examples
    --------
    >>> import numpy as np
    >>> vol = Volume(np.zeros((2, 3, 4), np.int16), spacing=(0.5, 0.5, 2.0))
    >>> vol.shape_ijk
    (4, 3, 2)
    >>> vol.axis_codes
    'LPS'
    """

    array: NDArray[Any]
    spacing: NDArray[np.float64] = field(default_factory=lambda: np.ones(3))
    origin: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    direction: NDArray[np.float64] = field(default_factory=lambda: np.eye(3))
    layout: Layout = "kji"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        expected_ndim = 3 if self.layout == "kji" else 4
        if self.layout not in ("kji", "tkji", "kjic"):
            raise ValueError(f"layout must be 'kji', 'tkji' or 'kjic', not {self.layout!r}")
        if array.ndim != expected_ndim:
            raise ValueError(
                f"layout {self.layout!r} needs a {expected_ndim}-D array, got shape {array.shape}"
            )
        spacing = np.array(self.spacing, dtype=float).reshape(3)
        origin = np.array(self.origin, dtype=float).reshape(3)
        direction = np.array(self.direction, dtype=float).reshape(3, 3)
        if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
            raise ValueError(f"spacing must be finite and positive, got {spacing.tolist()}")
        if not np.all(np.isfinite(origin)) or not np.all(np.isfinite(direction)):
            raise ValueError("origin and direction must be finite")
        if abs(np.linalg.det(direction)) < 1e-6:
            raise ValueError(f"direction is singular: {direction.tolist()}")
        for values in (spacing, origin, direction):
            values.flags.writeable = False
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "metadata", _frozen_mapping(self.metadata))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    # ------------------------------------------------------------------ shape
    @property
    def shape_ijk(self) -> tuple[int, int, int]:
        """Spatial size as (ni, nj, nk), fastest axis first (VTK's dimensions)."""
        kji = self.array.shape[1:] if self.layout == "tkji" else self.array.shape[:3]
        return (int(kji[2]), int(kji[1]), int(kji[0]))

    @property
    def n_frames(self) -> int:
        """Number of frames (1 unless the layout is "tkji")."""
        return int(self.array.shape[0]) if self.layout == "tkji" else 1

    @property
    def n_components(self) -> int:
        """Values per voxel (1 unless the layout is "kjic")."""
        return int(self.array.shape[3]) if self.layout == "kjic" else 1

    @property
    def dtype(self) -> np.dtype[Any]:
        """The voxel data type."""
        return self.array.dtype

    @property
    def nbytes(self) -> int:
        """Memory held by the voxels, in bytes."""
        return int(self.array.nbytes)

    # --------------------------------------------------------------- geometry
    @property
    def index_to_world(self) -> NDArray[np.float64]:
        """4x4 matrix mapping (i, j, k, 1) to LPS millimetres."""
        return geometry.affine_from_geometry(self.spacing, self.origin, self.direction)

    @property
    def world_to_index(self) -> NDArray[np.float64]:
        """Inverse of :attr:`index_to_world`."""
        return np.asarray(np.linalg.inv(self.index_to_world), dtype=np.float64)

    @property
    def axis_codes(self) -> str:
        """Anatomical direction each storage axis (i, j, k) points to, e.g. "LPS" or "LAS"."""
        return geometry.axis_codes(self.direction)

    @property
    def is_flipped(self) -> bool:
        """True when the direction has determinant -1 (mirrored storage order)."""
        return not geometry.is_right_handed(self.direction)

    def index_to_world_points(self, ijk: ArrayLike) -> NDArray[np.float64]:
        """Map index points of shape (..., 3) in (i, j, k) order to LPS mm."""
        pts = np.asarray(ijk, float)
        return pts @ (self.direction * self.spacing).T + self.origin

    def world_to_index_points(self, xyz: ArrayLike) -> NDArray[np.float64]:
        """Map LPS points of shape (..., 3) to continuous (i, j, k) indices."""
        pts = np.asarray(xyz, float) - self.origin
        return pts @ np.linalg.inv(self.direction * self.spacing).T

    @property
    def world_bounds(self) -> NDArray[np.float64]:
        """Axis-aligned LPS bounding box of the voxel centres, shape (3, 2)."""
        ni, nj, nk = self.shape_ijk
        corners = np.array(
            [[i, j, k] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)], float
        )
        pts = self.index_to_world_points(corners)
        return np.stack([pts.min(axis=0), pts.max(axis=0)], axis=1)

    # --------------------------------------------------------------- frames
    def frame(self, index: int) -> Volume:
        """One frame of a "tkji" volume, or one component of a "kjic" one, as a 3-D volume.

        The result shares memory with this volume for frames (a contiguous view);
        a component is copied because it is strided in memory.
        """
        if self.layout == "kji":
            if index not in (0, -1):
                raise IndexError(f"a 3-D volume has one frame, asked for {index}")
            return self
        count = self.n_frames if self.layout == "tkji" else self.n_components
        if not -count <= index < count:
            raise IndexError(f"frame {index} out of range for {count} frames")
        data = self.array[index] if self.layout == "tkji" else self.array[..., index]
        return self.replace(array=np.ascontiguousarray(data), layout="kji")

    def replace(self, **changes: Any) -> Volume:
        """A copy of this volume with some fields changed (dataclasses.replace)."""
        import dataclasses

        return dataclasses.replace(self, **changes)

    def with_geometry_of(self, other: Volume) -> Volume:
        """This volume's voxels with ``other``'s spacing, origin and direction."""
        return self.replace(spacing=other.spacing, origin=other.origin, direction=other.direction)

    @classmethod
    def from_affine(
        cls,
        array: ArrayLike,
        affine: ArrayLike,
        *,
        world: Literal["LPS", "RAS"] = "LPS",
        **kwargs: Any,
    ) -> Volume:
        """Build a volume from an index (i, j, k) -> world 4x4.

        Parameters
        ----------
        array : array-like
            Voxels indexed ``[k, j, i]`` (see ``layout``).
        affine : array-like, shape (4, 4)
            Index -> world matrix.
        world : {"LPS", "RAS"}
            World of ``affine``; RAS affines (nibabel, Slicer) are converted to LPS.
        """
        matrix = np.asarray(affine, float)
        if world == "RAS":
            matrix = geometry.ras_to_lps_affine(matrix)
        elif world != "LPS":
            raise ValueError(f"world must be 'LPS' or 'RAS', not {world!r}")
        spacing, origin, direction = geometry.geometry_from_affine(matrix)
        return cls(np.asarray(array), spacing=spacing, origin=origin, direction=direction, **kwargs)

    # ------------------------------------------------------------ interop
    def to_vtk(self, *, frame: int = 0) -> vtkmodules.vtkCommonDataModel.vtkImageData:
        """A ``vtkImageData`` sharing this volume's memory (see :mod:`medvis.vtk_bridge`)."""
        from medvis.vtk_bridge import volume_to_vtk

        return volume_to_vtk(self, frame=frame)

    @classmethod
    def from_vtk(cls, image: vtkmodules.vtkCommonDataModel.vtkImageData) -> Volume:
        """Wrap a ``vtkImageData`` (origin, spacing, direction kept)."""
        from medvis.vtk_bridge import vtk_to_volume

        return vtk_to_volume(image)

    def to_sitk(self) -> SimpleITK.Image:
        """A SimpleITK image with the same voxels and LPS geometry (copied)."""
        from medvis.interop import volume_to_sitk

        return volume_to_sitk(self)

    @classmethod
    def from_sitk(cls, image: SimpleITK.Image) -> Volume:
        """Build a volume from a SimpleITK image (copied)."""
        from medvis.interop import sitk_to_volume

        return sitk_to_volume(image)

    def to_nibabel(self) -> nibabel.Nifti1Image:
        """A nibabel NIfTI-1 image with the RAS affine (voxels shared where possible)."""
        from medvis.interop import volume_to_nibabel

        return volume_to_nibabel(self)

    @classmethod
    def from_nibabel(cls, image: Any) -> Volume:
        """Build a volume from any nibabel spatial image (RAS affine converted to LPS)."""
        from medvis.interop import nibabel_to_volume

        return nibabel_to_volume(image)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        if dtype is None:
            return self.array
        return self.array.astype(dtype)

    def __repr__(self) -> str:
        spacing = ", ".join(f"{v:g}" for v in self.spacing)
        origin = ", ".join(f"{v:.4g}" for v in self.origin)
        return (
            f"Volume(shape_ijk={self.shape_ijk}, layout={self.layout!r}, dtype={self.dtype}, "
            f"spacing=({spacing}), origin=({origin}), axis_codes={self.axis_codes!r}, "
            f"source={self.source!r})"
        )


def path_str(path: str | os.PathLike[str]) -> str:
    """Normalise a path-like into the string stored in :attr:`Volume.source`."""
    return str(Path(path))
