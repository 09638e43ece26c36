"""VTK XML image data (``.vti``), whose reader and writer keep the direction matrix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from medvis.errors import CorruptFileError, HeaderError, UnsupportedFormatError
from medvis.io._files import atomic_output, check_allocation
from medvis.io.registry import Reader, Writer
from medvis.volume import Volume

__all__ = ["READER", "WRITER", "read_vti", "write_vti"]

_EXTENT = re.compile(
    rb'WholeExtent="\s*(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s*"'
)


def _can_read(path: Path, head: bytes) -> bool:
    return b"<VTKFile" in head[:1024] and b'type="ImageData"' in head[:1024]


def read_vti(path: Path, **_options: Any) -> Volume:
    """Read a ``.vti`` file (first point-data array as scalars)."""
    from vtkmodules.vtkIOXML import vtkXMLImageDataReader

    from medvis.vtk_bridge import vtk_to_volume

    with open(path, "rb") as fh:
        head = fh.read(4096)
    match = _EXTENT.search(head)
    if match is None:
        raise HeaderError(path, "VTI file has no WholeExtent")
    e = [int(v) for v in match.groups()]
    check_allocation(path, (e[1] - e[0] + 1, e[3] - e[2] + 1, e[5] - e[4] + 1), np.float64)
    reader = vtkXMLImageDataReader()
    errors = _ErrorCatcher(reader)
    reader.SetFileName(str(path))
    reader.Update()
    image = reader.GetOutput()
    if errors.messages or image is None or image.GetPointData().GetScalars() is None:
        if image is not None and image.GetPointData().GetNumberOfArrays() and not errors.messages:
            image.GetPointData().SetScalars(image.GetPointData().GetArray(0))
        else:
            reason = errors.messages[0] if errors.messages else "no point data"
            raise CorruptFileError(path, f"VTK could not read the image ({reason})")
    name = image.GetPointData().GetScalars().GetName()
    volume = vtk_to_volume(image)
    return volume.replace(
        array=volume.array.copy(),
        metadata={"format": "VTK XML ImageData", "datatype": str(volume.dtype), "array_name": name},
        source=str(path),
    )


class _ErrorCatcher:
    """Collects VTK ErrorEvents of one algorithm instead of letting VTK print them."""

    def __init__(self, algorithm: Any) -> None:
        from vtkmodules.vtkCommonCore import vtkCommand

        self.messages: list[str] = []
        algorithm.AddObserver(vtkCommand.ErrorEvent, self._on_error)
        algorithm.GetExecutive().AddObserver(vtkCommand.ErrorEvent, self._on_error)

    def _on_error(self, _obj: Any, _event: str, message: Any = None) -> None:
        self.messages.append(str(message).strip().splitlines()[-1] if message else "VTK error")

    _on_error.CallDataType = 8  # type: ignore[attr-defined]  # VTK_STRING


def write_vti(
    volume: Volume, path: Path, *, force: bool = False, compress: bool = True, **_options: Any
) -> None:
    """Write a volume (one frame for "tkji") as ``.vti`` with its direction."""
    from vtkmodules.vtkIOXML import vtkXMLImageDataWriter

    if volume.layout == "tkji":
        raise UnsupportedFormatError(
            path,
            f"a .vti file holds one frame and this volume has {volume.n_frames}: pick one "
            "(volume.frame(n); CLI: --frame N) or write .nii.gz / .nrrd / .mha, which keep them all",
        )
    image = volume.to_vtk()
    writer = vtkXMLImageDataWriter()
    errors = _ErrorCatcher(writer)
    writer.SetInputData(image)
    if not compress:
        writer.SetCompressorTypeToNone()
    writer.SetDataModeToAppended()
    writer.EncodeAppendedDataOff()
    with atomic_output(path, force=force) as tmp:
        writer.SetFileName(str(tmp))
        ok = writer.Write()
        if not ok or errors.messages:
            reason = errors.messages[0] if errors.messages else "writer failed"
            raise CorruptFileError(path, f"VTK could not write the image ({reason})")


READER = Reader(name="VTK ImageData", extensions=(".vti",), can_read=_can_read, read=read_vti)
WRITER = Writer(name="VTK ImageData", extensions=(".vti",), write=write_vti)
