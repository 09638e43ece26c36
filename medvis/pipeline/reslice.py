"""Orthogonal and oblique slices of a volume as numpy arrays with their 2-D geometry.

No OpenGL here: sampling is done by ``vtkImageReslice`` (vtkImagingCore).

Design: the voxels are wrapped as a ``vtkImageData`` in pure *index* space (origin 0,
spacing 1, identity direction), and the whole geometry - spacing, direction (including
a determinant -1 flip or an oblique rotation), origin and the plane itself - goes into
one reslice matrix ``world_to_index @ plane_to_world`` computed here in numpy. So VTK's
own handling of directions (``vtkImageReslice`` copying the input direction to its
output, readers dropping it) cannot put a slice in the wrong place, and the same world
object gives the same slice whatever its storage order.

Display convention (radiological), with ``pixels[0, 0]`` the top-left pixel:

========  =====================  =====================  =========================
plane     image right (+column)  image down (+row)      viewer looks along
========  =====================  =====================  =========================
axial     patient Left  (+x)     Posterior (+y)         +z (from the feet)
coronal   patient Left  (+x)     Inferior  (-z)         +y (from the front)
sagittal  Posterior     (+y)     Inferior  (-z)         -x (from the patient's left)
========  =====================  =====================  =========================

so axial and coronal images show the patient's left on the image right, anterior is up
on axial, superior up on coronal and sagittal. An oblique plane (a point and a normal)
takes the axes of the nearest of these planes, projected onto it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingCore import vtkImageReslice

from medvis.volume import Volume

__all__ = [
    "PLANES",
    "Interpolation",
    "Slice",
    "anatomical_label",
    "orthogonal_slices",
    "reslice",
]

Interpolation = Literal["nearest", "linear", "cubic"]

#: (image-right, image-down) unit vectors in LPS for each named plane.
PLANES: Mapping[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}

_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))


def anatomical_label(vector: ArrayLike, *, secondary: float = 0.38) -> str:
    """The patient direction a world (LPS) vector points to: "L", "A", "SR"...

    The dominant axis comes first; another axis is added when its share of the unit
    vector exceeds ``secondary`` (about 22 degrees).
    """
    v = np.asarray(vector, float)
    v = v / np.linalg.norm(v)
    order = np.argsort(-np.abs(v), kind="stable")
    letters = [_LETTERS[order[0]][int(v[order[0]] > 0)]]
    for axis in order[1:]:
        if abs(v[axis]) > secondary:
            letters.append(_LETTERS[axis][int(v[axis] > 0)])
    return "".join(letters)


@dataclass(frozen=True)
class Slice:
    """A 2-D slice and where every pixel is in the world.

    Attributes
    ----------
    pixels : ndarray, shape (rows, columns) or (rows, columns, components)
        Sampled values in the volume's dtype; ``pixels[0, 0]`` is the top-left pixel.
    origin : ndarray, shape (3,)
        LPS position (mm) of the centre of pixel ``[0, 0]``.
    column_direction : ndarray, shape (3,)
        Unit LPS vector pointing to the image right (increasing column).
    row_direction : ndarray, shape (3,)
        Unit LPS vector pointing down the image (increasing row).
    spacing : tuple of float
        (row spacing, column spacing) in mm: a pixel's true height and width.
    plane : str
        "axial", "coronal", "sagittal" or "oblique".
    point : ndarray, shape (3,)
        The world point the plane was asked to pass through.
    interpolation : str
        How the values were sampled.
    labels : mapping
        Patient directions at the image edges: keys "left", "right", "top", "bottom".
    """

    pixels: NDArray[Any]
    origin: NDArray[np.float64]
    column_direction: NDArray[np.float64]
    row_direction: NDArray[np.float64]
    spacing: tuple[float, float]
    plane: str
    point: NDArray[np.float64]
    interpolation: str
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def normal(self) -> NDArray[np.float64]:
        """Unit normal ``column_direction x row_direction``: the direction the viewer looks."""
        return np.cross(self.column_direction, self.row_direction)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])

    @property
    def size_mm(self) -> tuple[float, float]:
        """Physical (height, width) covered by the pixel centres' grid plus one pixel."""
        rows, cols = self.shape
        return rows * self.spacing[0], cols * self.spacing[1]

    @property
    def pixel_to_world(self) -> NDArray[np.float64]:
        """4x4 mapping (column, row, 0, 1) to LPS mm."""
        matrix = np.eye(4)
        matrix[:3, 0] = self.column_direction * self.spacing[1]
        matrix[:3, 1] = self.row_direction * self.spacing[0]
        matrix[:3, 2] = self.normal
        matrix[:3, 3] = self.origin
        return matrix

    def world_to_pixel(self, point: ArrayLike) -> tuple[float, float]:
        """Continuous (row, column) of the projection of an LPS point onto the plane."""
        offset = np.asarray(point, float) - self.origin
        return (
            float(offset @ self.row_direction / self.spacing[0]),
            float(offset @ self.column_direction / self.spacing[1]),
        )

    def distance_to_plane(self, point: ArrayLike) -> float:
        """Signed distance (mm) of an LPS point from the plane, along :attr:`normal`."""
        return float((np.asarray(point, float) - self.origin) @ self.normal)


