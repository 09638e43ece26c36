"""Volume rendering of a :class:`~medvis.volume.Volume`, right for every geometry.

VTK's GPU and smart volume mappers draw nothing for an image whose direction has
determinant -1, and the fixed-point (CPU) ray caster ignores the direction entirely
(``VTK_NOTES.md``). So the image handed to the mapper never carries a direction: it is
the voxels with their spacing at origin 0 and identity direction, and the volume's
direction and origin go into ``vtkVolume.SetUserMatrix([D | O])``. Both mappers honour
the prop's matrix, including a mirrored (det -1) one; ``tests/test_render.py`` renders
one object stored in many axis flips/permutations and an oblique rotation and checks
the pictures agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPiecewiseFunction
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkRenderingCore import (
    vtkColorTransferFunction,
    vtkVolume,
    vtkVolumeProperty,
)
from vtkmodules.vtkRenderingVolume import (
    vtkFixedPointVolumeRayCastMapper,
    vtkGPUVolumeRayCastMapper,
)

from medvis.pipeline.preset_fit import default_preset_for, fit_preset
from medvis.pipeline.presets import VolumePreset
from medvis.pipeline.sampling import ray_step
from medvis.pipeline.table import find_table
from medvis.volume import Volume

__all__ = [
    "MapperKind",
    "apply_preset",
    "default_preset",
    "make_volume_prop",
    "volume_property",
    "world_box_to_crop",
]

MapperKind = Literal["auto", "gpu", "cpu"]

_BLEND = {"composite": 0, "maximum": 1, "minimum": 2, "average": 3}


def default_preset(volume: Volume) -> VolumePreset:
    """A preset that suits the volume's content (:func:`medvis.pipeline.preset_fit.default_preset_for`)."""
    return default_preset_for(volume)


def volume_property(preset: VolumePreset, *, unit_distance: float = 1.0) -> vtkVolumeProperty:
    """Build a ``vtkVolumeProperty`` from a preset (colour, opacity, gradient opacity, shading)."""
    colors = vtkColorTransferFunction()
    for value, r, g, b in preset.color:
        colors.AddRGBPoint(value, r, g, b)
    opacity = vtkPiecewiseFunction()
    for value, alpha in preset.scalar_opacity:
        opacity.AddPoint(value, alpha)
    prop = vtkVolumeProperty()
    prop.SetColor(colors)
    prop.SetScalarOpacity(opacity)
    prop.SetScalarOpacityUnitDistance(unit_distance)
    gradient_values = [a for _, a in preset.gradient_opacity]
    if preset.use_gradient_opacity or any(abs(a - 1.0) > 1e-9 for a in gradient_values):
        gradient = vtkPiecewiseFunction()
        for magnitude, alpha in preset.gradient_opacity:
            gradient.AddPoint(magnitude, alpha)
        prop.SetGradientOpacity(gradient)
    prop.SetInterpolationTypeToLinear()
    prop.SetShade(bool(preset.shade))
    prop.SetAmbient(preset.ambient)
    prop.SetDiffuse(preset.diffuse)
    prop.SetSpecular(preset.specular)
    prop.SetSpecularPower(preset.specular_power)
    return prop


def _image_without_direction(volume: Volume) -> vtkImageData:
    array = volume.array
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    if volume.n_components > 1:
        raise ValueError(
            "volume rendering needs one value per voxel; pick a component with .frame(i)"
        )
    image = vtkImageData()
    image.SetDimensions(*volume.shape_ijk)
    image.SetSpacing(*volume.spacing)
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(array.reshape(-1), deep=False))
    image._medvis_numpy_owner = array  # type: ignore[attr-defined]  # keep the memory alive
    return image


def world_box_to_crop(volume: Volume, box: ArrayLike) -> list[float]:
    """Cropping planes (in the mapper's data coordinates) for an LPS box.

    ``box`` is ``(xmin, xmax, ymin, ymax, zmin, zmax)`` in LPS mm. Exact for volumes whose
    axes are aligned with the world (any flip or permutation); for an oblique volume it is
    the smallest index-aligned box containing the world box.
    """
    b = np.asarray(box, float).reshape(3, 2)
    corners = np.array([[x, y, z] for x in b[0] for y in b[1] for z in b[2]])
    data = volume.world_to_index_points(corners) * volume.spacing  # index * spacing
    low, high = data.min(axis=0), data.max(axis=0)
    return [float(v) for pair in zip(low, high, strict=True) for v in pair]


def _unshaded_unless_composite(preset: VolumePreset, blend: str) -> VolumePreset:
    """Maximum/minimum/average blending ignores shading, but a shaded property still makes
    the CPU ray caster compute every voxel's gradient (1 s of a CT-MIP frame): off."""
    return preset if blend == "composite" else preset.replace(shade=False)


