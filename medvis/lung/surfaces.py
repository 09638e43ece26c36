"""Watertight surfaces of labels, in LPS world millimetres (VTK, no OpenGL).

Each label is cropped to its bounding box, padded by one empty voxel (so the surface
closes where the label touches the image edge, as pyradiomics pads its mask), viewed in
canonical LPS axis order (so ambiguous cells are cut alike for every storage order), and
contoured with ``vtkDiscreteFlyingEdges3D``, which honours the direction matrix: the
mesh lands in world coordinates whatever the storage order, flips included. Vertices
sit half-way between inside and outside voxel centres, so with no smoothing the mesh
is the marching-cubes surface pyradiomics measures (``MeshVolume``, ``SurfaceArea``).

Optional smoothing is ``vtkWindowedSincPolyDataFilter`` with normalised coordinates
(it moves vertices only: the mesh stays closed, and the volume changes by well under
1 %), and optional decimation is ``vtkDecimatePro`` with topology preserved
(``vtkQuadricDecimation`` takes 20 s and 1.2 GB on two lungs). Labels are meshed in
parallel threads (VTK releases the GIL) and VTK's SMP backend is switched to threads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkCommand, vtkSMPTools
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkFiltersCore import (
    vtkDecimatePro,
    vtkMassProperties,
    vtkWindowedSincPolyDataFilter,
)
from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D

from medvis.canonical import canonical_reorientation
from medvis.errors import UnsupportedFormatError, WriteError
from medvis.volume import Volume

__all__ = [
    "MESH_FORMATS",
    "Surface",
    "decimate_surface",
    "display_mesh",
    "is_closed",
    "label_surfaces",
    "mesh_properties",
    "smooth_surface",
    "to_ras",
    "use_all_cores",
    "write_surface",
    "write_surfaces",
]

#: File extensions :func:`write_surface` can write.
MESH_FORMATS: tuple[str, ...] = (".stl", ".obj", ".ply", ".vtp")
World = Literal["LPS", "RAS"]


def use_all_cores() -> None:
    """Switch VTK's SMP backend from Sequential (its default) to threads, once."""
    if vtkSMPTools.GetBackend() != "STDThread":
        vtkSMPTools.SetBackend("STDThread")


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
        return _triangles(self.polydata)


# ---------------------------------------------------------------------- mesh pieces
def _triangles(polydata: vtkPolyData) -> NDArray[np.int64]:
    polys = polydata.GetPolys()
    conn = numpy_support.vtk_to_numpy(polys.GetConnectivityArray())
    offsets = numpy_support.vtk_to_numpy(polys.GetOffsetsArray())
    if len(offsets) > 1 and not np.all(np.diff(offsets) == 3):
        raise ValueError("mesh has polygons that are not triangles")
    return conn.reshape(-1, 3).astype(np.int64, copy=False)


def _set_triangles(polydata: vtkPolyData, triangles: NDArray[np.int64]) -> None:
    flat = np.ascontiguousarray(triangles, dtype=np.int64).ravel()
    offsets = np.arange(0, len(flat) + 1, 3, dtype=np.int64)
    cells = vtkCellArray()
    cells.SetData(
        numpy_support.numpy_to_vtkIdTypeArray(offsets, deep=True),
        numpy_support.numpy_to_vtkIdTypeArray(flat, deep=True),
    )
    polydata.SetPolys(cells)


