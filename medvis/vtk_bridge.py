"""numpy <-> ``vtkImageData`` without copies, keeping origin, spacing and direction.

Only VTK's data-model modules are imported here (no OpenGL), so converting works on a
server with no GL. VTK index (i, j, k) is ``array[k, j, i]`` of the C-ordered array.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkSMPTools
from vtkmodules.vtkCommonDataModel import vtkImageData

from medvis.volume import Volume

__all__ = ["use_all_cores", "volume_to_vtk", "vtk_to_volume"]

_SMP_SET = False


def use_all_cores() -> None:
    """Give vtkSMPTools its STDThread backend (every core) once per process.

    VTK's threaded CPU parts (scalar ranges, gradients, contouring, image filters) use
    it; the default "Sequential" of some builds uses one core.
    """
    global _SMP_SET
    if not _SMP_SET:
        if vtkSMPTools.GetBackend() != "STDThread":
            vtkSMPTools.SetBackend("STDThread")
        _SMP_SET = True


# VTK holds a raw pointer to numpy memory: keep the owner alive as long as the image.
_KEEPALIVE_KEY = "_medvis_numpy_owner"


def volume_to_vtk(volume: Volume, *, frame: int = 0, name: str = "scalars") -> vtkImageData:
    """Wrap a volume as ``vtkImageData`` sharing its memory.

    Parameters
    ----------
    volume : Volume
        Any layout; for "tkji" one frame is wrapped (``frame``), "kjic" gives
        multi-component scalars.
    frame : int
        Which frame of a "tkji" volume.
    name : str
        Name of the point-data scalars array.

    Returns
    -------
    vtkImageData
        Origin, spacing and ``SetDirectionMatrix`` set; scalars are a view of the
        volume's array (``np.shares_memory`` holds).
    """
    source = volume.frame(frame) if volume.layout == "tkji" else volume
    array = source.array
    if not array.dtype.isnative:
        raise ValueError("array must be in native byte order to share memory with VTK")
    if array.dtype == np.bool_:
        raise ValueError("boolean arrays cannot be shared with VTK; convert to uint8")
    components = source.n_components
    flat = array.reshape(-1, components) if components > 1 else array.reshape(-1)
    scalars = numpy_support.numpy_to_vtk(flat, deep=False)
    scalars.SetName(name)
    image = vtkImageData()
    ni, nj, nk = source.shape_ijk
    image.SetDimensions(ni, nj, nk)
    image.SetSpacing(*source.spacing)
    image.SetOrigin(*source.origin)
    image.SetDirectionMatrix(*source.direction.ravel().tolist())
    image.GetPointData().SetScalars(scalars)
    # numpy_to_vtk keeps a reference on the vtk array; also tie it to the image.
    setattr(image, _KEEPALIVE_KEY, array)
    return image


def vtk_to_volume(image: vtkImageData, **metadata: Any) -> Volume:
    """Wrap a ``vtkImageData``'s scalars as a volume (a view while the image lives).

    The extent's start index is folded into the origin, so a cropped image keeps its
    world position.
    """
    scalars = image.GetPointData().GetScalars()
    if scalars is None:
        raise ValueError("vtkImageData has no point scalars")
    ni, nj, nk = image.GetDimensions()
    values = numpy_support.vtk_to_numpy(scalars)
    components = scalars.GetNumberOfComponents()
    if components > 1:
        array = values.reshape(nk, nj, ni, components)
        layout = "kjic"
    else:
        array = values.reshape(nk, nj, ni)
        layout = "kji"
    direction = np.array(
        [[image.GetDirectionMatrix().GetElement(r, c) for c in range(3)] for r in range(3)]
    )
    spacing = np.array(image.GetSpacing())
    extent = image.GetExtent()
    start = np.array([extent[0], extent[2], extent[4]], float)
    origin = np.array(image.GetOrigin()) + direction @ (spacing * start)
    return Volume(
        array,
        spacing=spacing,
        origin=origin,
        direction=direction,
        layout=layout,  # type: ignore[arg-type]
        metadata=metadata,
    )