def _intersect_boxes(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """The intersection of two LPS boxes ``(xmin, xmax, ymin, ymax, zmin, zmax)``."""
    return [max(a[i], b[i]) if i % 2 == 0 else min(a[i], b[i]) for i in range(6)]


def make_volume_prop(
    volume: Volume,
    preset: str | VolumePreset,
    *,
    mapper: Any,
    blend: str | None = None,
    shade: bool | None = None,
    crop: Sequence[float] | None = None,
    sample_distance: float | None = None,
    shift: float = 0.0,
    keep_table: bool = False,
) -> vtkVolume:
    """A ``vtkVolume`` showing ``volume`` in LPS world coordinates.

    Parameters
    ----------
    volume : Volume
        3-D scalar volume (pass ``volume.frame(t)`` for 4-D).
    preset : str or VolumePreset
        Transfer functions and shading.
    mapper : {"gpu", "cpu"}
        "gpu": ``vtkGPUVolumeRayCastMapper`` (OpenGL ray casting), "cpu":
        ``vtkFixedPointVolumeRayCastMapper`` (multithreaded software ray casting,
        faster on a software-rendered OpenGL).
    blend : {"composite", "maximum", "minimum", "average"}, optional
        Overrides the preset's blending ("maximum" is a MIP).
    shade : bool, optional
        Overrides the preset's shading.
    crop : sequence of 6 floats, optional
        Show only this LPS box (see :func:`world_box_to_crop`).
    sample_distance : float, optional
        Ray step in mm; by default the smallest voxel spacing divided by 1, 2, 4 or 8,
        finer for transfer functions with thin bands or hard surfaces (:func:`medvis.pipeline.sampling.ray_step`:
        no wood-grain rings).
    shift : float
        Move the preset along the data range by this many data units (Slicer's preset
        shift). Relative (MR) presets are first fitted to the data (:func:`fit_preset`).
    keep_table : bool
        Show the CT table. By default a CT preset (values in HU) leaves out everything
        beyond the patient on the table's side (:func:`medvis.pipeline.table.find_table`):
        a cropping plane, so no voxel changes and nothing inside the body is touched.
    """
    source = volume.frame(0) if volume.layout == "tkji" else volume
    chosen = fit_preset(preset, source, shift=shift)
    if shade is not None:
        chosen = chosen.replace(shade=bool(shade))
    blend_name = blend or chosen.blend
    if blend_name not in _BLEND:
        raise ValueError(f"blend must be one of {list(_BLEND)}, not {blend_name!r}")
    chosen = _unshaded_unless_composite(chosen, blend_name)
    image = _image_without_direction(source)
    voxel = float(min(source.spacing))
    step = float(sample_distance) if sample_distance else ray_step(chosen, voxel, blend=blend_name)
    if mapper == "gpu":
        vtk_mapper: Any = vtkGPUVolumeRayCastMapper()
        vtk_mapper.SetAutoAdjustSampleDistances(False)
        vtk_mapper.SetSampleDistance(step)
        vtk_mapper.SetUseJittering(True)  # per-pixel ray offsets: rings become faint noise
    elif mapper == "cpu":
        vtk_mapper = vtkFixedPointVolumeRayCastMapper()
        vtk_mapper.SetAutoAdjustSampleDistances(False)
        vtk_mapper.SetSampleDistance(step)
        vtk_mapper.SetImageSampleDistance(1.0)
    else:
        raise ValueError(f"mapper must be 'gpu' or 'cpu' here, not {mapper!r}")
    vtk_mapper.SetInputData(image)
    vtk_mapper.SetBlendMode(_BLEND[blend_name])
    if not keep_table and chosen.units == "absolute" and chosen.modality == "CT":
        table = find_table(source)
        if table is not None:
            crop = table.box if crop is None else _intersect_boxes(crop, table.box)
    if crop is not None:
        vtk_mapper.CroppingOn()
        vtk_mapper.SetCroppingRegionPlanes(*world_box_to_crop(source, crop))
        vtk_mapper.SetCroppingRegionFlagsToSubVolume()
    prop = vtkVolume()
    prop.SetMapper(vtk_mapper)
    prop.SetProperty(volume_property(chosen, unit_distance=float(min(source.spacing))))
    user = np.eye(4)
    user[:3, :3] = source.direction
    user[:3, 3] = source.origin
    matrix = vtkMatrix4x4()
    matrix.DeepCopy(user.ravel().tolist())
    prop.SetUserMatrix(matrix)
    prop._medvis_image = image  # type: ignore[attr-defined]
    prop._medvis_volume = source  # type: ignore[attr-defined]  # what apply_preset fits to
    prop._medvis_fixed_step = bool(sample_distance)  # type: ignore[attr-defined]
    return prop


def apply_preset(prop: vtkVolume, preset: str | VolumePreset, *, shift: float = 0.0) -> None:
    """Give a prop from :func:`make_volume_prop` another preset, keeping its mapper and data.

    Transfer functions, shading and blending change; the mapper's cached data (e.g. the
    CPU ray caster's gradients) is kept, so switching presets is cheap. The preset is
    fitted to the prop's volume and moved by ``shift`` data units as in
    :func:`make_volume_prop`.
    """
    chosen = fit_preset(preset, prop._medvis_volume, shift=shift)  # type: ignore[attr-defined]
    chosen = _unshaded_unless_composite(chosen, chosen.blend)
    unit = prop.GetProperty().GetScalarOpacityUnitDistance()
    prop.SetProperty(volume_property(chosen, unit_distance=unit))
    mapper: Any = prop.GetMapper()
    mapper.SetBlendMode(_BLEND[chosen.blend])
    if not getattr(prop, "_medvis_fixed_step", False):  # the new preset's own ray step
        voxel = float(min(prop._medvis_volume.spacing))  # type: ignore[attr-defined]
        mapper.SetSampleDistance(ray_step(chosen, voxel, blend=chosen.blend))
