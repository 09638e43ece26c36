"""Watertight surfaces of labels, in LPS world millimetres (VTK, no OpenGL).

Each label is cropped to its bounding box, padded by one empty voxel (so the surface
closes where the label touches the image edge, as pyradiomics pads its mask), viewed in
canonical LPS axis order (so ambiguous cells are cut alike for every storage order), and
contoured with ``vtkDiscreteFlyingEdges3D``, which honours the direction matrix: the
mesh lands in world coordinates whatever the storage order, flips included. Vertices
sit half-way between inside and outside voxel centres, so with no smoothing the mesh
is the marching-cubes surface pyradiomics measures (``MeshVolume``, ``SurfaceArea``).

Optional smoothing and decimation are :mod:`medvis.lung.meshes`'; files are written by
:mod:`medvis.lung.mesh_files`. Labels are meshed one after another, each filter on
every core (VTK's SMP backend switched to threads).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D

from medvis.canonical import canonical_reorientation
from medvis.lung.meshes import (
    decimate_surface,
    is_closed,
    mesh_properties,
    polydata_output,
    set_triangles,
    smooth_surface,
    triangles_of,
)
from medvis.volume import Volume
from medvis.vtk_bridge import use_all_cores

__all__ = ["Surface", "label_surfaces", "present_labels"]


@dataclass(frozen=True)
class Surface:
    """One label's closed surface and its measurements.

    Attributes
    ----------
    label : int
        Label value in the label map.
    name : str
        Label name ("right_lung", or "label_7" when unnamed).
    polydata : vtkPolyData
        Triangles in LPS mm, consistently oriented with outward normals.
    voxel_count : int
        Voxels of the label.
    voxel_volume_mm3 : float
        ``voxel_count`` times the voxel volume (pyradiomics' ``VoxelVolume``).
    smoothing_iterations : int
        Windowed-sinc iterations applied (0: none).
    decimation : float
        Fraction of triangles removed that was asked for (0: none).
    notes : tuple of str
        Anything worth knowing (volume drift, decimation undone...).

    The measurements :attr:`mesh_volume_mm3`, :attr:`surface_area_mm2` and
    :attr:`closed` are computed on first use (``label_surfaces`` computes them in its
    worker threads unless ``measure=False``).
    """

    label: int
    name: str
    polydata: vtkPolyData
    voxel_count: int
    voxel_volume_mm3: float
    smoothing_iterations: int = 0
    decimation: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @cached_property
    def _mass(self) -> tuple[float, float]:
        return mesh_properties(self.polydata)

    @property
    def mesh_volume_mm3(self) -> float:
        """Volume enclosed by the mesh (``vtkMassProperties``), mm^3."""
        return self._mass[0]

    @property
    def surface_area_mm2(self) -> float:
        """Area of the mesh, mm^2."""
        return self._mass[1]

    @cached_property
    def closed(self) -> bool:
        """True when every edge is shared by exactly two triangles (watertight, manifold)."""
        return is_closed(self.polydata)

    def measure(self) -> Surface:
        """Compute (and keep) the volume, area and closedness now; returns ``self``."""
        _ = self._mass, self.closed
        return self

    @property
    def n_triangles(self) -> int:
        """Number of triangles."""
        return int(self.polydata.GetNumberOfPolys())

    @property
    def n_points(self) -> int:
        """Number of vertices."""
        return int(self.polydata.GetNumberOfPoints())

    @property
    def mesh_volume_ml(self) -> float:
        """Mesh volume in millilitres."""
        return self.mesh_volume_mm3 / 1000.0

    @property
    def voxel_volume_ml(self) -> float:
        """Voxel volume in millilitres."""
        return self.voxel_volume_mm3 / 1000.0

    def points(self) -> NDArray[np.float64]:
        """Vertex coordinates (LPS mm), shape (n, 3); a view of the mesh's points."""
        return numpy_support.vtk_to_numpy(self.polydata.GetPoints().GetData())

    def triangles(self) -> NDArray[np.int64]:
        """Vertex indices of the triangles, shape (n, 3)."""
        return triangles_of(self.polydata)


# ---------------------------------------------------------------------- mesh pieces
def _contour(labels: Volume, value: int, box: tuple[slice, ...]) -> vtkPolyData:
    """Marching-cubes (discrete flying edges) surface of one label, in world mm.

    The padded crop is first viewed in canonical (LPS-growing) axis order, so the cells
    are cut the same way (same diagonals in ambiguous cells) whatever the storage order:
    the same object gives the same triangles, before and after smoothing.
    """
    # The crop compared straight into a zero-padded buffer (no separate mask to pad).
    crop = labels.array[box]
    padded = np.zeros(tuple(n + 2 for n in crop.shape), np.uint8)
    np.equal(crop, value, out=padded[1:-1, 1:-1, 1:-1].view(bool))
    ijk0 = np.array([box[2].start - 1, box[1].start - 1, box[0].start - 1], float)
    volume = Volume(
        padded,
        spacing=labels.spacing,
        origin=labels.index_to_world_points(ijk0),
        direction=labels.direction,
    )
    del crop
    canonical = canonical_reorientation(volume).canonical_volume(volume)
    image = canonical.to_vtk()
    contour = vtkDiscreteFlyingEdges3D()
    contour.SetInputData(image)
    contour.SetValue(0, 1)
    contour.ComputeNormalsOff()
    contour.ComputeGradientsOff()
    contour.ComputeScalarsOff()
    mesh = polydata_output(contour)
    mesh.GetPointData().Initialize()
    mesh.GetCellData().Initialize()
    if mesh.GetNumberOfPolys() and np.linalg.det(canonical.direction) < 0:
        # A mirrored direction (determinant -1) turns the triangles inside out.
        set_triangles(mesh, triangles_of(mesh)[:, ::-1])
    return mesh


def _one_surface(
    labels: Volume,
    value: int,
    name: str,
    box: tuple[slice, ...],
    voxel_count: int,
    smoothing: int,
    pass_band: float,
    decimation: float,
    measure: bool,
) -> Surface:
    notes: list[str] = []
    mesh = _contour(labels, value, box)
    raw_volume = mesh_properties(mesh)[0] if (smoothing > 0 or decimation > 0) else None
    if smoothing > 0:
        mesh = smooth_surface(mesh, iterations=smoothing, pass_band=pass_band)
    if decimation > 0:
        decimated = decimate_surface(mesh, reduction=decimation)
        if is_closed(decimated):
            mesh = decimated
        else:
            # vtkDecimatePro keeps the topology but can pinch two close sheets into an
            # edge shared by four triangles (seen on one lung of the chest CT).
            notes.append("decimation would have pinched the surface; kept it undecimated")
            decimation = 0.0
    final = mesh_properties(mesh) if raw_volume else None
    if raw_volume and final is not None and abs(final[0] / raw_volume - 1.0) > 0.02:
        change = 100 * (final[0] / raw_volume - 1.0)
        notes.append(f"smoothing/decimation changed the volume by {change:+.1f} %")
    surface = Surface(
        label=value,
        name=name,
        polydata=mesh,
        voxel_count=voxel_count,
        voxel_volume_mm3=voxel_count * float(np.prod(labels.spacing)),
        smoothing_iterations=int(smoothing),
        decimation=float(decimation),
        notes=tuple(notes),
    )
    if final is not None:
        surface.__dict__["_mass"] = final  # already measured: fill the cache
    return surface.measure() if measure else surface


def present_labels(array: NDArray[Any]) -> list[int]:
    """The non-zero values of an integer label map, sorted."""
    if array.dtype.itemsize <= 2 and array.dtype.kind in "ui":
        unsigned = np.uint8 if array.dtype.itemsize == 1 else np.uint16
        present = np.flatnonzero(np.bincount(array.ravel().view(unsigned)))
        if array.dtype.kind == "i":  # undo the unsigned view of negative labels
            bits = 8 * array.dtype.itemsize
            present = np.where(present >= 1 << (bits - 1), present - (1 << bits), present)
    else:
        present = np.unique(array)
    return sorted(int(v) for v in present if v != 0)


def label_surfaces(
    labels: Volume,
    *,
    values: Iterable[int] | None = None,
    names: Mapping[int, str] | None = None,
    smoothing: int = 0,
    pass_band: float = 0.1,
    decimation: float = 0.0,
    workers: int | None = None,
    boxes: Mapping[int, tuple[slice, ...]] | None = None,
    measure: bool = True,
) -> list[Surface]:
    """Closed surfaces of the labels of a label map, in LPS world mm.

    Parameters
    ----------
    labels : Volume
        Integer label map, any storage order (the direction matrix is honoured).
    values : iterable of int, optional
        Labels to mesh; by default every non-zero value present.
    names : mapping, optional
        Label value -> name; unnamed labels are called ``label_<value>``.
    smoothing : int
        Windowed-sinc iterations (0: none, the exact marching-cubes surface).
    pass_band : float
        Windowed-sinc pass band (smaller smooths more).
    decimation : float
        Fraction of triangles to remove with ``vtkDecimatePro`` (0: none).
    workers : int, optional
        Threads meshing labels side by side; default 1. VTK's SMP threads already use
        every core inside each label's filters, so more workers gain no time on the chest
        CT (0.44 s either way) but each thread's malloc arena keeps its temporaries:
        +100 MiB of resident memory with 2 workers.
    boxes : mapping, optional
        Label value -> ``array`` slices known to hold all of that label (saves a pass
        over a large label map; :class:`~medvis.lung.LungSegmentation` provides them).
    measure : bool
        Compute each mesh's volume, area and closedness in the worker threads (else on
        first use).

    Returns
    -------
    list of Surface
        In label order; labels with no voxel are skipped.

    Examples
    --------
    >>> import numpy as np
    >>> from medvis import Volume
    >>> cube = np.zeros((6, 6, 6), np.uint8); cube[1:5, 1:5, 1:5] = 3
    >>> [s.voxel_count for s in label_surfaces(Volume(cube))]
    [64]
    """
    if labels.layout != "kji":
        raise ValueError(f"label map must be 3-D, got layout {labels.layout!r}")
    array = labels.array
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"label map must hold integers, got {array.dtype}")
    use_all_cores()
    if values is None and boxes is not None:
        wanted = sorted(int(v) for v in boxes)
    elif values is None:
        wanted = present_labels(array)
    else:
        wanted = sorted({int(v) for v in values})
    names = dict(names or {})
    jobs: list[tuple[int, str, tuple[slice, ...], int]] = []
    positive = all(v > 0 for v in wanted) and array.dtype.kind in "ui"
    found: dict[int, tuple[slice, ...] | None]
    if boxes is not None and all(v in boxes for v in wanted):
        found = {v: boxes[v] for v in wanted}
    elif positive and wanted:
        # One pass finds every label's box (labels 1..max).
        every = ndi.find_objects(array, max_label=max(wanted))
        found = {v: every[v - 1] for v in wanted}
    else:
        found = {}
        for value in wanted:
            hit = ndi.find_objects((array == value).view(np.uint8))
            found[value] = hit[0] if hit else None
    for value in wanted:
        box = found[value]
        if box is None:
            continue
        count = int(np.count_nonzero(array[box] == value))
        if count == 0:
            continue
        jobs.append((value, names.get(value, f"label_{value}"), box, count))
    if not jobs:
        return []
    threads = workers or 1
    if threads <= 1 or len(jobs) == 1:
        return [
            _one_surface(labels, v, n, b, c, smoothing, pass_band, decimation, measure)
            for v, n, b, c in jobs
        ]
    with ThreadPoolExecutor(max_workers=min(threads, len(jobs))) as pool:
        futures = [
            pool.submit(_one_surface, labels, v, n, b, c, smoothing, pass_band, decimation, measure)
            for v, n, b, c in jobs
        ]
        return [f.result() for f in futures]
