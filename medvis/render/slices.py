"""Slice images: windowed planes with anatomical labels, side by side in one picture."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkRenderingCore import vtkImageActor, vtkRenderer, vtkTextActor

from medvis.pipeline.reslice import Slice, reslice
from medvis.pipeline.windowing import WindowSpec, apply_window, resolve_window
from medvis.render._window import ErrorCatcher, capture, new_window
from medvis.render.montage import MARGIN, Montage, Panel, plane_title
from medvis.volume import Volume

__all__ = ["Montage", "Panel", "render_slices"]

_LABEL_COLOR = (1.0, 0.85, 0.25)


def _text(
    text: str, size: int, x: float, y: float, *, h: str = "center", v: str = "center"
) -> vtkTextActor:
    actor = vtkTextActor()
    actor.SetInput(text)
    prop = actor.GetTextProperty()
    prop.SetFontSize(size)
    prop.SetColor(*_LABEL_COLOR)
    prop.SetBold(True)
    prop.ShadowOn()
    names = {
        "center": "Centered",
        "left": "Left",
        "right": "Right",
        "top": "Top",
        "bottom": "Bottom",
    }
    getattr(prop, "SetJustificationTo" + names[h])()
    getattr(prop, "SetVerticalJustificationTo" + names[v])()
    actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    actor.GetPositionCoordinate().SetValue(x, y)
    return actor


def render_slices(
    volume: Volume,
    *,
    window: WindowSpec = "auto",
    point: ArrayLike | None = None,
    planes: Sequence[str | Slice] = ("axial", "coronal", "sagittal"),
    panel_size: Sequence[int] = (256, 256),
    interpolation: str = "linear",
    labels: bool = True,
    titles: bool = True,
    background: Sequence[float] = (0.0, 0.0, 0.0),
    frame: int = 0,
) -> Montage:
    """Render planes of a volume side by side, windowed, with L/R/A/P/S/I labels.

    Parameters
    ----------
    volume : Volume
        Any geometry.
    window : str, (width, center), WindowLevel or None
        "lung", "mediastinum", "soft_tissue", "bone", "brain", "file", "auto" (the file's
        window, else the 1st-99th percentiles) or an explicit window.
    point : array-like, optional
        LPS point the planes pass through (centre of the volume by default).
    planes : sequence
        Plane names, or :class:`~medvis.pipeline.reslice.Slice` objects (e.g. oblique).
    panel_size : (width, height)
        Size of each panel in pixels; the montage is ``len(planes)`` panels wide.
    interpolation : {"nearest", "linear", "cubic"}
        Sampling of the planes.
    labels, titles : bool
        Patient-direction letters at the panel edges; plane name and position on top.

    Returns
    -------
    Montage
        ``montage.rgb`` (H, W, 3) uint8 and per-panel geometry. Every panel keeps the
        plane's true aspect ratio (square display pixels, mm scale equal on both axes).
    """
    chosen = resolve_window(window, metadata=volume.metadata, array=volume.array)
    slices = [
        p
        if isinstance(p, Slice)
        else reslice(volume, p, point=point, interpolation=interpolation, frame=frame)  # type: ignore[arg-type]
        for p in planes
    ]
    pw, ph = (int(v) for v in panel_size)
    count = len(slices)
    render_window = new_window(pw * count, ph)
    errors = ErrorCatcher()
    errors.watch(render_window)
    font = max(9, ph // 14)
    panels = []
    keep = []
    for index, slice_ in enumerate(slices):
        grey = apply_window(
            slice_.pixels if slice_.pixels.ndim == 2 else slice_.pixels[..., 0], chosen
        )
        rows, cols = grey.shape
        row_mm, col_mm = slice_.spacing
        image = vtkImageData()
        image.SetDimensions(cols, rows, 1)
        image.SetSpacing(col_mm, row_mm, 1.0)
        # VTK's y axis points up: feed the rows bottom-first so row 0 is drawn on top.
        flat = np.ascontiguousarray(grey[::-1]).reshape(-1)
        image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(flat, deep=True))
        actor = vtkImageActor()
        actor.GetMapper().SetInputData(image)
        if interpolation == "nearest":
            actor.GetProperty().SetInterpolationTypeToNearest()
        else:
            actor.GetProperty().SetInterpolationTypeToLinear()
        renderer = vtkRenderer()
        renderer.SetBackground(*background)
        renderer.SetViewport(index / count, 0.0, (index + 1) / count, 1.0)
        renderer.AddActor(actor)
        half_h = rows * row_mm / 2.0
        half_w = cols * col_mm / 2.0
        scale = max(half_h, half_w * ph / pw) * MARGIN
        centre = ((cols - 1) * col_mm / 2.0, (rows - 1) * row_mm / 2.0)
        camera = renderer.GetActiveCamera()
        camera.ParallelProjectionOn()
        camera.SetFocalPoint(centre[0], centre[1], 0.0)
        camera.SetPosition(centre[0], centre[1], 100.0)
        camera.SetViewUp(0.0, 1.0, 0.0)
        camera.SetParallelScale(scale)
        renderer.ResetCameraClippingRange()
        edge = 0.035
        if labels:
            renderer.AddViewProp(_text(slice_.labels["left"], font, edge, 0.5, h="left"))
            renderer.AddViewProp(_text(slice_.labels["right"], font, 1 - edge, 0.5, h="right"))
            renderer.AddViewProp(_text(slice_.labels["top"], font, 0.5, 1 - edge, v="top"))
            renderer.AddViewProp(_text(slice_.labels["bottom"], font, 0.5, edge, v="bottom"))
        if titles:
            small = max(8, font * 2 // 3)
            renderer.AddViewProp(_text(plane_title(slice_), small, 0.015, 0.985, h="left", v="top"))
            window_text = f"W{chosen.width:g} L{chosen.center:g}"
            renderer.AddViewProp(_text(window_text, small, 0.015, 0.015, h="left", v="bottom"))
        render_window.AddRenderer(renderer)
        keep.append(image)
        panels.append(Panel(slice_, chosen, (0, index * pw, ph, pw), ph / (2.0 * scale)))
    render_window.Render()
    rgb = capture(render_window)
    errors.check("rendering the slice montage failed")
    render_window.Finalize()
    return Montage(rgb=rgb, panels=tuple(panels))
