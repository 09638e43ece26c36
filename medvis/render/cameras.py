"""Named anatomical cameras (they mean the patient's directions, in LPS) and projection.

=============  ==========================  ===============  ===========================
name           viewer stands at            view up          image right shows
=============  ==========================  ===============  ===========================
anterior       in front (-y), looks +y     superior (+z)    patient Left
posterior      behind (+y), looks -y       superior (+z)    patient Right
left           at the patient's left (+x)  superior (+z)    Posterior
right          at the patient's right (-x) superior (+z)    Anterior
superior       above the head (+z)         anterior (-y)    patient Right
inferior       below the feet (-z)         anterior (-y)    patient Left (as axial CT)
=============  ==========================  ===============  ===========================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from vtkmodules.vtkRenderingCore import vtkCoordinate, vtkRenderer

from medvis.pipeline.camera_keys import CAMERA_KEYS

__all__ = ["CAMERAS", "CameraSpec", "NamedCamera", "apply_camera", "world_to_pixel"]


@dataclass(frozen=True)
class NamedCamera:
    """Where the viewer is, seen from the object: ``towards`` is the look direction."""

    name: str
    towards: tuple[float, float, float]
    view_up: tuple[float, float, float]


#: The six anatomical views.
CAMERAS: Mapping[str, NamedCamera] = {
    "anterior": NamedCamera("anterior", (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "posterior": NamedCamera("posterior", (0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "left": NamedCamera("left", (-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "right": NamedCamera("right", (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "superior": NamedCamera("superior", (0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
    "inferior": NamedCamera("inferior", (0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
}

CameraSpec = str | Mapping[str, Any] | None


def apply_camera(
    renderer: vtkRenderer,
    spec: CameraSpec,
    bounds: ArrayLike,
    *,
    zoom: float = 1.0,
    parallel: bool = False,
) -> None:
    """Point the renderer's camera as ``spec`` says and fit ``bounds`` in view.

    Parameters
    ----------
    renderer : vtkRenderer
        Its active camera is changed.
    spec : str, mapping or None
        A name from :data:`CAMERAS` (default "anterior"), or a mapping with
        ``view`` (a name), ``position``/``focal_point``/``view_up`` (LPS mm), and
        optional ``azimuth``, ``elevation``, ``roll`` (degrees), ``zoom``, ``parallel``.
    bounds : sequence of 6 floats
        World (LPS) bounds ``(xmin, xmax, ymin, ymax, zmin, zmax)`` to fit.
    zoom : float
        Extra magnification after fitting (> 1 is closer).
    parallel : bool
        Parallel (orthographic) projection instead of perspective.
    """
    options: dict[str, Any] = {}
    if spec is None:
        spec = "anterior"
    if isinstance(spec, str):
        options["view"] = spec
    else:
        options.update(spec)
    known = CAMERA_KEYS
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown camera keys {sorted(unknown)}; known: {sorted(known)}")
    zoom = float(options.get("zoom", zoom))
    parallel = bool(options.get("parallel", parallel))
    b = np.asarray(bounds, float).reshape(3, 2)
    centre = b.mean(axis=1)
    camera = renderer.GetActiveCamera()
    camera.SetParallelProjection(parallel)
    if "position" in options:
        focal = np.asarray(options.get("focal_point", centre), float)
        camera.SetFocalPoint(*focal)
        camera.SetPosition(*np.asarray(options["position"], float))
        camera.SetViewUp(*np.asarray(options.get("view_up", (0.0, 0.0, 1.0)), float))
        camera.OrthogonalizeViewUp()
        renderer.ResetCameraClippingRange(*b.ravel())
    else:
        name = str(options.get("view", "anterior")).lower()
        if name not in CAMERAS:
            raise ValueError(f"unknown camera {name!r}; known: {', '.join(CAMERAS)}")
        named = CAMERAS[name]
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre - np.asarray(named.towards) * 1000.0))
        camera.SetViewUp(*named.view_up)
        for key, turn in (
            ("azimuth", camera.Azimuth),
            ("elevation", camera.Elevation),
            ("roll", camera.Roll),
        ):
            if key in options:
                turn(float(options[key]))
        camera.OrthogonalizeViewUp()
        _fit(renderer, b, np.asarray(named.towards, float))
    if zoom != 1.0:
        camera.Zoom(zoom)
    renderer.ResetCameraClippingRange(*b.ravel())


def _fit(renderer: vtkRenderer, bounds: NDArray[np.float64], towards: NDArray[np.float64]) -> None:
    # Place the camera so the box's projection fills the view (ResetCamera fits the
    # bounding sphere, which leaves a box looking small).
    camera = renderer.GetActiveCamera()
    towards = np.asarray(camera.GetDirectionOfProjection(), float)
    up = np.asarray(camera.GetViewUp(), float)
    right = np.cross(towards, up)
    corners = np.array([[x, y, z] for x in bounds[0] for y in bounds[1] for z in bounds[2]])
    centre = bounds.mean(axis=1)
    rel = corners - centre
    half_w = float(np.abs(rel @ right).max())
    half_h = float(np.abs(rel @ up).max())
    half_d = float(np.abs(rel @ towards).max())
    window = renderer.GetRenderWindow()
    width, height = window.GetSize() if window is not None else (1, 1)
    x0, y0, x1, y1 = renderer.GetViewport()
    aspect = max(1e-6, (x1 - x0) * width) / max(1e-6, (y1 - y0) * height)
    half = max(half_h, half_w / aspect, 1e-6) * 1.05
    angle = np.radians(camera.GetViewAngle())
    distance = half_d + half / np.tan(angle / 2.0)
    camera.SetFocalPoint(*centre)
    camera.SetPosition(*(centre - towards * distance))
    camera.SetParallelScale(half)


def world_to_pixel(renderer: vtkRenderer, point: ArrayLike) -> NDArray[np.float64]:
    """Project an LPS point with the renderer's camera: continuous (row, column) in the
    captured image (row 0 on top), for a renderer filling its window."""
    coordinate = vtkCoordinate()
    coordinate.SetCoordinateSystemToWorld()
    coordinate.SetValue(*np.asarray(point, float).reshape(3))
    x, y = coordinate.GetComputedDoubleDisplayValue(renderer)
    height = renderer.GetRenderWindow().GetSize()[1]
    return np.array([height - y, x], float)
