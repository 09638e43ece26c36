"""An offscreen 3-D scene: volumes, slice planes and surfaces in one LPS world.

:class:`OffscreenScene` is what :func:`medvis.render.render_volume` and the scene files
use; keep one to render several frames (the first frame computes the ray caster's
gradients, or compiles shaders and uploads textures; the later ones are much cheaper).

A scene that is one volume drawn by the CPU ray caster (the choice on a machine without
a GPU) is rendered without OpenGL (:mod:`medvis.render.software_raycast`); anything else
is drawn through an offscreen OpenGL window. The orientation cube is painted into the
finished picture in both cases (:func:`medvis.render.marker.draw_orientation_cube`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPolyData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkImageActor,
    vtkPolyDataMapper,
    vtkRenderer,
    vtkRenderWindow,
    vtkVolume,
)
from vtkmodules.vtkRenderingOpenGL2 import vtkGenericOpenGLRenderWindow
from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper

from medvis.pipeline.presets import VolumePreset
from medvis.pipeline.reslice import Slice
from medvis.pipeline.windowing import WindowLevel, apply_window
from medvis.render._window import (
    ErrorCatcher,
    capture,
    gpu_device_present,
    is_software_gl,
    new_window,
    use_all_cores,
)
from medvis.render.cameras import CameraSpec, apply_camera, world_to_pixel
from medvis.render.lighting import add_headlight
from medvis.render.marker import draw_orientation_cube
from medvis.render.software_raycast import raycast_rgb
from medvis.render.volume_render import MapperKind, make_volume_prop
from medvis.volume import Volume

__all__ = ["OffscreenScene", "surface_actor"]


def surface_actor(
    polydata: vtkPolyData, *, color: Sequence[float], opacity: float = 1.0
) -> vtkActor:
    """An actor drawing a mesh already in LPS mm in one flat colour."""
    mapper = vtkPolyDataMapper()
    mapper.SetInputData(polydata)
    mapper.ScalarVisibilityOff()
    actor = vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*color)
    actor.GetProperty().SetOpacity(opacity)
    return actor


class OffscreenScene:
    """A render window with no screen, holding props placed in LPS millimetres.

    Parameters
    ----------
    size : (width, height)
        Image size in pixels.
    background : (r, g, b)
        Background colour, components in [0, 1].
    orientation_marker : bool
        Draw the labelled orientation cube in the lower-left corner.
    opengl : bool, optional
        None (default): draw through OpenGL only when needed (anything but a single
        CPU-ray-cast volume). True: always draw through OpenGL. False: never; rendering
        a scene that needs OpenGL then raises ``ValueError``.

    Examples
    --------
    >>> from medvis.phantoms import chest_phantom
    >>> scene = OffscreenScene(size=(64, 64))
    >>> _ = scene.add_volume(chest_phantom(shape_ijk=(32, 28, 20), spacing=(10, 10, 12)), "CT-Bone")
    >>> scene.set_camera("anterior")
    >>> scene.render().shape
    (64, 64, 3)
    """

    def __init__(
        self,
        *,
        size: Sequence[int] = (512, 512),
        background: Sequence[float] = (0.0, 0.0, 0.0),
        orientation_marker: bool = True,
        opengl: bool | None = None,
    ) -> None:
        width, height = (int(v) for v in size)
        if width < 1 or height < 1:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        self.size = (width, height)
        use_all_cores()  # VTK's threaded parts (scalar ranges, gradients) on every core
        self.errors = ErrorCatcher()
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(*background)
        add_headlight(self.renderer)  # ambient white: the CPU ray caster's ambient term
        # Until OpenGL is needed the renderer sits in a window that never makes a context
        # or loads an OpenGL library; it gives the camera its aspect ratio and image size.
        self._holder = vtkGenericOpenGLRenderWindow()
        self._holder.SetSize(width, height)
        self._holder.AddRenderer(self.renderer)
        self._window: vtkRenderWindow | None = None
        self.errors.watch(self.renderer)
        self.orientation_marker = bool(orientation_marker)
        self.opengl = opengl
        self._bounds: list[NDArray[np.float64]] = []
        self._camera_set = False

    @property
    def window(self) -> vtkRenderWindow:
        """The offscreen OpenGL window, made (and given the renderer) on first use."""
        if self._window is None:
            window = new_window(*self.size)
            self._holder.RemoveRenderer(self.renderer)
            window.AddRenderer(self.renderer)
            self.errors.watch(window)
            self._window = window
        return self._window

    # ----------------------------------------------------------------- layers
    def resolve_mapper(self, mapper: MapperKind) -> str:
        """ "auto" is the CPU ray caster on a software OpenGL (llvmpipe), else the GPU one.

        On Linux with no GPU device node the answer is "cpu" without making an OpenGL
        context; otherwise a context is made once to ask OpenGL what it is.
        """
        if mapper == "auto":
            if not gpu_device_present():
                return "cpu"
            return "cpu" if is_software_gl(self.window) else "gpu"
        if mapper not in ("gpu", "cpu"):
            raise ValueError(f"mapper must be 'auto', 'gpu' or 'cpu', not {mapper!r}")
        return mapper

    def add_volume(
        self,
        volume: Volume,
        preset: str | VolumePreset,
        *,
        mapper: MapperKind = "auto",
        blend: str | None = None,
        shade: bool | None = None,
        crop: Sequence[float] | None = None,
        sample_distance: float | None = None,
        shift: float = 0.0,
        keep_table: bool = False,
    ) -> Any:
        """Add a volume rendering (see :func:`medvis.render.volume_render.make_volume_prop`)."""
        prop = make_volume_prop(
            volume,
            preset,
            mapper=self.resolve_mapper(mapper),
            blend=blend,
            shade=shade,
            crop=crop,
            sample_distance=sample_distance,
            shift=shift,
            keep_table=keep_table,
        )
        self.errors.watch(prop.GetMapper())
        self.renderer.AddVolume(prop)
        self._bounds.append(volume.world_bounds)
        return prop

    def add_slice(
        self, slice_: Slice, window: WindowLevel, *, opacity: float = 1.0
    ) -> vtkImageActor:
        """Show a resliced plane, windowed to grey, at its place in the world."""
        grey = apply_window(slice_.pixels, window)
        rows, cols = grey.shape[:2]
        image = vtkImageData()
        image.SetDimensions(cols, rows, 1)
        flat = np.ascontiguousarray(grey.reshape(-1))
        image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(flat, deep=True))
        actor = vtkImageActor()
        actor.GetMapper().SetInputData(image)
        actor.GetProperty().SetOpacity(opacity)
        actor.GetProperty().SetInterpolationTypeToLinear()
        matrix = vtkMatrix4x4()
        matrix.DeepCopy(slice_.pixel_to_world.ravel().tolist())
        actor.SetUserMatrix(matrix)
        self.renderer.AddActor(actor)
        corners = np.array(
            [slice_.pixel_to_world @ [c, r, 0, 1] for c in (0, cols - 1) for r in (0, rows - 1)]
        )[:, :3]
        self._bounds.append(np.stack([corners.min(axis=0), corners.max(axis=0)], axis=1))
        return actor

    def add_surface(
        self,
        polydata: vtkPolyData,
        *,
        color: Sequence[float] = (0.9, 0.85, 0.75),
        opacity: float = 1.0,
    ) -> vtkActor:
        """Add a surface or mesh already in LPS mm."""
        actor = surface_actor(polydata, color=color, opacity=opacity)
        self.renderer.AddActor(actor)
        if polydata.GetNumberOfPoints():
            self._bounds.append(np.asarray(polydata.GetBounds(), float).reshape(3, 2))
        return actor

    # ----------------------------------------------------------------- camera
    @property
    def bounds(self) -> NDArray[np.float64]:
        """LPS bounds (3, 2) of everything added."""
        if not self._bounds:
            return np.array([[-1.0, 1.0]] * 3)
        stacked = np.stack(self._bounds)
        return np.stack([stacked[:, :, 0].min(axis=0), stacked[:, :, 1].max(axis=0)], axis=1)

    def set_camera(
        self, spec: CameraSpec = "anterior", *, zoom: float = 1.0, parallel: bool = False
    ) -> None:
        """Named anatomical camera or explicit one (see :func:`medvis.render.cameras.apply_camera`)."""
        apply_camera(self.renderer, spec, self.bounds.ravel(), zoom=zoom, parallel=parallel)
        self._camera_set = True

    def world_to_pixel(self, point: ArrayLike) -> NDArray[np.float64]:
        """(row, column) where an LPS point lands in the rendered image."""
        return world_to_pixel(self.renderer, point)

    # ----------------------------------------------------------------- render
    def _lone_cpu_volume(self) -> vtkVolume | None:
        """The scene's only prop when it is a volume drawn by the CPU ray caster."""
        props = self.renderer.GetViewProps()
        only = props.GetItemAsObject(0) if props.GetNumberOfItems() == 1 else None
        if isinstance(only, vtkVolume) and isinstance(
            only.GetMapper(), vtkFixedPointVolumeRayCastMapper
        ):
            return only
        return None

    def needs_opengl(self) -> bool:
        """Whether :meth:`render` draws through OpenGL (see the ``opengl`` parameter)."""
        if self.opengl is None:
            return self._lone_cpu_volume() is None
        return self.opengl

    def render(self) -> NDArray[np.uint8]:
        """Draw a frame and return it as (height, width, 3) uint8, row 0 on top.

        Raises
        ------
        RenderError
            When VTK reported an error while drawing.
        ValueError
            When ``opengl=False`` and the scene is not one CPU-ray-cast volume alone.
        """
        if not self._camera_set:
            self.set_camera("anterior")
        if self.needs_opengl():
            self.window.Render()
            rgb = capture(self.window)
        else:
            volume = self._lone_cpu_volume()
            if volume is None:
                raise ValueError(
                    "without OpenGL a scene can hold one volume drawn by the CPU ray caster "
                    "and nothing else"
                )
            rgb = raycast_rgb(
                self.renderer,
                volume,
                size=self.size,
                background=self.renderer.GetBackground(),
            )
        self.errors.check("rendering failed")
        if self.orientation_marker:
            draw_orientation_cube(rgb, self.renderer.GetActiveCamera())
        return rgb

    def close(self) -> None:
        """Release the OpenGL resources now (they are also released when collected)."""
        if self._window is not None:
            self._window.Finalize()

    def __enter__(self) -> OffscreenScene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
