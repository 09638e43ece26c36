"""The viewer window: four views in one ``vtkRenderWindow``, mouse and keys, overlays.

Layout (3D Slicer's four-up)::

    +-----------+-----------+
    |    3-D    |   axial   |
    +-----------+-----------+
    |  coronal  | sagittal  |
    +-----------+-----------+
    | status line           |

The window needs a display (X11; ``xvfb-run`` works). Every mouse and key event goes
through observers on the interactor style (:mod:`medvis.render.viewer.mouse`): in a
slice view they drive :class:`~medvis.render.viewer.logic.ViewerLogic`, in the 3-D view
they are handed to the trackball camera style. The status line and the help box are
:mod:`medvis.render.viewer.overlays`. A repeating timer restores full rendering quality when the
user stops interacting and runs scripted actions (:mod:`medvis.render.viewer.script`).
"""

from __future__ import annotations

import functools
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Registers the OpenGL classes, the X interactor and the text renderer (object factories).
import vtkmodules.vtkInteractionStyle  # isort: skip
import vtkmodules.vtkRenderingFreeType  # isort: skip
import vtkmodules.vtkRenderingOpenGL2  # isort: skip
import vtkmodules.vtkRenderingUI  # isort: skip
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  # isort: skip
from vtkmodules.vtkCommonCore import vtkCommand
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingCore import (
    vtkRenderer,
    vtkRenderWindow,
    vtkRenderWindowInteractor,
)

from medvis.errors import MedvisError
from medvis.pipeline.presets import VolumePreset
from medvis.pipeline.windowing import WindowSpec
from medvis.render._window import capture, is_software_gl, use_all_cores
from medvis.render.png import save_png
from medvis.render.viewer.logic import VIEW_NAMES, ViewerLogic
from medvis.render.viewer.mouse import Mouse
from medvis.render.viewer.overlays import Overlays
from medvis.render.viewer.slice_view import SliceView
from medvis.render.viewer.view3d import View3D
from medvis.volume import Volume

__all__ = ["DisplayError", "Viewer", "view"]

#: Seconds without interaction before the full-quality frame is drawn.
IDLE_S = 0.3
_TICK_MS = 40
_CAMERA_KEYS = {
    "A": "anterior",
    "P": "posterior",
    "L": "left",
    "R": "right",
    "S": "superior",
    "I": "inferior",
}


class DisplayError(MedvisError, RuntimeError):
    """There is no display to open a window on."""