def _index_image(volume: Volume, frame: int) -> vtkImageData:
    # The voxels in index space: origin 0, spacing 1, identity direction (see module doc).
    source = volume.frame(frame) if volume.layout == "tkji" else volume
    array = source.array
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    components = source.n_components
    flat = array.reshape(-1, components) if components > 1 else array.reshape(-1)
    scalars = numpy_support.numpy_to_vtk(flat, deep=False)
    image = vtkImageData()
    image.SetDimensions(*source.shape_ijk)
    image.GetPointData().SetScalars(scalars)
    image._medvis_numpy_owner = array  # type: ignore[attr-defined]
    return image


def _matrix(values: NDArray[np.float64]) -> vtkMatrix4x4:
    matrix = vtkMatrix4x4()
    matrix.DeepCopy(values.ravel().tolist())
    return matrix


def _native_step(volume: Volume, direction: NDArray[np.float64]) -> float:
    # Length (mm) of one voxel step along a world direction.
    per_mm = np.linalg.solve(volume.direction * volume.spacing, direction)
    return float(1.0 / np.max(np.abs(per_mm)))


def _plane_axes(
    plane: str, normal: ArrayLike | None
) -> tuple[str, NDArray[np.float64], NDArray[np.float64]]:
    if normal is None:
        key = plane.lower()
        if key not in PLANES:
            raise ValueError(f"unknown plane {plane!r}; use axial, coronal, sagittal or a normal")
        named_right, named_down = (np.array(v, float) for v in PLANES[key])
        return key, named_right, named_down
    n = np.asarray(normal, float).reshape(3)
    length = np.linalg.norm(n)
    if not np.isfinite(length) or length == 0:
        raise ValueError(f"normal must be a non-zero vector, got {n.tolist()}")
    n = n / length
    # The named plane whose viewing direction is closest gives the in-plane axes; the
    # normal is turned to look the same way so the image is never mirrored.
    best, best_dot = "axial", -1.0
    for name, (plane_right, plane_down) in PLANES.items():
        dot = abs(float(np.cross(plane_right, plane_down) @ n))
        if dot > best_dot + 1e-9:
            best, best_dot = name, dot
    right, down = (np.array(v) for v in PLANES[best])
    if np.cross(right, down) @ n < 0:
        n = -n
    down = down - (down @ n) * n
    down /= np.linalg.norm(down)
    right = np.cross(down, n)
    aligned = best_dot > 1 - 1e-9
    return (best if aligned else "oblique"), right, down


