"""Mouse and keyboard of the viewer window: what each button, drag and wheel does.

In the 3-D view every event is handed to the trackball camera style (rotate, pan,
zoom); in a slice view the left button moves the cursor, the middle one pans, the right
one drags the window/level, the wheel scrolls slices (with Ctrl: zooms). The view under
the pointer is remembered, so keys act on it (:meth:`Viewer.key`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Mouse"]


class Mouse:
    """The pointer's state (the view under it, the drag in progress) and its handlers.

    Parameters
    ----------
    viewer : medvis.render.viewer.app.Viewer
        The window whose views and actions the events drive (not imported here: the
        window imports this module, and the arrows of the house run one way).
    """

    def __init__(self, viewer: Any) -> None:
        self.viewer = viewer
        self.hover = "axial"
        self.drag: dict[str, Any] | None = None

    def handlers(self) -> dict[str, Callable[..., None]]:
        """VTK event name -> handler, for the interactor style's observers."""
        return {
            "LeftButtonPressEvent": self.left_down,
            "LeftButtonReleaseEvent": self.button_up,
            "MiddleButtonPressEvent": self.middle_down,
            "MiddleButtonReleaseEvent": self.button_up,
            "RightButtonPressEvent": self.right_down,
            "RightButtonReleaseEvent": self.button_up,
            "MouseMoveEvent": self.move,
            "MouseWheelForwardEvent": self.wheel_forward,
            "MouseWheelBackwardEvent": self.wheel_backward,
            "KeyPressEvent": self.key_press,
            "CharEvent": self.ignore,
            "KeyReleaseEvent": self.ignore,
        }

    def _position(self) -> tuple[int, int]:
        x, y = self.viewer.interactor.GetEventPosition()
        return int(x), int(y)

    def ignore(self, *_: Any) -> None:
        """Swallow the event (the trackball style's own key bindings stay off)."""
        return None

    def _press(self, button: str, style_down: Callable[[], None]) -> str | None:
        """Start a 3-D drag where the press is in the 3-D view; returns the view pressed."""
        x, y = self._position()
        where = self.viewer.view_at(x, y)
        if where == "3d":
            self.viewer.interacting()
            self.drag = {"kind": "3d", "button": button}
            style_down()
        return where

    def left_down(self, *_: Any) -> None:
        """Slice view: put the cursor there and keep following the pointer."""
        where = self._press("left", self.viewer.style.OnLeftButtonDown)
        if where is not None and where in self.viewer.views:
            x, y = self._position()
            self.hover = where
            self.drag = {"kind": "cursor", "view": where}
            self.viewer.click(where, x, y)

    def middle_down(self, *_: Any) -> None:
        """Slice view: start panning."""
        where = self._press("middle", self.viewer.style.OnMiddleButtonDown)
        if where in self.viewer.views:
            view = self.viewer.views[where]
            self.drag = {
                "kind": "pan",
                "view": where,
                "start": self._position(),
                "pan": view.pan.copy(),
            }

    def right_down(self, *_: Any) -> None:
        """Slice view: start dragging the window/level."""
        where = self._press("right", self.viewer.style.OnRightButtonDown)
        if where in self.viewer.views:
            self.drag = {
                "kind": "window",
                "view": where,
                "start": self._position(),
                "window": self.viewer.logic.window,
            }

    def button_up(self, *_: Any) -> None:
        """End the drag (and the 3-D style's)."""
        drag, self.drag = self.drag, None
        if drag is None:
            return
        style = self.viewer.style
        if drag["kind"] == "3d":
            {
                "left": style.OnLeftButtonUp,
                "middle": style.OnMiddleButtonUp,
                "right": style.OnRightButtonUp,
            }[drag["button"]]()
        self.viewer.last_interaction = time.monotonic()

    def move(self, *_: Any) -> None:
        """Follow the drag in progress, or remember the view under the pointer."""
        viewer = self.viewer
        x, y = self._position()
        drag = self.drag
        if drag is None:
            where = viewer.view_at(x, y)
            if where in viewer.views:
                self.hover = where
            return
        kind = drag["kind"]
        if kind == "3d":
            viewer.interacting()
            start = time.perf_counter()
            viewer.refresh()
            viewer.view3d.marker.sync()
            viewer.style.OnMouseMove()  # the style rotates/pans/zooms and draws
            viewer.frames.append(("rotate-3d", "interactive", time.perf_counter() - start))
        elif kind == "cursor":
            viewer.click(drag["view"], x, y)
        elif kind == "window":
            viewer.interacting()
            _left, _top, width, height = viewer.viewport_pixels(drag["view"])
            dx, dy = x - drag["start"][0], y - drag["start"][1]
            viewer.logic.drag_window(drag["window"], dx, dy, view_size=(width, height))
            viewer.render("window-drag")
        elif kind == "pan":
            viewer.interacting()
            view = viewer.views[drag["view"]]
            scale = view.mm_per_pixel()
            view.pan = drag["pan"] - np.array([x - drag["start"][0], y - drag["start"][1]]) * scale
            view.apply_camera()
            viewer.render("pan")

    def _wheel(self, count: int, forward: Callable[[], None]) -> None:
        viewer = self.viewer
        x, y = self._position()
        where = viewer.view_at(x, y)
        if where == "3d":
            viewer.interacting()
            start = time.perf_counter()
            viewer.refresh()
            forward()
            viewer.frames.append(("zoom-3d", "interactive", time.perf_counter() - start))
        elif where in viewer.views:
            self.hover = where
            if viewer.interactor.GetControlKey():
                viewer.zoom(where, 1.15 if count > 0 else 1 / 1.15)
            else:
                viewer.scroll(where, count)

    def wheel_forward(self, *_: Any) -> None:
        """Next slice (Ctrl: zoom in); in 3-D, the style's zoom."""
        self._wheel(1, self.viewer.style.OnMouseWheelForward)

    def wheel_backward(self, *_: Any) -> None:
        """Previous slice (Ctrl: zoom out); in 3-D, the style's zoom."""
        self._wheel(-1, self.viewer.style.OnMouseWheelBackward)

    def key_press(self, *_: Any) -> None:
        """A key acts on the view under the pointer."""
        x, y = self._position()
        where = self.viewer.view_at(x, y)
        if where in self.viewer.views:
            self.hover = where
        self.viewer.key(str(self.viewer.interactor.GetKeySym() or ""))