def _signed_volume(polydata: vtkPolyData) -> float:
    """Volume by the divergence theorem; negative when the triangles face inwards."""
    points = numpy_support.vtk_to_numpy(polydata.GetPoints().GetData()).astype(float)
    tri = _triangles(polydata)
    centre = points.mean(axis=0)  # subtract a centre: less cancellation far from the origin
    a, b, c = (points[tri[:, n]] - centre for n in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def mesh_properties(polydata: vtkPolyData) -> tuple[float, float]:
    """Enclosed volume (mm^3) and surface area (mm^2) of a closed triangle mesh.

    ``vtkMassProperties`` (volume from the divergence theorem; meaningful only for a
    closed mesh, see :func:`is_closed`).
    """
    if polydata.GetNumberOfPolys() == 0:
        return 0.0, 0.0
    props = vtkMassProperties()
    props.SetInputData(polydata)
    props.Update()
    return float(props.GetVolume()), float(props.GetSurfaceArea())


def is_closed(polydata: vtkPolyData) -> bool:
    """True when every edge is shared by exactly two triangles (watertight and manifold).

    Counted with numpy on the triangle list (twice as fast as ``vtkFeatureEdges``).
    """
    if polydata.GetNumberOfPolys() == 0:
        return False
    tri = _triangles(polydata)
    n = np.int64(polydata.GetNumberOfPoints())
    edges = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    edges.sort(axis=1)
    keys = np.sort(edges[:, 0] * n + edges[:, 1])
    if len(keys) % 2:
        return False
    return bool(np.all(keys[0::2] == keys[1::2]) and np.all(keys[1:-1:2] != keys[2::2]))


def smooth_surface(
    polydata: vtkPolyData, *, iterations: int = 15, pass_band: float = 0.1
) -> vtkPolyData:
    """Windowed-sinc smoothing: vertices move, connectivity stays (closed stays closed).

    Parameters
    ----------
    polydata : vtkPolyData
        Triangle mesh.
    iterations : int
        Filter order (10-20 is usual); 0 returns the input.
    pass_band : float
        0 < pass_band < 2; smaller smooths more (0.1 removes the voxel staircase).
    """
    if iterations <= 0:
        return polydata
    smoother = vtkWindowedSincPolyDataFilter()
    smoother.SetInputData(polydata)
    smoother.SetNumberOfIterations(int(iterations))
    smoother.SetPassBand(float(pass_band))
    smoother.NormalizeCoordinatesOn()  # the pass band then does not depend on the mesh size
    smoother.BoundarySmoothingOff()
    smoother.FeatureEdgeSmoothingOff()
    smoother.NonManifoldSmoothingOn()
    smoother.Update()
    out = vtkPolyData()
    out.ShallowCopy(smoother.GetOutput())
    return out


def decimate_surface(polydata: vtkPolyData, *, reduction: float) -> vtkPolyData:
    """Remove about ``reduction`` of the triangles with ``vtkDecimatePro``, keeping topology.

    Slow on large meshes (about 5 s for 800 k triangles on one core); the caller checks
    the result is still closed.
    """
    if reduction <= 0:
        return polydata
    if not 0 < reduction < 1:
        raise ValueError(f"reduction must be in [0, 1), got {reduction}")
    decimator = vtkDecimatePro()
    decimator.SetInputData(polydata)
    decimator.SetTargetReduction(float(reduction))
    decimator.PreserveTopologyOn()
    decimator.SplittingOff()
    decimator.BoundaryVertexDeletionOff()
    decimator.Update()
    out = vtkPolyData()
    out.ShallowCopy(decimator.GetOutput())
    return out


def display_mesh(polydata: vtkPolyData, *, max_triangles: int = 150_000) -> vtkPolyData:
    """A lighter copy of a mesh for pictures, with point normals (not for measuring).

    Above ``max_triangles`` the mesh is clustered with ``vtkBinnedDecimation`` (fast,
    threaded, but it may pinch the surface: fine for drawing, never written to files).
    """
    from vtkmodules.vtkFiltersCore import vtkBinnedDecimation, vtkPolyDataNormals

    mesh = polydata
    count = polydata.GetNumberOfPolys()
    if count > max_triangles:
        bounds = np.asarray(polydata.GetBounds(), float).reshape(3, 2)
        size = np.maximum(bounds[:, 1] - bounds[:, 0], 1e-6)
        # Triangles scale with the surface: about 2 per bin crossed by it.
        _, area = mesh_properties(polydata)
        bin_mm = float(np.sqrt(2.0 * max(area, 1e-6) / max_triangles))
        divisions = np.clip(np.ceil(size / bin_mm), 2, 2048).astype(int)
        decimator = vtkBinnedDecimation()
        decimator.SetInputData(polydata)
        decimator.AutoAdjustNumberOfDivisionsOff()
        decimator.SetNumberOfDivisions(*(int(d) for d in divisions))
        decimator.SetPointGenerationModeToBinAverages()
        decimator.Update()
        mesh = decimator.GetOutput()
    normals = vtkPolyDataNormals()
    normals.SetInputData(mesh)
    normals.SplittingOff()
    normals.ConsistencyOff()
    normals.AutoOrientNormalsOff()
    normals.Update()
    out = vtkPolyData()
    out.ShallowCopy(normals.GetOutput())
    return out


def to_ras(polydata: vtkPolyData) -> vtkPolyData:
    """A copy of an LPS mesh in RAS (x and y negated; a rotation, so normals stay outward)."""
    out = vtkPolyData()
    out.DeepCopy(polydata)
    points = numpy_support.vtk_to_numpy(out.GetPoints().GetData())
    points[:, :2] *= -1.0
    out.GetPoints().Modified()
    return out


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
    contour.Update()
    mesh = vtkPolyData()
    mesh.ShallowCopy(contour.GetOutput())
    mesh.GetPointData().Initialize()
    mesh.GetCellData().Initialize()
    if mesh.GetNumberOfPolys() and np.linalg.det(canonical.direction) < 0:
        # A mirrored direction (determinant -1) turns the triangles inside out.
        _set_triangles(mesh, _triangles(mesh)[:, ::-1])
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


def _present_labels(array: NDArray[Any]) -> list[int]:
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
        wanted = _present_labels(array)
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


# ------------------------------------------------------------------------ writing
def _catch_errors(algorithm: Any) -> list[str]:
    """Collect the VTK error events of ``algorithm`` (VTK only prints them otherwise)."""
    messages: list[str] = []

    def on_error(_obj: Any, _event: str, data: Any = None) -> None:
        messages.append(str(data) if data is not None else "VTK error")

    on_error.CallDataType = "string0"  # type: ignore[attr-defined]
    algorithm.AddObserver(vtkCommand.ErrorEvent, on_error)
    return messages


def _writer_for(suffix: str, header: str) -> Any:
    writer: Any
    if suffix == ".stl":
        from vtkmodules.vtkIOGeometry import vtkSTLWriter

        writer = vtkSTLWriter()
        writer.SetFileTypeToBinary()
        writer.SetHeader(header[:79])
    elif suffix == ".obj":
        from vtkmodules.vtkIOGeometry import vtkOBJWriter

        writer = vtkOBJWriter()
    elif suffix == ".ply":
        from vtkmodules.vtkIOPLY import vtkPLYWriter

        writer = vtkPLYWriter()
        writer.SetFileTypeToBinary()
        writer.AddComment(header)
    elif suffix == ".vtp":
        from vtkmodules.vtkIOXML import vtkXMLPolyDataWriter

        writer = vtkXMLPolyDataWriter()
        writer.SetDataModeToAppended()
        writer.EncodeAppendedDataOff()
        writer.SetCompressorTypeToLZ4()
    else:
        raise UnsupportedFormatError(
            None, f"no mesh writer for {suffix!r}; use one of {', '.join(MESH_FORMATS)}"
        )
    return writer


def write_surface(
    polydata: vtkPolyData | Surface,
    path: str | os.PathLike[str],
    *,
    world: World = "LPS",
    force: bool = False,
) -> Path:
    """Write a mesh as STL, OBJ, PLY or VTP (by extension), atomically.

    Parameters
    ----------
    polydata : vtkPolyData or Surface
        Mesh in LPS mm.
    path : path-like
        Output file; ``.stl`` (binary), ``.obj``, ``.ply`` (binary) or ``.vtp``.
    world : {"LPS", "RAS"}
        Coordinates written. RAS (x, y negated) is what 3D Slicer, most mesh tools and
        NIfTI-based pipelines expect.
    force : bool
        Overwrite an existing file.

    Returns
    -------
    Path
        The file written. It appears complete or not at all (temporary file + rename).

    Raises
    ------
    UnsupportedFormatError
        Unknown extension.
    OutputExistsError
        The file exists and ``force`` is False.
    WriteError
        VTK could not write the file.
    """
    from medvis.io._files import atomic_output

    mesh = polydata.polydata if isinstance(polydata, Surface) else polydata
    if world not in ("LPS", "RAS"):
        raise ValueError(f"world must be 'LPS' or 'RAS', not {world!r}")
    dest = Path(path)
    suffix = dest.suffix.lower()
    header = f"medvis surface, {world} millimetres"
    writer = _writer_for(suffix, header)  # refuse an unknown format before writing
    out = to_ras(mesh) if world == "RAS" else mesh
    if suffix == ".vtp":
        from vtkmodules.vtkCommonCore import vtkStringArray

        tagged = vtkPolyData()
        tagged.ShallowCopy(out)
        note = vtkStringArray()
        note.SetName("world")
        note.InsertNextValue(world)
        tagged.GetFieldData().AddArray(note)
        out = tagged
    with atomic_output(dest, force=force) as tmp:
        writer.SetFileName(str(tmp))
        writer.SetInputData(out)
        errors = _catch_errors(writer)
        ok = writer.Write()
        if ok != 1 or errors or not tmp.exists() or tmp.stat().st_size == 0:
            detail = "; ".join(m.strip() for m in errors) or "the VTK writer failed"
            raise WriteError(dest, f"could not write the mesh: {detail}")
    return dest


def write_surfaces(
    surfaces: Sequence[Surface],
    folder: str | os.PathLike[str],
    *,
    formats: Sequence[str] = (".stl",),
    world: World = "LPS",
    force: bool = False,
    workers: int | None = None,
) -> list[Path]:
    """Write every surface in every format as ``folder/<name>.<ext>``, in parallel threads."""
    folder = Path(folder)
    suffixes = [f if f.startswith(".") else f".{f}" for f in (s.lower() for s in formats)]
    for suffix in suffixes:
        _writer_for(suffix, "")
    jobs = [(s, folder / f"{s.name}{suffix}") for s in surfaces for suffix in suffixes]
    threads = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        futures = [pool.submit(write_surface, s, p, world=world, force=force) for s, p in jobs]
        return [f.result() for f in futures]