def reslice(
    volume: Volume,
    plane: str = "axial",
    *,
    point: ArrayLike | None = None,
    normal: ArrayLike | None = None,
    spacing: float | Sequence[float] | Literal["native"] | None = None,
    interpolation: Interpolation = "linear",
    fill: float | None = None,
    frame: int = 0,
) -> Slice:
    """Sample a plane of ``volume`` in physical space.

    Parameters
    ----------
    volume : Volume
        Any geometry (flipped, permuted, oblique); a "tkji" volume uses ``frame``.
    plane : {"axial", "coronal", "sagittal"}
        Named orthogonal plane (ignored when ``normal`` is given).
    point : array-like, shape (3,), optional
        LPS point the plane passes through; the centre of the volume by default.
    normal : array-like, shape (3,), optional
        Normal of an oblique plane (LPS). Its sign does not matter.
    spacing : float, (row, column), "native" or None
        Pixel size in mm. None (default): square pixels as fine as the finest voxel
        step within the plane, so the array itself has the true aspect ratio.
        "native": the voxel step along each image axis (pixels may be rectangular;
        :attr:`Slice.spacing` says so) - with nearest interpolation on an axis-aligned
        volume every pixel is then exactly one voxel.
    interpolation : {"nearest", "linear", "cubic"}
        Sampling.
    fill : float, optional
        Value outside the volume; the volume's minimum by default.
    frame : int
        Frame of a 4-D "tkji" volume.

    Returns
    -------
    Slice
        Pixels covering the volume's extent projected onto the plane.

    Examples
    --------
    >>> from medvis.phantoms import chest_phantom
    >>> s = reslice(chest_phantom(), "coronal", interpolation="nearest")
    >>> s.labels["left"], s.labels["right"], s.labels["top"]
    ('R', 'L', 'S')
    """
    name, right, down = _plane_axes(plane, normal)
    modes = {"nearest": 0, "linear": 1, "cubic": 2}
    if interpolation not in modes:
        raise ValueError(f"interpolation must be one of {list(modes)}, not {interpolation!r}")
    bounds_index = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float) * (
        np.array(volume.shape_ijk) - 1
    )
    corners = volume.index_to_world_points(bounds_index)
    centre = corners.mean(axis=0)
    where = centre if point is None else np.asarray(point, float).reshape(3)

    if spacing is None:
        step = min(_native_step(volume, right), _native_step(volume, down))
        row_step, col_step = step, step
    elif isinstance(spacing, str):
        if spacing != "native":
            raise ValueError(
                f"spacing must be a number, (row, column), 'native' or None, not {spacing!r}"
            )
        row_step, col_step = _native_step(volume, down), _native_step(volume, right)
    elif np.ndim(spacing) == 0:
        row_step = col_step = float(spacing)  # type: ignore[arg-type]
    else:
        row_step, col_step = (float(v) for v in spacing)  # type: ignore[union-attr]
    if row_step <= 0 or col_step <= 0:
        raise ValueError(f"pixel spacing must be positive, got {(row_step, col_step)}")

    rel = corners - where
    cols_mm, rows_mm = rel @ right, rel @ down
    eps = 1e-6
    n_cols = int(np.floor((cols_mm.max() - cols_mm.min()) / col_step + eps)) + 1
    n_rows = int(np.floor((rows_mm.max() - rows_mm.min()) / row_step + eps)) + 1
    origin = where + cols_mm.min() * right + rows_mm.min() * down

    n = np.cross(right, down)
    pixel_to_world = np.eye(4)
    pixel_to_world[:3, 0] = right * col_step
    pixel_to_world[:3, 1] = down * row_step
    pixel_to_world[:3, 2] = n
    pixel_to_world[:3, 3] = origin

    image = _index_image(volume, frame)
    if fill is None:
        fill = float(np.min(volume.array)) if volume.array.size else 0.0
    resampler = vtkImageReslice()
    resampler.SetInputData(image)
    resampler.SetResliceAxes(_matrix(volume.world_to_index @ pixel_to_world))
    # vtkImageReslice would copy an input direction to the output (VTK_NOTES); the
    # input is in index space, and the output grid is plain pixels.
    resampler.SetOutputDirection(1, 0, 0, 0, 1, 0, 0, 0, 1)
    resampler.SetOutputOrigin(0.0, 0.0, 0.0)
    resampler.SetOutputSpacing(1.0, 1.0, 1.0)
    resampler.SetOutputExtent(0, n_cols - 1, 0, n_rows - 1, 0, 0)
    resampler.SetInterpolationMode(modes[interpolation])
    resampler.SetBackgroundLevel(fill)
    resampler.Update()
    out = resampler.GetOutput()
    values = numpy_support.vtk_to_numpy(out.GetPointData().GetScalars())
    components = volume.n_components
    shape = (n_rows, n_cols, components) if components > 1 else (n_rows, n_cols)
    pixels = np.array(values.reshape(shape), copy=True)

    labels = {
        "left": anatomical_label(-right),
        "right": anatomical_label(right),
        "top": anatomical_label(-down),
        "bottom": anatomical_label(down),
    }
    return Slice(
        pixels=pixels,
        origin=origin,
        column_direction=right,
        row_direction=down,
        spacing=(row_step, col_step),
        plane=name,
        point=where,
        interpolation=interpolation,
        labels=MappingProxyType(labels),
    )


def orthogonal_slices(
    volume: Volume,
    point: ArrayLike | None = None,
    *,
    planes: Sequence[str] = ("axial", "coronal", "sagittal"),
    **options: Any,
) -> dict[str, Slice]:
    """Axial, coronal and sagittal slices through one world point (see :func:`reslice`)."""
    return {plane: reslice(volume, plane, point=point, **options) for plane in planes}
