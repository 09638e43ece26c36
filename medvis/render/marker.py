"""Orientation markers for 3-D pictures: a cube labelled with the patient's directions.

Two forms that look alike (faces coloured by axis, letters L/R/A/P/S/I):

* :class:`OrientationMarker`, VTK's ``vtkAnnotatedCubeActor`` in its own renderer in a
  corner viewport, for the interactive window (its camera copies the main camera's
  orientation before every frame);
* :func:`draw_orientation_cube`, the same cube painted into a finished RGB image with
  numpy under a parallel projection, for offscreen pictures. It needs no OpenGL, so a
  volume picture from the CPU ray caster stays free of an OpenGL context (see
  :mod:`medvis.render.software_raycast`). Letters are drawn by VTK's FreeType renderer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from vtkmodules.vtkRenderingAnnotation import vtkAnnotatedCubeActor
from vtkmodules.vtkRenderingCore import vtkCamera, vtkRenderer

from medvis.render.glyphs import text_coverage

__all__ = ["OrientationMarker", "draw_orientation_cube"]

# LPS: +x Left, +y Posterior, +z Superior.
_FACES = {"XPlus": "L", "XMinus": "R", "YPlus": "P", "YMinus": "A", "ZPlus": "S", "ZMinus": "I"}
_AXIS_COLORS = ((0.95, 0.3, 0.3), (0.3, 0.9, 0.3), (0.35, 0.5, 1.0))
_EDGE_COLOR = (0.2, 0.22, 0.26)
_LETTER_COLOR = (0.97, 0.97, 0.97)


class OrientationMarker:
    """A labelled cube in a corner of the window that turns with the main camera.

    Parameters
    ----------
    main : vtkRenderer
        The renderer whose camera the marker follows.
    viewport : tuple of 4 floats
        Normalised (xmin, ymin, xmax, ymax) of the corner; lower left by default.
    """

    def __init__(
        self, main: vtkRenderer, viewport: tuple[float, float, float, float] = (0.0, 0.0, 0.2, 0.2)
    ) -> None:
        self.main = main
        cube = vtkAnnotatedCubeActor()
        for face, letter in _FACES.items():
            getattr(cube, f"Set{face}FaceText")(letter)
        cube.SetFaceTextScale(0.6)
        cube.GetCubeProperty().SetColor(0.55, 0.6, 0.7)
        cube.GetTextEdgesProperty().SetColor(0.9, 0.9, 0.9)
        cube.GetTextEdgesProperty().SetLineWidth(1.0)
        for face, color in zip("XYZ", _AXIS_COLORS, strict=True):
            for sign in ("Plus", "Minus"):
                getattr(cube, f"Get{face}{sign}FaceProperty")().SetColor(*color)
        self.actor = cube
        self.renderer = vtkRenderer()
        self.renderer.SetViewport(*viewport)
        self.renderer.SetLayer(1)
        self.renderer.InteractiveOff()
        self.renderer.AddActor(cube)

    def sync(self) -> None:
        """Give the marker's camera the main camera's viewing direction and view-up."""
        main = self.main.GetActiveCamera()
        direction = np.asarray(main.GetDirectionOfProjection(), float)
        camera = self.renderer.GetActiveCamera()
        camera.SetFocalPoint(0.0, 0.0, 0.0)
        camera.SetPosition(*(-direction * 4.0))
        camera.SetViewUp(*main.GetViewUp())
        camera.SetParallelProjection(True)
        self.renderer.ResetCamera()
        camera.SetParallelScale(1.0)
        self.renderer.ResetCameraClippingRange()


#: (outward normal, letter, letter's up direction on the face), LPS.
_CUBE_FACES = (
    ((1.0, 0.0, 0.0), "L", (0.0, 0.0, 1.0)),
    ((-1.0, 0.0, 0.0), "R", (0.0, 0.0, 1.0)),
    ((0.0, 1.0, 0.0), "P", (0.0, 0.0, 1.0)),
    ((0.0, -1.0, 0.0), "A", (0.0, 0.0, 1.0)),
    ((0.0, 0.0, 1.0), "S", (0.0, -1.0, 0.0)),
    ((0.0, 0.0, -1.0), "I", (0.0, -1.0, 0.0)),
)
_SUPERSAMPLE = 3


def _glyph(letter: str) -> NDArray[np.float32]:
    """Coverage (rows bottom-up, values 0..1) of ``letter`` in a bold sans-serif font."""
    return text_coverage(letter, 48)[::-1]


def _letter_coverage(letter: str, a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray:
    """Coverage of ``letter`` at face coordinates (a right, b up, both 0..1)."""
    glyph = _glyph(letter)
    height, width = glyph.shape
    tall = 0.62  # letter height as a fraction of the face
    wide = tall * width / height
    u = (a - (0.5 - wide / 2)) / wide
    v = (b - (0.5 - tall / 2)) / tall
    inside = (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
    col = np.clip((u * width).astype(np.intp), 0, width - 1)
    row = np.clip((v * height).astype(np.intp), 0, height - 1)
    return np.where(inside, glyph[row, col], 0.0)


def draw_orientation_cube(
    rgb: NDArray[np.uint8],
    camera: vtkCamera,
    *,
    viewport: Sequence[float] = (0.0, 0.0, 0.2, 0.2),
) -> None:
    """Paint the labelled cube, turned as ``camera`` sees the world, into ``rgb`` in place.

    Parameters
    ----------
    rgb : ndarray
        (height, width, 3) uint8 picture, row 0 on top.
    camera : vtkCamera
        The picture's camera; only its direction and view-up matter (the cube is drawn
        with a parallel projection, as VTK's orientation marker).
    viewport : (xmin, ymin, xmax, ymax)
        Normalised corner the cube is drawn in (lower left by default); the cube's box
        is the largest square inside it.
    """
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in viewport)
    side = int(min((x1 - x0) * width, (y1 - y0) * height))
    if side < 8:
        return
    left = round(x0 * width)
    top = height - round(y0 * height) - side
    towards = np.asarray(camera.GetDirectionOfProjection(), float)
    towards /= np.linalg.norm(towards)
    up = np.asarray(camera.GetViewUp(), float)
    up = up - towards * (up @ towards)
    up /= np.linalg.norm(up)
    right = np.cross(towards, up)

    n = side * _SUPERSAMPLE
    centres = ((np.arange(n) + 0.5) / n * 2.0 - 1.0).astype(np.float32)  # box spans -1..1
    color = np.zeros((n, n, 3), np.float32)
    coverage = np.zeros((n, n), np.float32)
    for normal_t, letter, letter_up_t in _CUBE_FACES:
        normal, letter_up = np.asarray(normal_t), np.asarray(letter_up_t)
        facing = float(normal @ towards)
        if facing > -1e-3:  # turned away, or seen edge-on
            continue
        letter_right = np.cross(-normal, letter_up)  # as seen from outside the face
        centre = 0.5 * normal
        # Screen position = centre's + M @ (a - 0.5, b - 0.5) for face coordinates a, b.
        matrix = np.array(
            [[letter_right @ right, letter_up @ right], [letter_right @ up, letter_up @ up]]
        )
        inverse = np.linalg.inv(matrix)
        # Only the grid cells under the face's projected corners need looking at.
        corners = np.array([[sa, sb] for sa in (-0.5, 0.5) for sb in (-0.5, 0.5)]) @ matrix.T
        corners += [centre @ right, centre @ up]
        grid_x = np.clip((corners[:, 0] + 1) / 2 * n, 0, n)
        grid_y = np.clip((1 - corners[:, 1]) / 2 * n, 0, n)  # rows run downwards
        cols_ = slice(int(grid_x.min()), int(np.ceil(grid_x.max())))
        rows_ = slice(int(grid_y.min()), int(np.ceil(grid_y.max())))
        dx = centres[np.newaxis, cols_] - np.float32(centre @ right)
        dy = -centres[rows_, np.newaxis] - np.float32(centre @ up)  # rows run downwards
        a = inverse[0, 0] * dx + inverse[0, 1] * dy + 0.5
        b = inverse[1, 0] * dx + inverse[1, 1] * dy + 0.5
        rows, cols = np.nonzero((a >= 0) & (a <= 1) & (b >= 0) & (b <= 1))
        if not rows.size:
            continue
        a, b = a[rows, cols], b[rows, cols]
        shade = 0.45 + 0.55 * -facing
        face = np.asarray(_AXIS_COLORS[int(np.argmax(np.abs(normal)))]) * shade
        edge = np.minimum(np.minimum(a, 1 - a), np.minimum(b, 1 - b)) < 0.035
        ink = _letter_coverage(letter, a, b)[:, np.newaxis]
        painted = np.where(edge[:, np.newaxis], _EDGE_COLOR, face)
        rows += rows_.start
        cols += cols_.start
        color[rows, cols] = painted * (1 - ink) + np.asarray(_LETTER_COLOR) * ink
        coverage[rows, cols] = 1.0
    # Average each supersampled block: anti-aliased edges, then blend into the picture.
    scale = 1.0 / _SUPERSAMPLE**2
    color = color.reshape(side, _SUPERSAMPLE, n, 3).sum(axis=1)
    color = color.reshape(side, side, _SUPERSAMPLE, 3).sum(axis=2) * scale
    coverage = coverage.reshape(side, _SUPERSAMPLE, n).sum(axis=1)
    coverage = coverage.reshape(side, side, _SUPERSAMPLE).sum(axis=2) * scale
    box = rgb[top : top + side, left : left + side].astype(np.float32) / 255.0
    box = box * (1 - coverage[..., np.newaxis]) + color  # color is premultiplied by coverage
    rgb[top : top + side, left : left + side] = np.clip(box * 255 + 0.5, 0, 255).astype(np.uint8)
