"""Writing meshes: STL, OBJ, PLY or VTP by extension, in LPS or RAS, atomically (no OpenGL)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from vtkmodules.vtkCommonCore import vtkCommand
from vtkmodules.vtkCommonDataModel import vtkPolyData

from medvis.errors import UnsupportedFormatError, WriteError
from medvis.lung.meshes import to_ras
from medvis.lung.surfaces import Surface

__all__ = ["MESH_FORMATS", "write_surface", "write_surfaces"]

#: File extensions :func:`write_surface` can write.
MESH_FORMATS: tuple[str, ...] = (".stl", ".obj", ".ply", ".vtp")
World = Literal["LPS", "RAS"]


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
