"""An orientation marker for 3-D renders: a cube labelled with patient directions.

Offscreen there is no interactor for ``vtkOrientationMarkerWidget``, so the cube lives
in its own renderer on an upper layer in a corner viewport, and its camera copies the
main camera's orientation before every frame.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkRenderingAnnotation import vtkAnnotatedCubeActor
from vtkmodules.vtkRenderingCore import vtkRenderer

__all__ = ["OrientationMarker"]

# LPS: +x Left, +y Posterior, +z Superior.
_FACES = {"XPlus": "L", "XMinus": "R", "YPlus": "P", "YMinus": "A", "ZPlus": "S", "ZMinus": "I"}


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
        for face, color in (
            ("X", (0.95, 0.3, 0.3)),
            ("Y", (0.3, 0.9, 0.3)),
            ("Z", (0.35, 0.5, 1.0)),
        ):
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
