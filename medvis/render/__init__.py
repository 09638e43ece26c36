"""Offscreen pictures: volume renderings, slice montages, PNG files.

This package is the only part of medvis that imports VTK's rendering (OpenGL) modules;
everything else works on a server without a graphics stack. With no display VTK draws
through EGL (Mesa llvmpipe on a machine without a GPU), except a volume rendering by the
CPU ray caster alone, which needs no OpenGL at all (:mod:`.software_raycast`).

Some pictures are made with numpy alone and never need OpenGL: a shaded surface display
of a label map (:func:`shade_labels`) and a slice montage (:func:`paint_slices`). Their
names, the PNG functions and the cameras are imported with the package; the OpenGL parts
(:class:`OffscreenScene`, :func:`render_slices`, :func:`render_volume`,
:class:`RenderError`) load VTK's OpenGL modules on first use, so a process that only
makes the numpy pictures never loads them.

Examples
--------
>>> import medvis, medvis.render
>>> from medvis.phantoms import chest_phantom
>>> vol = chest_phantom()
>>> rgb = medvis.render.render_volume(vol, preset="CT-Lung", camera="anterior", size=(128, 128))
>>> rgb.shape, rgb.dtype
((128, 128, 3), dtype('uint8'))
>>> montage = medvis.render.render_slices(vol, window="lung", panel_size=(96, 96))
>>> montage.rgb.shape
(96, 288, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from medvis.pipeline.presets import VolumePreset
from medvis.render.cameras import CAMERAS, CameraSpec, world_to_pixel
from medvis.render.label_shading import shade_labels
from medvis.render.montage import Montage, Panel
from medvis.render.png import encode_png, read_png, save_png
from medvis.render.slice_paint import paint_slices
from medvis.volume import Volume

if TYPE_CHECKING:  # pragma: no cover - the OpenGL parts load on first use (see below)
    from medvis.render._window import RenderError
    from medvis.render.scene3d import OffscreenScene
    from medvis.render.slices import render_slices
    from medvis.render.volume_render import MapperKind

__all__ = [
    "CAMERAS",
    "Montage",
    "OffscreenScene",
    "Panel",
    "RenderError",
    "encode_png",
    "paint_slices",
    "read_png",
    "render_slices",
    "render_volume",
    "save_png",
    "shade_labels",
    "world_to_pixel",
]

# Names whose modules import VTK's OpenGL modules: loaded when first used.
_LAZY = {
    "OffscreenScene": "medvis.render.scene3d",
    "RenderError": "medvis.render._window",
    "render_slices": "medvis.render.slices",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def render_volume(
    volume: Volume,
    *,
    preset: str | VolumePreset | None = None,
    camera: CameraSpec = "anterior",
    size: Sequence[int] = (512, 512),
    zoom: float = 1.0,
    parallel: bool = False,
    blend: str | None = None,
    shade: bool | None = None,
    crop: Sequence[float] | None = None,
    mapper: MapperKind = "auto",
    sample_distance: float | None = None,
    background: Sequence[float] = (0.0, 0.0, 0.0),
    orientation_marker: bool = True,
    frame: int = 0,
    shift: float = 0.0,
    keep_table: bool = False,
) -> NDArray[np.uint8]:
    """Volume-render ``volume`` offscreen and return the picture.

    Parameters
    ----------
    volume : Volume
        Any geometry (flipped, permuted, oblique: the picture is the same).
    preset : str or VolumePreset, optional
        A name from ``medvis presets`` (e.g. "CT-Lung", "CT-Bone", "MR-Default") or a
        custom preset; by default one chosen from the content
        (:func:`medvis.pipeline.preset_fit.default_preset_for`: CT-Bone for a CT, colours for
        a label map, MR-Default otherwise). Relative (MR) presets are fitted to the
        volume's intensity range (:func:`medvis.pipeline.preset_fit.fit_preset`).
    camera : str or mapping
        "anterior", "posterior", "left", "right", "superior", "inferior" (the patient's
        directions), or a mapping (see :func:`medvis.render.cameras.apply_camera`).
    size : (width, height)
        Image size in pixels.
    zoom : float
        Magnification after fitting the volume in view.
    parallel : bool
        Orthographic instead of perspective projection.
    blend : {"composite", "maximum", "minimum", "average"}, optional
        Overrides the preset's blending ("maximum" = MIP).
    shade : bool, optional
        Overrides the preset's shading.
    crop : sequence of 6 floats, optional
        LPS box ``(xmin, xmax, ymin, ymax, zmin, zmax)`` to keep.
    mapper : {"auto", "gpu", "cpu"}
        "auto" uses the CPU ray caster on software OpenGL (llvmpipe), the GPU one otherwise.
        The CPU ray caster's picture is made without an OpenGL context.
    sample_distance : float, optional
        Ray step in mm (the smallest voxel spacing by default).
    background : (r, g, b)
        Background colour in [0, 1].
    orientation_marker : bool
        Draw the L/R/A/P/S/I cube in the lower-left corner.
    frame : int
        Frame of a 4-D volume.
    shift : float
        Move the preset along the data range by this many data units (Slicer's shift).
    keep_table : bool
        Show the CT table (left out by default for CT presets: a cropping plane just
        beyond the patient, see :func:`medvis.pipeline.table.find_table`).

    Returns
    -------
    ndarray
        (height, width, 3) uint8, row 0 on top.
    """
    from medvis.render.scene3d import OffscreenScene
    from medvis.render.volume_render import default_preset

    source = volume.frame(frame) if volume.layout == "tkji" else volume
    with OffscreenScene(
        size=size, background=background, orientation_marker=orientation_marker
    ) as scene:
        scene.add_volume(
            source,
            preset or default_preset(source),
            mapper=mapper,
            blend=blend,
            shade=shade,
            crop=crop,
            sample_distance=sample_distance,
            shift=shift,
            keep_table=keep_table,
        )
        scene.set_camera(camera, zoom=zoom, parallel=parallel)
        return scene.render()
