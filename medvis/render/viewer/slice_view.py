"""One slice view of the viewer: a plane through the cursor, windowed, labelled, with a crosshair.

The plane is sampled by :func:`medvis.pipeline.reslice` (one index-space matrix, so
flipped and oblique volumes are right) and shown as raw values: window and level are a
``vtkImageProperty`` setting, so dragging them redraws without resampling. The view's
own 2-D coordinates are the slice's millimetres: ``x`` to the image right, ``y`` up,
pixel ``[0, 0]`` (top left) at ``(0, H)``, so the display keeps the true aspect ratio
and the radiological convention of :mod:`medvis.pipeline.reslice`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkImageProperty,
    vtkImageSlice,
    vtkImageSliceMapper,
    vtkPolyDataMapper,
    vtkRenderer,
    vtkTextActor,
)

from medvis.pipeline.reslice import Slice, reslice
from medvis.render.viewer.logic import VIEW_NAMES, ViewerLogic, plane_normal

__all__ = ["PLANE_COLORS", "SliceView", "text_actor"]

#: 3D Slicer's colours: red axial, green coronal, yellow sagittal.
PLANE_COLORS = {
    "axial": (0.95, 0.33, 0.33),
    "coronal": (0.43, 0.78, 0.35),
    "sagittal": (0.93, 0.84, 0.33),
}
_LABEL_COLOR = (1.0, 0.85, 0.25)
_MARGIN = 1.06


def text_actor(
    size: int,
    color: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    h: str = "left",
    v: str = "bottom",
    bold: bool = False,
) -> vtkTextActor:
    """A text actor placed in normalised viewport coordinates (set with ``SetPosition``)."""
    actor = vtkTextActor()
    prop = actor.GetTextProperty()
    prop.SetFontSize(int(size))
    prop.SetColor(*color)
    prop.SetBold(bold)
    prop.ShadowOn()
    getattr(
        prop, "SetJustificationTo" + {"left": "Left", "center": "Centered", "right": "Right"}[h]
    )()
    getattr(
        prop,
        "SetVerticalJustificationTo" + {"bottom": "Bottom", "center": "Centered", "top": "Top"}[v],
    )()
    actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    return actor


class SliceView:
    """A renderer showing one orthogonal plane of the viewer's volume.

    Parameters
    ----------
    plane : {"axial", "coronal", "sagittal"}
    logic : ViewerLogic
        The shared state (cursor, window).
    """

    def __init__(self, plane: str, logic: ViewerLogic) -> None:
        self.plane = plane
        self.logic = logic
        self.interpolation = "linear"
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        self.slice: Slice | None = None
        self._offset: float | None = None
        self._image = vtkImageData()
        self._mapper = vtkImageSliceMapper()
        self._mapper.SetInputData(self._image)
        self.property = vtkImageProperty()
        self.property.SetInterpolationTypeToLinear()
        self.actor = vtkImageSlice()
        self.actor.SetMapper(self._mapper)
        self.actor.SetProperty(self.property)
        self.renderer.AddViewProp(self.actor)
        self.zoom = 1.0
        self.pan = np.zeros(2)
        # Crosshair: for each other plane, two segments (a gap around the cursor).
        self._cross: dict[str, tuple[vtkPoints, vtkPolyData]] = {}
        for other in VIEW_NAMES:
            if other == plane:
                continue
            points = vtkPoints()
            points.SetNumberOfPoints(4)
            lines = vtkCellArray()
            for a, b in ((0, 1), (2, 3)):
                lines.InsertNextCell(2)
                lines.InsertCellPoint(a)
                lines.InsertCellPoint(b)
            poly = vtkPolyData()
            poly.SetPoints(points)
            poly.SetLines(lines)
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(poly)
            line = vtkActor()
            line.SetMapper(mapper)
            line.GetProperty().SetColor(*PLANE_COLORS[other])
            line.GetProperty().SetLineWidth(1.5)
            line.PickableOff()
            self.renderer.AddActor(line)
            self._cross[other] = (points, poly)
        self.labels: dict[str, vtkTextActor] = {}
        self.title = text_actor(12, PLANE_COLORS[plane], h="left", v="top", bold=True)
        self.title.SetPosition(0.012, 0.985)
        self.window_text = text_actor(11, (0.85, 0.85, 0.85), h="left", v="bottom")
        self.window_text.SetPosition(0.012, 0.012)
        self.renderer.AddViewProp(self.title)
        self.renderer.AddViewProp(self.window_text)
        for edge, (x, y, h, v) in {
            "left": (0.012, 0.5, "left", "center"),
            "right": (0.988, 0.5, "right", "center"),
            "top": (0.5, 0.985, "center", "top"),
            "bottom": (0.5, 0.012, "center", "bottom"),
        }.items():
            label = text_actor(14, _LABEL_COLOR, h=h, v=v, bold=True)
            label.SetPosition(x, y)
            self.labels[edge] = label
            self.renderer.AddViewProp(label)

    # ------------------------------------------------------------ geometry
    @property
    def height_mm(self) -> float:
        """y of pixel row 0 (the top row) in view coordinates."""
        assert self.slice is not None
        return (self.slice.shape[0] - 1) * self.slice.spacing[0]

    def world_to_view(self, point: ArrayLike) -> NDArray[np.float64]:
        """(x, y) view millimetres of an LPS point projected on the plane."""
        assert self.slice is not None
        r, c = self.slice.world_to_pixel(point)
        return np.array([c * self.slice.spacing[1], self.height_mm - r * self.slice.spacing[0]])

    def view_to_world(self, x: float, y: float) -> NDArray[np.float64]:
        """LPS point in the plane shown at view millimetres (x, y)."""
        assert self.slice is not None
        s = self.slice
        return s.origin + x * s.column_direction + (self.height_mm - y) * s.row_direction

    def display_to_world(self, x: float, y: float) -> NDArray[np.float64]:
        """LPS point under display pixel (x, y) (VTK display coordinates, y up)."""
        renderer = self.renderer
        renderer.SetDisplayPoint(float(x), float(y), 0.0)
        renderer.DisplayToWorld()
        wx, wy, _, w = renderer.GetWorldPoint()
        if w:
            wx, wy = wx / w, wy / w
        return self.view_to_world(wx, wy)

    def world_to_display(self, point: ArrayLike) -> NDArray[np.float64]:
        """Display pixel (x, y), y up, where an LPS point is shown."""
        vx, vy = self.world_to_view(point)
        renderer = self.renderer
        renderer.SetWorldPoint(float(vx), float(vy), 0.0, 1.0)
        renderer.WorldToDisplay()
        x, y, _ = renderer.GetDisplayPoint()
        return np.array([x, y])

    # ------------------------------------------------------------ updates
    def update(self, *, force: bool = False) -> bool:
        """Follow the logic's cursor and window; returns True when the plane was resampled."""
        logic = self.logic
        offset = float(logic.cursor @ np.asarray(plane_normal(self.plane)))
        resampled = False
        if force or self.slice is None or self._offset is None or abs(offset - self._offset) > 1e-6:
            self._resample()
            self._offset = offset
            resampled = True
        self._update_crosshair()
        window = logic.window
        self.property.SetColorWindow(window.width)
        self.property.SetColorLevel(window.center)
        self.title.SetInput(logic.slice_title(self.plane))
        self.window_text.SetInput(f"W{window.width:g} L{window.center:g}")
        return resampled

    def _resample(self) -> None:
        logic = self.logic
        first = self.slice is None
        s = reslice(
            logic.volume,
            self.plane,
            point=logic.cursor,
            interpolation=self.interpolation,  # type: ignore[arg-type]
            fill=logic.fill,
        )
        self.slice = s
        rows, cols = s.shape
        # VTK's y axis points up: rows bottom-first so pixel row 0 is drawn on top.
        flat = np.ascontiguousarray(s.pixels[::-1]).reshape(-1)
        image = self._image
        if first or image.GetDimensions() != (cols, rows, 1):
            image.SetDimensions(cols, rows, 1)
            image.SetSpacing(s.spacing[1], s.spacing[0], 1.0)
            image.SetOrigin(0.0, 0.0, 0.0)
        scalars = numpy_support.numpy_to_vtk(flat, deep=False)
        image.GetPointData().SetScalars(scalars)
        image._medvis_numpy_owner = flat  # type: ignore[attr-defined]
        image.Modified()
        if first:
            for edge, label in self.labels.items():
                label.SetInput(s.labels[edge])
            self.reset_camera()

    def set_interpolation(self, mode: str) -> None:
        """Sample (and draw) the plane with "nearest" or "linear" interpolation."""
        self.interpolation = mode
        if mode == "nearest":
            self.property.SetInterpolationTypeToNearest()
        else:
            self.property.SetInterpolationTypeToLinear()
        self.update(force=True)

    def _update_crosshair(self) -> None:
        assert self.slice is not None
        logic = self.logic
        cx, cy = self.world_to_view(logic.cursor)
        width = (self.slice.shape[1] - 1) * self.slice.spacing[1]
        height = self.height_mm
        gap = 0.03 * max(width, height)
        own = plane_normal(self.plane)
        for other, (points, poly) in self._cross.items():
            # The other plane meets this one along a line through the cursor.
            along = np.cross(own, plane_normal(other))
            dx, dy = self.world_to_view(logic.cursor + along) - np.array([cx, cy])
            length = float(np.hypot(dx, dy)) or 1.0
            dx, dy = dx / length, dy / length
            reach = 2.0 * (width + height)
            for index, (a, b) in enumerate(((-reach, -gap), (gap, reach))):
                points.SetPoint(2 * index, cx + a * dx, cy + a * dy, 0.5)
                points.SetPoint(2 * index + 1, cx + b * dx, cy + b * dy, 0.5)
            points.Modified()
            poly.Modified()

    # ------------------------------------------------------------ camera
    def reset_camera(self) -> None:
        """Fit the whole plane in the view (true aspect), undoing zoom and pan."""
        self.zoom = 1.0
        self.pan = np.zeros(2)
        self.apply_camera()

    def apply_camera(self) -> None:
        """Place the parallel camera for the current zoom and pan."""
        if self.slice is None:
            return
        rows, cols = self.slice.shape
        width = cols * self.slice.spacing[1]
        height = rows * self.slice.spacing[0]
        window = self.renderer.GetRenderWindow()
        x0, y0, x1, y1 = self.renderer.GetViewport()
        if window is not None:
            size_x, size_y = window.GetSize()
            aspect = max(1e-6, (x1 - x0) * size_x) / max(1e-6, (y1 - y0) * size_y)
        else:
            aspect = 1.0
        scale = max(height / 2.0, width / 2.0 / aspect) * _MARGIN / self.zoom
        centre = np.array([(cols - 1) * self.slice.spacing[1], self.height_mm]) / 2.0 + self.pan
        camera = self.renderer.GetActiveCamera()
        camera.ParallelProjectionOn()
        camera.SetFocalPoint(centre[0], centre[1], 0.0)
        camera.SetPosition(centre[0], centre[1], 500.0)
        camera.SetViewUp(0.0, 1.0, 0.0)
        camera.SetParallelScale(scale)
        self.renderer.ResetCameraClippingRange(-1, 1 + width, -1, 1 + height, -1.0, 1.0)

    def mm_per_pixel(self) -> float:
        """Display scale: millimetres per screen pixel."""
        window = self.renderer.GetRenderWindow()
        _, y0, _, y1 = self.renderer.GetViewport()
        height_px = max(1.0, (y1 - y0) * window.GetSize()[1]) if window is not None else 1.0
        return 2.0 * self.renderer.GetActiveCamera().GetParallelScale() / height_px

    def set_font_sizes(self, base: int) -> None:
        """Scale the texts with the window."""
        self.title.GetTextProperty().SetFontSize(base)
        self.window_text.GetTextProperty().SetFontSize(max(8, base - 1))
        for label in self.labels.values():
            label.GetTextProperty().SetFontSize(base + 2)
