"""Offscreen pictures: volume renderings, slice montages, PNG files.

This package is the only part of medvis that imports VTK's rendering (OpenGL) modules;
everything else works on a server without a graphics stack. With no display VTK draws
through EGL (Mesa llvmpipe on a machine without a GPU), except a volume rendering by the
CPU ray caster alone, which needs no OpenGL at all (:mod:`.software_raycast`).

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

import numpy as np
from numpy.typing import NDArray

from medvis.pipeline.presets import VolumePreset
from medvis.render._window import RenderError
from medvis.render.cameras import CAMERAS, CameraSpec, world_to_pixel
from medvis.render.png import encode_png, read_png, save_png
from medvis.render.scene3d import OffscreenScene
from medvis.render.slices import Montage, Panel, render_slices
from medvis.render.volume_render import MapperKind, default_preset
from medvis.volume import Volume

__all__ = [
    "CAMERAS",
    "Montage",
    "OffscreenScene",
    "Panel",
    "RenderError",
    "encode_png",
    "read_png",
    "render_slices",
    "render_volume",
    "save_png",
    "world_to_pixel",
]


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
) -> NDArray[np.uint8]:
    """Volume-render ``volume`` offscreen and return the picture.

    Parameters
    ----------
    volume : Volume
        Any geometry (flipped, permuted, oblique: the picture is the same).
    preset : str or VolumePreset, optional
        A name from ``medvis presets`` (e.g. "CT-Lung", "CT-Bone", "MR-Default") or a
        custom preset; by default "CT-Bone" for CT and "MR-Default" otherwise.
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

    Returns
    -------
    ndarray
        (height, width, 3) uint8, row 0 on top.
    """
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
        )
        scene.set_camera(camera, zoom=zoom, parallel=parallel)
        return scene.render()
