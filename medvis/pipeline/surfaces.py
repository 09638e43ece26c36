"""Isosurfaces and mesh files as ``vtkPolyData`` in LPS world millimetres (no OpenGL)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPolyData
from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkPolyDataNormals

from medvis.errors import MissingFileError, UnsupportedFormatError
from medvis.volume import Volume

__all__ = ["isosurface", "read_mesh", "transform_points"]


def transform_points(polydata: vtkPolyData, matrix: np.ndarray) -> vtkPolyData:
    """Apply a 4x4 to every point in place (numpy, no VTK transform filter) and return it."""
    points = numpy_support.vtk_to_numpy(polydata.GetPoints().GetData()).astype(float)
    moved = points @ matrix[:3, :3].T + matrix[:3, 3]
    new_points = vtkPoints()
    new_points.SetData(numpy_support.numpy_to_vtk(np.ascontiguousarray(moved), deep=True))
    polydata.SetPoints(new_points)
    return polydata


def _with_normals(polydata: vtkPolyData) -> vtkPolyData:
    normals = vtkPolyDataNormals()
    normals.SetInputData(polydata)
    normals.ConsistencyOn()
    normals.SplittingOff()
    normals.Update()
    result: vtkPolyData = normals.GetOutput()
    return result


def isosurface(volume: Volume, level: float, *, frame: int = 0) -> vtkPolyData:
    """The surface where the volume crosses ``level``, in LPS mm, with normals.

    Contoured in index space (origin 0, spacing 1, no direction) with
    ``vtkFlyingEdges3D`` and moved to the world with the volume's index->world matrix in
    numpy, so any direction (flipped, oblique) is exact.
    """
    source = volume.frame(frame) if volume.layout == "tkji" else volume
    array = np.ascontiguousarray(source.array)
    image = vtkImageData()
    image.SetDimensions(*source.shape_ijk)
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(array.reshape(-1), deep=False))
    contour = vtkFlyingEdges3D()
    contour.SetInputData(image)
    contour.SetValue(0, float(level))
    contour.ComputeNormalsOff()
    contour.ComputeGradientsOff()
    contour.Update()
    surface = vtkPolyData()
    surface.DeepCopy(contour.GetOutput())
    if surface.GetNumberOfPoints() == 0:
        return surface
    return _with_normals(transform_points(surface, source.index_to_world))


def read_mesh(path: str | os.PathLike[str], *, space: Literal["LPS", "RAS"] = "LPS") -> vtkPolyData:
    """Read .vtp, .vtk (legacy polydata), .stl, .ply or .obj into LPS coordinates.

    Parameters
    ----------
    path : path-like
        The mesh file.
    space : {"LPS", "RAS"}
        The world the file's coordinates are in (3D Slicer exports RAS unless told
        otherwise); RAS points are converted to LPS.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(path, "mesh file not found")
    suffix = path.suffix.lower()
    if suffix == ".vtp":
        from vtkmodules.vtkIOXML import vtkXMLPolyDataReader as Reader
    elif suffix == ".vtk":
        from vtkmodules.vtkIOLegacy import vtkPolyDataReader as Reader  # type: ignore[assignment]
    elif suffix == ".stl":
        from vtkmodules.vtkIOGeometry import vtkSTLReader as Reader  # type: ignore[assignment]
    elif suffix == ".ply":
        from vtkmodules.vtkIOPLY import vtkPLYReader as Reader  # type: ignore[assignment]
    elif suffix == ".obj":
        from vtkmodules.vtkIOGeometry import vtkOBJReader as Reader  # type: ignore[assignment]
    else:
        raise UnsupportedFormatError(path, "mesh formats: .vtp .vtk .stl .ply .obj")
    reader = Reader()
    reader.SetFileName(str(path))
    reader.Update()
    mesh = vtkPolyData()
    mesh.DeepCopy(reader.GetOutput())
    if mesh.GetNumberOfPoints() == 0:
        raise UnsupportedFormatError(path, "no points read from the mesh file")
    if space.upper() == "RAS":
        transform_points(mesh, np.diag([-1.0, -1.0, 1.0, 1.0]))
    elif space.upper() != "LPS":
        raise ValueError(f"space must be 'LPS' or 'RAS', not {space!r}")
    return _with_normals(mesh) if mesh.GetPointData().GetNormals() is None else mesh
