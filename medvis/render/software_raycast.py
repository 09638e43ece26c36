"""Volume pictures from the CPU ray caster without an OpenGL context.

``vtkFixedPointVolumeRayCastMapper`` casts its rays on the CPU and only uses OpenGL at
the very end, to draw the finished image as a textured quad (``DisplayRenderedImage``).
Its ``Render`` is four public steps followed by that draw; this module runs the same
four steps against a renderer that is never drawn (it only holds the camera, the lights
and the window size), reads the mapper's RGBA image, and blends it over the background
in numpy exactly as the quad would be blended.

What that saves: the EGL/Mesa context with its LLVM shader compiler (about 100 MiB of a
512x512 render on llvmpipe, and the time to create it and compile shaders), and the
need for any OpenGL library at all, so a volume picture renders on a server without
Mesa. :class:`medvis.render.scene3d.OffscreenScene` takes this path for a scene that
holds one CPU-ray-cast volume and nothing else; ``tests/test_render_without_opengl.py``
checks that it gives the same pixels as drawing through OpenGL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkUnsignedShortArray
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkVolume
from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper, vtkVolumeMapper

from medvis.render._window import RenderError

__all__ = ["SUPPORTED_BLENDS", "raycast_rgb"]

#: Blend modes the fixed-point ray caster implements; it refuses the others (average) in
#: ``Render`` too.
SUPPORTED_BLENDS = frozenset(
    {
        vtkVolumeMapper.COMPOSITE_BLEND,
        vtkVolumeMapper.MAXIMUM_INTENSITY_BLEND,
        vtkVolumeMapper.MINIMUM_INTENSITY_BLEND,
        vtkVolumeMapper.ADDITIVE_BLEND,
    }
)

#: The ray caster stores 15-bit colours; its display helper multiplies texels by 2.
_PIXEL_SCALE = 2.0 / 65535.0


def _follow_camera_lights(renderer: vtkRenderer) -> None:
    # What vtkOpenGLRenderer does before drawing: make the default headlight when no
    # light is on, then move headlights / camera lights with the camera.
    lights = renderer.GetLights()
    lights.InitTraversal()
    light = lights.GetNextItem()
    any_on = False
    while light is not None:
        any_on = any_on or bool(light.GetSwitch())
        light = lights.GetNextItem()
    if not any_on and renderer.GetAutomaticLightCreation():
        renderer.CreateLight()
    renderer.UpdateLightsGeometryToFollowCamera()


def _quad_resample(image: NDArray[np.float32], axis: int) -> NDArray[np.float32]:
    """Resample one axis as VTK's display quad does.

    The quad spans exactly the ``n`` pixels of the image but its texture coordinates run
    from the first texel centre to the last, so pixel ``x`` shows the texture at texel
    ``(x + 0.5) * (n - 1) / n`` with linear filtering. Doing the same keeps this path's
    pictures identical to the OpenGL path's (within 8-bit rounding).
    """
    n = image.shape[axis]
    if n < 2:
        return image
    position = (np.arange(n, dtype=np.float64) + 0.5) * (n - 1) / n
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, n - 1)
    shape = [1] * image.ndim
    shape[axis] = n
    weight = (position - low).astype(np.float32).reshape(shape)
    first = np.take(image, low, axis=axis)
    first *= 1.0 - weight
    first += np.take(image, high, axis=axis) * weight
    return first


def _mapper_rgba(mapper: vtkFixedPointVolumeRayCastMapper) -> tuple[NDArray[np.float32], int, int]:
    """The ray-cast image as premultiplied RGBA in [0, 1], rows bottom-up, and its origin."""
    image = mapper.GetRayCastImage()
    memory_w, memory_h = image.GetImageMemorySize()
    used_w, used_h = image.GetImageInUseSize()
    origin_x, origin_y = image.GetImageOrigin()
    # GetImage returns VTK's pointer string; a vtkUnsignedShortArray views that memory.
    view = vtkUnsignedShortArray()
    view.SetVoidArray(image.GetImage(), memory_w * memory_h * 4, 1)
    stored = numpy_support.vtk_to_numpy(view).reshape(memory_h, memory_w, 4)
    rgba = stored[:used_h, :used_w].astype(np.float32)
    del view, stored  # the array is the mapper's; keep only our copy
    window, level = mapper.GetFinalColorWindow(), mapper.GetFinalColorLevel()
    if window != 1.0 or level != 0.5:
        # As the mapper's (protected) ApplyFinalColorWindowLevel does before display.
        scale, bias = 1.0 / window, 0.5 - level / window
        colour = np.trunc(rgba[..., :3] * np.float32(scale) + np.float32(bias) * rgba[..., 3:])
        rgba[..., :3] = np.clip(colour, 0, 32767)
    rgba *= _PIXEL_SCALE
    return rgba, int(origin_x), int(origin_y)


def raycast_rgb(
    renderer: vtkRenderer,
    prop: vtkVolume,
    *,
    size: Sequence[int],
    background: Sequence[float],
) -> NDArray[np.uint8]:
    """Ray-cast ``prop`` (whose mapper is the fixed-point ray caster) with no OpenGL.

    Parameters
    ----------
    renderer : vtkRenderer
        Holds the camera and lights; it must belong to a render window of ``size``
        (the window is never initialised, so no OpenGL context is made).
    prop : vtkVolume
        A volume whose mapper is a ``vtkFixedPointVolumeRayCastMapper``.
    size : (width, height)
        Image size in pixels.
    background : (r, g, b)
        Background colour in [0, 1].

    Returns
    -------
    ndarray
        (height, width, 3) uint8, row 0 on top.

    Raises
    ------
    RenderError
        For a blend mode the ray caster does not implement.
    """
    mapper = prop.GetMapper()
    if not isinstance(mapper, vtkFixedPointVolumeRayCastMapper):
        raise TypeError("raycast_rgb needs a vtkFixedPointVolumeRayCastMapper")
    if mapper.GetBlendMode() not in SUPPORTED_BLENDS:
        raise RenderError(
            None,
            "the CPU ray caster supports composite, maximum and minimum blending only "
            "(use mapper='gpu' for average)",
        )
    width, height = (int(v) for v in size)
    _follow_camera_lights(renderer)
    # Nothing else is drawn, so there is no depth buffer to read (that would need OpenGL);
    # the setting is put back for a later frame drawn through OpenGL with other props.
    intermix = mapper.GetIntermixIntersectingGeometry()
    mapper.IntermixIntersectingGeometryOff()
    try:
        # The steps of vtkFixedPointVolumeRayCastMapper::Render but DisplayRenderedImage.
        unused_origin, unused_spacing, unused_extent = [0.0] * 3, [0.0] * 3, [0] * 6
        mapper.PerImageInitialization(
            renderer, prop, 0, unused_origin, unused_spacing, unused_extent
        )
        mapper.PerVolumeInitialization(renderer, prop)
        mapper.PerSubVolumeInitialization(renderer, prop, 0)
        mapper.RenderSubVolume()
        rgba, x0, y0 = _mapper_rgba(mapper)
    finally:
        mapper.SetIntermixIntersectingGeometry(intermix)
    rgba = _quad_resample(_quad_resample(rgba, 0), 1)

    # The framebuffer holds the cleared background in 8 bits; the quad is blended over
    # it with premultiplied alpha: out = source + destination * (1 - source alpha).
    background8 = np.round(np.clip(np.asarray(background, np.float64), 0, 1) * 255)
    picture = np.empty((height, width, 3), np.uint8)
    picture[:] = background8.astype(np.uint8)
    rows = slice(max(y0, 0), min(y0 + rgba.shape[0], height))
    cols = slice(max(x0, 0), min(x0 + rgba.shape[1], width))
    part = rgba[rows.start - y0 : rows.stop - y0, cols.start - x0 : cols.stop - x0]
    blended = part[..., :3] + (background8 / 255).astype(np.float32) * (1.0 - part[..., 3:4])
    np.clip(blended, 0.0, 1.0, out=blended)
    blended *= 255.0
    blended += 0.5
    picture[rows, cols] = blended.astype(np.uint8)
    return np.ascontiguousarray(picture[::-1])
