"""Scripted viewer sessions: a JSON list of actions played by the viewer's timer.

Actions are sent as the same VTK events a person's mouse and keyboard make, so a script
exercises the real event handling; they run one per timer tick (40 ms), in order, after
the window has drawn its first frame. Positions are fractions of a view, from its top
left corner. ::

    [
      {"key": "Up", "view": "axial"},                 # keysym; the mouse is put over the view
      {"key": "3"},
      {"click": [0.25, 0.5], "view": "coronal"},      # left click (default button)
      {"click_world": [90, -60, 80], "view": "axial"}, # click where an LPS point is shown
      {"drag": [[0.5, 0.5], [0.7, 0.4]], "view": "axial", "button": "right", "steps": 6},
      {"scroll": -3, "view": "sagittal"},             # wheel clicks (Ctrl: "ctrl": true)
      {"wait": 0.5},                                  # seconds
      {"settle": true},                               # draw the idle full-quality frame now
      {"screenshot": "out.png"},
      {"state": "state.json", "points": [[90, -60, 80]]},
      {"resize": [900, 700]},                         # as if the user resized the window
      {"quit": true}
    ]

``state`` writes the viewer's state as JSON: cursor, voxel, value, window, preset,
slice positions, each view's pixel box in the screenshot, where the given LPS points
are drawn in each slice view, and the frame times so far.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from medvis.render.viewer.app import Viewer

__all__ = ["Script", "viewer_state"]

_KINDS = (
    "key",
    "click",
    "click_world",
    "drag",
    "scroll",
    "wait",
    "settle",
    "screenshot",
    "state",
    "resize",
    "quit",
)
_BUTTONS = {"left": "LeftButton", "middle": "MiddleButton", "right": "RightButton"}


class Script:
    """Actions for :meth:`medvis.render.viewer.app.Viewer.run`.

    Parameters
    ----------
    actions : sequence of mappings
        See the module docstring.

    Raises
    ------
    ValueError
        An action of an unknown kind.
    """

    def __init__(self, actions: Sequence[Mapping[str, Any]]) -> None:
        for number, action in enumerate(actions):
            if not isinstance(action, Mapping) or not any(k in action for k in _KINDS):
                raise ValueError(f"script action {number} is not one of {_KINDS}: {action!r}")
        self.actions = list(actions)
        self.position = 0
        self._resume_at = 0.0

    @classmethod
    def load(cls, source: str | os.PathLike[str] | Sequence[Mapping[str, Any]]) -> Script:
        """From a JSON file (a list, or ``{"actions": [...]}``) or a list of actions."""
        if isinstance(source, (str, os.PathLike)):
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        else:
            data = source
        if isinstance(data, Mapping):
            data = data.get("actions", [])
        return cls(list(data))

    @property
    def done(self) -> bool:
        """True when every action has run."""
        return self.position >= len(self.actions)

    def tick(self, viewer: Viewer, now: float) -> None:
        """Run the next action if its time has come."""
        if self.done or now < self._resume_at:
            return
        action = self.actions[self.position]
        self.position += 1
        wait = self._run(viewer, action)
        self._resume_at = time.monotonic() + wait

    # ------------------------------------------------------------ actions
    def _run(self, viewer: Viewer, action: Mapping[str, Any]) -> float:
        if "wait" in action:
            return float(action["wait"])
        if "settle" in action:
            viewer.settle()
        elif "key" in action:
            _send_key(viewer, str(action["key"]), action)
        elif "click" in action or "click_world" in action:
            view = str(action.get("view", "axial"))
            if "click_world" in action:
                x, y = viewer.views[view].world_to_display(action["click_world"])
            else:
                x, y = _view_point(viewer, view, action["click"])
            button = _BUTTONS[str(action.get("button", "left"))]
            _mouse(viewer, x, y, button + "PressEvent", action)
            _mouse(viewer, x, y, button + "ReleaseEvent", action)
        elif "drag" in action:
            view = str(action.get("view", "axial"))
            start, end = (np.asarray(p, float) for p in action["drag"])
            steps = max(1, int(action.get("steps", 5)))
            button = _BUTTONS[str(action.get("button", "left"))]
            x, y = _view_point(viewer, view, start)
            _mouse(viewer, x, y, button + "PressEvent", action)
            for step in range(1, steps + 1):
                x, y = _view_point(viewer, view, start + (end - start) * step / steps)
                _mouse(viewer, x, y, "MouseMoveEvent", action)
            _mouse(viewer, x, y, button + "ReleaseEvent", action)
        elif "scroll" in action:
            view = str(action.get("view", "axial"))
            x, y = _view_point(viewer, view, (0.5, 0.5))
            count = int(action["scroll"])
            event = "MouseWheelForwardEvent" if count > 0 else "MouseWheelBackwardEvent"
            for _ in range(abs(count)):
                _mouse(viewer, x, y, event, action)
        elif "screenshot" in action:
            viewer.screenshot(action["screenshot"])
        elif "state" in action:
            state = viewer_state(viewer, points=action.get("points", ()))
            target = Path(action["state"])
            target.write_text(json.dumps(state, indent=1), encoding="utf-8")
        elif "resize" in action:
            width, height = (int(v) for v in action["resize"])
            viewer.window.SetSize(width, height)
            viewer.window.Render()  # the window manager's ConfigureEvent re-lays it out
        elif "quit" in action:
            viewer.quit()
        return float(action.get("then_wait", 0.0))


def _view_point(viewer: Viewer, view: str, fraction: Any) -> tuple[int, int]:
    # Fractions from the view's top left -> VTK display pixel (y up).
    left, top, width, height = viewer.viewport_pixels(view)
    _, window_h = viewer.window.GetSize()
    col = left + float(fraction[0]) * (width - 1)
    row = top + float(fraction[1]) * (height - 1)
    return round(col), round(window_h - 1 - row)


def _mouse(viewer: Viewer, x: float, y: float, event: str, action: Mapping[str, Any]) -> None:
    ctrl, shift = int(bool(action.get("ctrl"))), int(bool(action.get("shift")))
    viewer.interactor.SetEventInformation(int(x), int(y), ctrl, shift, chr(0), 0, "")
    viewer.interactor.InvokeEvent(event)


def _send_key(viewer: Viewer, sym: str, action: Mapping[str, Any]) -> None:
    view = action.get("view")
    if view is not None:
        x, y = _view_point(viewer, str(view), (0.5, 0.5))
    else:
        x, y = viewer.interactor.GetEventPosition()
    char = sym if len(sym) == 1 else chr(0)
    shift = int(bool(action.get("shift")) or (len(sym) == 1 and sym.isupper()))
    ctrl = int(bool(action.get("ctrl")))
    for event in ("KeyPressEvent", "CharEvent", "KeyReleaseEvent"):
        viewer.interactor.SetEventInformation(int(x), int(y), ctrl, shift, char, 0, sym)
        viewer.interactor.InvokeEvent(event)


def viewer_state(viewer: Viewer, *, points: Sequence[Sequence[float]] = ()) -> dict[str, Any]:
    """The viewer's state as plain JSON-able data (see the module docstring)."""
    logic = viewer.logic
    (i, j, k), value = logic.voxel()
    _, window_h = viewer.window.GetSize()
    views: dict[str, Any] = {"3d": {"box": viewer.viewport_pixels("3d")}}
    for plane, view in viewer.views.items():
        position = logic.slice_position(plane)
        projected = []
        for point in points:
            x, y = view.world_to_display(point)
            projected.append([float(window_h - 1 - y), float(x)])  # (row, col), row 0 on top
        views[plane] = {
            "box": viewer.viewport_pixels(plane),
            "index": position.index,
            "count": position.count,
            "offset_mm": position.offset,
            "labels": dict(view.slice.labels) if view.slice is not None else {},
            "points_pixel": projected,
            "zoom": view.zoom,
            "interpolation": view.interpolation,
        }
    return {
        "cursor": [float(v) for v in logic.cursor],
        "voxel": [i, j, k],
        "value": value,
        "window": {
            "width": logic.window.width,
            "center": logic.window.center,
            "name": logic.window.name,
        },
        "preset": logic.preset.name,
        "camera": viewer.view3d.camera_name,
        "help_visible": bool(viewer.help.GetVisibility()),
        "outlines_visible": viewer.show_outlines,
        "size": list(viewer.window.GetSize()),
        "mapper": viewer.mapper_kind,
        "views": views,
        "frames": [list(f) for f in viewer.frames],
        "status": viewer.status.GetInput(),
    }
