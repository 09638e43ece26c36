"""An offscreen 3-D scene: volumes, slice planes and surfaces in one LPS world.

:class:`OffscreenScene` is what :func:`medvis.render.render_volume` and the scene files
use; keep one to render several frames (the first frame compiles shaders and uploads
textures, the later ones are much cheaper).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPolyData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkRenderingCore import vtkActor, vtkImageActor, vtkPolyDataMapper, vtkRenderer

from medvis.pipeline.presets import VolumePreset
from medvis.pipeline.reslice import Slice
from medvis.pipeline.windowing import WindowLevel, apply_window
from medvis.render._window import ErrorCatcher, capture, is_software_gl, new_window
from medvis.render.cameras import CameraSpec, apply_camera, world_to_pixel
from medvis.render.marker import OrientationMarker
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
    ) -> None:
        width, height = (int(v) for v in size)
        self.window = new_window(width, height)
        self.errors = ErrorCatcher()
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(*background)
        self.window.SetNumberOfLayers(2)
        self.window.AddRenderer(self.renderer)
        self.errors.watch(self.window, self.renderer)
        self.marker: OrientationMarker | None = None
        if orientation_marker:
            self.marker = OrientationMarker(self.renderer)
            self.window.AddRenderer(self.marker.renderer)
        self._bounds: list[NDArray[np.float64]] = []
        self._camera_set = False

    # ----------------------------------------------------------------- layers
    def resolve_mapper(self, mapper: MapperKind) -> str:
        """ "auto" is the CPU ray caster on a software OpenGL (llvmpipe), else the GPU one."""
        if mapper == "auto":
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
    def render(self) -> NDArray[np.uint8]:
        """Draw a frame and return it as (height, width, 3) uint8, row 0 on top.

        Raises
        ------
        RenderError
            When VTK reported an error while drawing.
        """
        if not self._camera_set:
            self.set_camera("anterior")
        if self.marker is not None:
            self.marker.sync()
        self.window.Render()
        rgb = capture(self.window)
        self.errors.check("rendering failed")
        return rgb

    def close(self) -> None:
        """Release the OpenGL resources now (they are also released when collected)."""
        self.window.Finalize()

    def __enter__(self) -> OffscreenScene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
