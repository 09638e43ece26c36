"""The viewer window's text: the status line under the views and the help box over them."""

from __future__ import annotations

from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow

from medvis.render.viewer.logic import KEYS
from medvis.render.viewer.slice_view import text_actor

__all__ = ["Overlays", "help_text"]


def help_text() -> str:
    """The help overlay's text."""
    width = max(len(keys) for keys, _ in KEYS)
    lines = ["medvis view - keys and mouse", ""]
    lines += [f"{keys.ljust(width)}   {what}" for keys, what in KEYS]
    lines += ["", "press h to close"]
    return "\n".join(lines)


class Overlays:
    """The status line (its own strip at the bottom) and the help box (a layer on top).

    Attributes
    ----------
    status, help : vtkTextActor
        The two texts (``status.GetInput()``, ``help.GetVisibility()``).
    """

    def __init__(self, window: vtkRenderWindow) -> None:
        self.window = window
        self._status_renderer = vtkRenderer()
        self._status_renderer.SetBackground(0.1, 0.1, 0.12)
        self._status_renderer.InteractiveOff()
        self.status = text_actor(12, (0.92, 0.92, 0.92), h="left", v="center")
        self.status.SetPosition(0.006, 0.5)
        self._status_renderer.AddViewProp(self.status)
        window.AddRenderer(self._status_renderer)

        self._help_renderer = vtkRenderer()
        self._help_renderer.SetLayer(1)
        self._help_renderer.InteractiveOff()
        self.help = text_actor(13, (1.0, 1.0, 1.0), h="left", v="bottom")
        self.help.GetPositionCoordinate().SetCoordinateSystemToDisplay()
        help_prop = self.help.GetTextProperty()
        help_prop.SetFontFamilyToCourier()
        help_prop.SetBackgroundColor(0.05, 0.06, 0.08)
        help_prop.SetBackgroundOpacity(0.88)
        help_prop.SetFrame(True)
        help_prop.SetFrameColor(0.6, 0.6, 0.6)
        help_prop.ShadowOff()
        self.help.SetInput(help_text())
        self.help.SetVisibility(False)
        self._help_renderer.AddViewProp(self.help)

    def add_help_layer(self) -> None:
        """Add the help box's renderer (after the views', so it is drawn over them)."""
        self.window.AddRenderer(self._help_renderer)

    def layout(self, status_height: float, font: int) -> None:
        """Place the status strip (``status_height`` of the window) and size the texts."""
        self._status_renderer.SetViewport(0.0, 0.0, 1.0, status_height)
        self._help_renderer.SetViewport(0.0, 0.0, 1.0, 1.0)
        self.status.GetTextProperty().SetFontSize(font)
        self.help.GetTextProperty().SetFontSize(max(10, font))
        self.place_help()

    def place_help(self) -> None:
        """Centre the help box's left-aligned lines in the window."""
        box = [0.0, 0.0, 0.0, 0.0]
        self.help.GetBoundingBox(self._help_renderer, box)
        width, height = self.window.GetSize()
        self.help.SetPosition((width - (box[1] - box[0])) / 2.0, (height - (box[3] - box[2])) / 2.0)

    def toggle_help(self) -> None:
        """Show or hide the help box."""
        self.help.SetVisibility(not self.help.GetVisibility())
        self.place_help()