def has_display() -> bool:
    """True when a window can be opened (always outside Linux; DISPLAY/WAYLAND_DISPLAY on it)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class Viewer:
    """A four-up viewer window for one volume.

    Parameters
    ----------
    volume : Volume
        Any geometry; 4-D volumes show frame 0.
    preset : str or VolumePreset, optional
        Volume-rendering preset; from the content when None (CT-Bone for a CT whatever its
        file format, a colour per label for a label map, MR-Default fitted otherwise).
    window : str, (width, center) or WindowLevel
        Slice window: "lung", "mediastinum", "soft_tissue", "bone", "brain", "file", "auto".
    size : (width, height)
        Window size in pixels.
    camera : str
        Initial 3-D camera ("anterior", "left", ...).
    title : str, optional
        Window title.
    screenshot_dir : path
        Where the ``x`` key writes PNGs.
    mapper : {"auto", "gpu", "cpu"}
        Volume mapper ("auto": CPU ray casting on software OpenGL, GPU otherwise).
    surfaces : sequence of (vtkPolyData, (r, g, b))
        Meshes in LPS mm to show in the 3-D view (e.g. lung surfaces; ``g`` hides them).

    Raises
    ------
    DisplayError
        On Linux with neither DISPLAY nor WAYLAND_DISPLAY set.
    """

    def __init__(
        self,
        volume: Volume,
        *,
        preset: str | VolumePreset | None = None,
        window: WindowSpec = "auto",
        size: Sequence[int] = (1200, 860),
        camera: str = "anterior",
        title: str | None = None,
        screenshot_dir: str | os.PathLike[str] = ".",
        mapper: str = "auto",
        surfaces: Sequence[tuple[vtkPolyData, Sequence[float]]] = (),
    ) -> None:
        if not has_display():
            raise DisplayError(
                None,
                "no display (DISPLAY is not set): the viewer opens a window. Run it on a "
                "desktop, over 'ssh -X', or under 'xvfb-run -a'; for pictures without a "
                "display use 'medvis render'",
            )
        use_all_cores()
        self.logic = ViewerLogic(volume, window=window, preset=preset)
        self.screenshot_dir = Path(screenshot_dir)
        self.exit_code = 0
        self.script: Any = None
        self.frames: list[tuple[str, str, float]] = []  # (what, quality, seconds)
        self._message = ""
        self._message_until = 0.0
        self.last_interaction = 0.0
        self.show_outlines = True

        width, height = (int(v) for v in size)
        self.window = vtkRenderWindow()
        self.window.SetSize(width, height)
        self.window.SetMultiSamples(0)
        self.window.SetNumberOfLayers(2)
        self.window.SetWindowName(title or f"medvis view - {volume.source or 'volume'}")
        self.interactor = vtkRenderWindowInteractor()
        self.interactor.SetRenderWindow(self.window)
        self.style = vtkInteractorStyleTrackballCamera()
        self.interactor.SetInteractorStyle(self.style)

        # Separator lines between the views: a background renderer under everything.
        self._frame = vtkRenderer()
        self._frame.SetBackground(0.25, 0.27, 0.3)
        self._frame.InteractiveOff()
        self.window.AddRenderer(self._frame)

        kind = mapper
        if kind == "auto":
            kind = "cpu" if is_software_gl(self.window) else "gpu"
        self.mapper_kind = kind
        self.view3d = View3D(self.logic, mapper=kind)
        self.window.AddRenderer(self.view3d.renderer)
        for polydata, color in surfaces:
            self.view3d.add_surface(polydata, color)
        self.views = {plane: SliceView(plane, self.logic) for plane in VIEW_NAMES}
        for view in self.views.values():
            self.window.AddRenderer(view.renderer)

        self.overlays = Overlays(self.window)
        self.status, self.help = self.overlays.status, self.overlays.help
        marker = self.view3d.marker.renderer
        marker.InteractiveOff()
        self.window.AddRenderer(marker)
        self.overlays.add_help_layer()
        self.mouse = Mouse(self)

        self.layout()
        for view in self.views.values():
            view.update(force=True)
        self.view3d.set_camera(camera)
        self._observe()

    # ------------------------------------------------------------ layout
    def layout(self) -> None:
        """Place the four views and the status line for the window's current size."""
        width, height = (max(1, v) for v in self.window.GetSize())
        font = int(np.clip(height / 62.0, 10, 22))
        status_h = (font * 1.9) / height
        gap_x, gap_y = 1.0 / width, 1.0 / height
        mid_y = status_h + (1.0 - status_h) / 2.0
        boxes = {
            "3d": (0.0, mid_y + gap_y, 0.5 - gap_x, 1.0),
            "axial": (0.5 + gap_x, mid_y + gap_y, 1.0, 1.0),
            "coronal": (0.0, status_h + gap_y, 0.5 - gap_x, mid_y - gap_y),
            "sagittal": (0.5 + gap_x, status_h + gap_y, 1.0, mid_y - gap_y),
        }
        self.view3d.renderer.SetViewport(*boxes["3d"])
        x0, y0, x1, y1 = boxes["3d"]
        side = 0.2 * min((x1 - x0) * width, (y1 - y0) * height)
        self.view3d.marker.renderer.SetViewport(x0, y0, x0 + side / width, y0 + side / height)
        for plane in VIEW_NAMES:
            view = self.views[plane]
            view.renderer.SetViewport(*boxes[plane])
            view.set_font_sizes(font)
            view.apply_camera()
        self._frame.SetViewport(0.0, 0.0, 1.0, 1.0)
        self.overlays.layout(status_h, font)
        self._size = (width, height)

    def viewport_pixels(self, name: str) -> tuple[int, int, int, int]:
        """(left, top, width, height) of a view in the screenshot (row 0 on top)."""
        renderer = self.view3d.renderer if name == "3d" else self.views[name].renderer
        width, height = self.window.GetSize()
        x0, y0, x1, y1 = renderer.GetViewport()
        left, right = round(x0 * width), round(x1 * width)
        bottom, top = round(y0 * height), round(y1 * height)
        return left, height - top, right - left, top - bottom

    def view_at(self, x: float, y: float) -> str | None:
        """Which view ("3d", "axial", ...) holds display pixel (x, y) (y up)."""
        width, height = self.window.GetSize()
        fx, fy = x / max(1, width), y / max(1, height)
        candidates = [("3d", self.view3d.renderer)] + [
            (p, v.renderer) for p, v in self.views.items()
        ]
        for name, renderer in candidates:
            x0, y0, x1, y1 = renderer.GetViewport()
            if x0 <= fx <= x1 and y0 <= fy <= y1:
                return name
        return None

    # ------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Bring every view, outline and text in line with the logic (no drawing)."""
        for view in self.views.values():
            view.update()
        self.view3d.update_planes(self.views, visible=self.show_outlines)
        text = self.logic.status_text()
        if self._message and time.monotonic() < self._message_until:
            text = f"{text}   |   {self._message}"
        self.status.SetInput(text)

    def render(self, what: str = "render") -> float:
        """Refresh and draw one frame; returns (and records) its duration in seconds."""
        start = time.perf_counter()
        self.refresh()
        self.view3d.marker.sync()
        self.view3d.reset_clipping()
        self.window.Render()
        seconds = time.perf_counter() - start
        quality = "interactive" if self.view3d.interactive else "full"
        self.frames.append((what, quality, seconds))
        if self.view3d.interactive:
            self.view3d.adapt(seconds)
        return seconds

    def interacting(self) -> None:
        """Note that the user is interacting: quick frames until they pause."""
        self.last_interaction = time.monotonic()
        if not self.view3d.interactive:
            self.view3d.set_quality(interactive=True)

    def settle(self) -> None:
        """Draw the full-quality frame now if the last one was interactive."""
        if self.view3d.interactive:
            self.view3d.set_quality(interactive=False)
            self.render("idle")

    def flash(self, message: str, seconds: float = 4.0) -> None:
        """Show a message in the status line for a while."""
        self._message = message
        self._message_until = time.monotonic() + seconds

    # ------------------------------------------------------------ actions
    def scroll(self, plane: str, count: int) -> None:
        """Move a slice view by ``count`` slices."""
        self.interacting()
        self.logic.step(plane, count)
        self.render(f"scroll-{plane}")

    def click(self, plane: str, x: float, y: float) -> None:
        """Put the cursor where display pixel (x, y) of a slice view is."""
        self.interacting()
        self.logic.set_cursor(self.views[plane].display_to_world(x, y))
        self.render(f"cursor-{plane}")

    def screenshot(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the window, drawn at full quality, to a PNG; returns its path."""
        if self.view3d.interactive:
            self.view3d.set_quality(interactive=False)
        self.refresh()
        self.view3d.marker.sync()
        self.window.Render()
        rgb = capture(self.window)
        if path is None:
            self.screenshot_dir.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            target = self.screenshot_dir / f"medvis-view-{stamp}.png"
            count = 2
            while target.exists():
                target = self.screenshot_dir / f"medvis-view-{stamp}-{count}.png"
                count += 1
        else:
            target = Path(path)
        save_png(rgb, target, force=True)
        print(f"screenshot: {target}", flush=True)
        self.flash(f"saved {target.name}")
        return target

    def quit(self) -> None:
        """Close the window and leave the event loop."""
        self.window.Finalize()
        self.interactor.TerminateApp()

    def key(self, sym: str) -> None:
        """Act on a key (X keysym, e.g. "q", "Up", "Prior", "question", "A")."""
        logic = self.logic
        hover = self.mouse.hover
        plane = hover if hover in self.views else "axial"
        if sym in ("q", "Escape"):
            self.quit()
            return
        if sym in ("Up", "Down", "Prior", "Next"):
            step = {"Up": 1, "Down": -1, "Prior": 10, "Next": -10}[sym]
            self.scroll(plane, step)
            return
        if sym in ("h", "question"):
            self.overlays.toggle_help()
        elif sym in _CAMERA_KEYS:
            self.view3d.set_camera(_CAMERA_KEYS[sym])
        elif logic.window_for_key(sym):
            pass
        elif sym in ("w", "W"):
            logic.cycle_window(1 if sym == "w" else -1)
        elif sym in ("v", "V"):
            self.interacting()
            self.view3d.set_preset(logic.cycle_preset(1 if sym == "v" else -1))
            self.flash(f"preset {logic.preset.name}")
        elif sym == "r":
            for view in self.views.values():
                view.reset_camera()
            self.view3d.set_camera(self.view3d.camera_name)
        elif sym == "c":
            logic.set_cursor(logic.centre)
        elif sym == "o":
            self.show_outlines = not self.show_outlines
        elif sym == "g":
            for actor in self.view3d.surfaces:
                actor.SetVisibility(not actor.GetVisibility())
        elif sym == "n":
            mode = "nearest" if self.views["axial"].interpolation == "linear" else "linear"
            for view in self.views.values():
                view.set_interpolation(mode)
            self.flash(f"{mode} interpolation")
        elif sym in ("plus", "equal", "KP_Add", "minus", "KP_Subtract"):
            self.zoom(plane, 1.25 if sym in ("plus", "equal", "KP_Add") else 0.8)
            return
        elif sym == "x":
            self.screenshot()
        else:
            return
        # A quick frame now, the full-quality one when the user pauses.
        self.interacting()
        self.render(f"key-{sym}")

    def zoom(self, plane: str, factor: float) -> None:
        """Magnify a slice view by ``factor``."""
        view = self.views[plane]
        view.zoom = float(np.clip(view.zoom * factor, 0.2, 40.0))
        view.apply_camera()
        self.interacting()
        self.render(f"zoom-{plane}")

    # ------------------------------------------------------------ events
    def _guard(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """``handler`` as an observer: VTK prints and swallows exceptions raised in
        observers; keep the traceback, and stop a scripted run with a failing exit code
        instead of carrying on."""

        @functools.wraps(handler)
        def guarded(*args: Any) -> Any:
            try:
                return handler(*args)
            except Exception:
                traceback.print_exc()
                self.exit_code = 1
                if self.script is not None:
                    self.quit()
                return None

        return guarded

    def _observe(self) -> None:
        for event, handler in self.mouse.handlers().items():
            self.style.AddObserver(getattr(vtkCommand, event), self._guard(handler))
        self.interactor.AddObserver(vtkCommand.TimerEvent, self._guard(self._tick))
        self.interactor.AddObserver(vtkCommand.ExitEvent, self._guard(self._exit))
        self.interactor.AddObserver(vtkCommand.ConfigureEvent, self._guard(self._configure))

    def _tick(self, *_: Any) -> None:
        now = time.monotonic()
        idle = now - self.last_interaction > IDLE_S
        if self.view3d.interactive and self.mouse.drag is None and idle:
            self.settle()
        if self.script is not None:
            self.script.tick(self, now)

    def _exit(self, *_: Any) -> None:
        self.interactor.TerminateApp()

    def _configure(self, *_: Any) -> None:
        if tuple(self.window.GetSize()) != getattr(self, "_size", None):
            self.layout()

    # ------------------------------------------------------------ run
    def run(self, script: Any = None) -> int:
        """Show the window and handle events until ``q``; returns the exit code (0 ok).

        Parameters
        ----------
        script : Script, optional
            Scripted actions (:class:`medvis.render.viewer.script.Script`) run by a timer.
        """
        self.script = script
        self.interactor.Initialize()
        self.interactor.CreateRepeatingTimer(_TICK_MS)
        self.render("first")
        self.interactor.Start()
        return self.exit_code


def view(
    volume: Volume,
    *,
    script: Any = None,
    **options: Any,
) -> int:
    """Open the four-up viewer on ``volume`` and return when it is closed.

    Parameters
    ----------
    volume : Volume
        Any geometry.
    script : Script or path, optional
        Scripted actions to run (tests, demos); see :mod:`medvis.render.viewer.script`.
    **options
        Passed to :class:`Viewer` (``preset``, ``window``, ``size``, ``camera``, ...).

    Returns
    -------
    int
        0 when closed normally (``q``), 1 when an action failed.
    """
    from medvis.render.viewer.script import Script

    if script is not None and not isinstance(script, Script):
        script = Script.load(script)
    viewer = Viewer(volume, **options)
    return viewer.run(script)
