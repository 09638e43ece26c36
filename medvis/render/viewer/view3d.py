"""The viewer's 3-D view: volume rendering, the slice planes' outlines, orientation cube.

Quality follows interaction: while the user drags or scrolls, the ray caster casts one
ray per ``image_sample_distance`` pixels (2 or more) with a longer step along the ray;
when the view is idle it is drawn again at full quality (one ray per pixel, a step of
the finest voxel spacing). The interactive image-sample distance adapts to keep
interactive frames near a target time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer, vtkVolume

from medvis.pipeline.presets import VolumePreset
from medvis.render.cameras import apply_camera
from medvis.render.lighting import add_headlight
from medvis.render.marker import OrientationMarker
from medvis.render.scene3d import surface_actor
from medvis.render.viewer.logic import VIEW_NAMES, ViewerLogic
from medvis.render.viewer.slice_view import PLANE_COLORS, SliceView
from medvis.render.volume_render import apply_preset, make_volume_prop

__all__ = ["View3D"]

#: Interactive frames aim at this many seconds for the 3-D view.
TARGET_INTERACTIVE_S = 0.12


def _polyline(count: int, closed: bool) -> tuple[vtkPoints, vtkPolyData]:
    points = vtkPoints()
    points.SetNumberOfPoints(count)
    cells = vtkCellArray()
    cells.InsertNextCell(count + int(closed))
    for index in range(count):
        cells.InsertCellPoint(index)
    if closed:
        cells.InsertCellPoint(0)
    poly = vtkPolyData()
    poly.SetPoints(points)
    poly.SetLines(cells)
    return points, poly


def _line_actor(poly: vtkPolyData, color: Sequence[float], width: float = 2.0) -> vtkActor:
    mapper = vtkPolyDataMapper()
    mapper.SetInputData(poly)
    actor = vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*color)
    actor.GetProperty().SetLineWidth(width)
    actor.GetProperty().LightingOff()
    return actor


class View3D:
    """Volume rendering of the viewer's volume with the slice planes drawn as outlines.

    Parameters
    ----------
    logic : ViewerLogic
        Shared state (preset).
    mapper : {"gpu", "cpu"}
        Resolved volume mapper kind.
    """

    def __init__(self, logic: ViewerLogic, *, mapper: str) -> None:
        self.logic = logic
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.08, 0.09, 0.12)
        self.renderer.SetBackground2(0.28, 0.3, 0.36)
        self.renderer.GradientBackgroundOn()
        add_headlight(self.renderer)  # ambient white: the CPU ray caster's ambient term
        self.volume_prop: vtkVolume = make_volume_prop(logic.volume, logic.preset, mapper=mapper)
        self.renderer.AddVolume(self.volume_prop)
        self.base_step = float(min(logic.volume.spacing))
        self.interactive = False
        self.image_sample_distance = 2.0
        self.marker = OrientationMarker(self.renderer)
        # The volume's box (12 edges drawn as 4 polylines around the faces' loops).
        ni, nj, nk = logic.volume.shape_ijk
        box_points = vtkPoints()
        box_cells = vtkCellArray()
        order = [
            (0, 0, 0),
            (1, 0, 0),
            (1, 1, 0),
            (0, 1, 0),
            (0, 0, 1),
            (1, 0, 1),
            (1, 1, 1),
            (0, 1, 1),
        ]
        for corner in order:
            ijk = np.array(corner, float) * (np.array([ni, nj, nk], float) - 1)
            box_points.InsertNextPoint(*logic.volume.index_to_world_points(ijk))
        for a, b in (
            (0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)
        ):  # fmt: skip
            box_cells.InsertNextCell(2)
            box_cells.InsertCellPoint(a)
            box_cells.InsertCellPoint(b)
        box = vtkPolyData()
        box.SetPoints(box_points)
        box.SetLines(box_cells)
        self.box_actor = _line_actor(box, (0.55, 0.58, 0.65), 1.0)
        self.renderer.AddActor(self.box_actor)
        self.outlines: dict[str, tuple[vtkPoints, vtkPolyData, vtkActor]] = {}
        for plane in VIEW_NAMES:
            points, poly = _polyline(4, closed=True)
            actor = _line_actor(poly, PLANE_COLORS[plane], 2.0)
            self.renderer.AddActor(actor)
            self.outlines[plane] = (points, poly, actor)
        self.surfaces: list[vtkActor] = []
        self.camera_name = "anterior"
        self.set_quality(interactive=False)

    def add_surface(
        self, polydata: vtkPolyData, color: Sequence[float], *, opacity: float = 0.6
    ) -> vtkActor:
        """Show a mesh already in LPS mm (e.g. a lung surface) with the volume."""
        actor = surface_actor(polydata, color=color, opacity=opacity)
        actor.GetProperty().SetSpecular(0.2)
        self.renderer.AddActor(actor)
        self.surfaces.append(actor)
        return actor

    # ------------------------------------------------------------ state
    def set_preset(self, preset: VolumePreset) -> None:
        """Use another preset (transfer functions, shading, blending)."""
        apply_preset(self.volume_prop, preset)
        self.set_quality(interactive=self.interactive)

    def set_quality(self, *, interactive: bool) -> None:
        """Coarse, fast sampling while interacting; full quality when idle."""
        self.interactive = interactive
        mapper: Any = self.volume_prop.GetMapper()
        if interactive:
            mapper.SetImageSampleDistance(self.image_sample_distance)
            mapper.SetSampleDistance(2.0 * self.base_step)
        else:
            mapper.SetImageSampleDistance(1.0)
            mapper.SetSampleDistance(self.base_step)

    def adapt(self, seconds: float) -> None:
        """Adjust the interactive image-sample distance after an interactive frame."""
        if not self.interactive:
            return
        if seconds > 1.3 * TARGET_INTERACTIVE_S and self.image_sample_distance < 4.0:
            self.image_sample_distance = min(4.0, self.image_sample_distance + 0.5)
        elif seconds < 0.5 * TARGET_INTERACTIVE_S and self.image_sample_distance > 1.5:
            self.image_sample_distance = max(1.5, self.image_sample_distance - 0.5)
        mapper: Any = self.volume_prop.GetMapper()
        mapper.SetImageSampleDistance(self.image_sample_distance)

    def update_planes(self, views: dict[str, SliceView], visible: bool = True) -> None:
        """Draw each slice view's plane where it is."""
        for plane, (points, poly, actor) in self.outlines.items():
            view = views[plane]
            actor.SetVisibility(visible and view.slice is not None)
            if view.slice is None:
                continue
            rows, cols = view.slice.shape
            matrix = view.slice.pixel_to_world
            for index, (c, r) in enumerate(
                ((0, 0), (cols - 1, 0), (cols - 1, rows - 1), (0, rows - 1))
            ):
                points.SetPoint(index, *(matrix @ [c, r, 0.0, 1.0])[:3])
            points.Modified()
            poly.Modified()

    def set_camera(self, name: str) -> None:
        """A named anatomical camera fitted to the volume (see :mod:`medvis.render.cameras`)."""
        self.camera_name = name
        apply_camera(self.renderer, name, self.logic.volume.world_bounds.ravel())

    def reset_clipping(self) -> None:
        """Keep the whole volume between the clipping planes."""
        self.renderer.ResetCameraClippingRange(*self.logic.volume.world_bounds.ravel())
