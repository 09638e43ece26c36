"""The viewer's state and rules, with no window: cursor, slices, windows, presets, status.

The Slicer scripted-module rule: the logic does all the computing and runs without the
widget. :class:`ViewerLogic` is what the keys and mouse of
:class:`~medvis.render.viewer.app.Viewer` change, and what the tests check directly.

The cursor is one LPS point shared by all views; each slice view shows the plane of its
orientation through it. On a volume whose axes are the world's (any flip or
permutation) the cursor sits on a voxel centre, so every slice is a plane of voxels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medvis.pipeline.preset_fit import default_preset_for
from medvis.pipeline.presets import VolumePreset, get_preset, preset_names
from medvis.pipeline.reslice import PLANES
from medvis.pipeline.windowing import WINDOWS, WindowLevel, WindowSpec, resolve_window
from medvis.volume import Volume

__all__ = [
    "FORWARD",
    "KEYS",
    "VIEW_NAMES",
    "WINDOW_CYCLE",
    "SlicePosition",
    "ViewerLogic",
    "plane_normal",
]

#: The three slice views, in layout order.
VIEW_NAMES: tuple[str, ...] = ("axial", "coronal", "sagittal")

#: The direction "next slice" moves for each plane (as in 3D Slicer: superior, anterior,
#: right).
FORWARD: Mapping[str, tuple[float, float, float]] = {
    "axial": (0.0, 0.0, 1.0),
    "coronal": (0.0, -1.0, 0.0),
    "sagittal": (-1.0, 0.0, 0.0),
}

#: Windows the ``w`` key cycles through; "auto" is the file's window or the percentiles.
WINDOW_CYCLE: tuple[str, ...] = ("auto", "lung", "mediastinum", "soft_tissue", "bone", "brain")

#: (keys, what they do), for the help overlay and the README.
KEYS: tuple[tuple[str, str], ...] = (
    ("left click / drag", "slice view: move the cursor there (all planes follow)"),
    ("right drag", "slice view: window (left-right) and level (up-down)"),
    ("wheel, Up/Down", "slice view under the mouse: next/previous slice"),
    ("PageUp/PageDown", "slice view under the mouse: 10 slices"),
    ("middle drag", "slice view: pan;  Ctrl+wheel or +/-: zoom"),
    ("left/middle/right drag", "3-D view: rotate / pan / zoom"),
    ("1 2 3 4 5 0", "window: lung, mediastinum, soft tissue, bone, brain, auto"),
    ("w / W", "next / previous window"),
    ("v / V", "next / previous volume-rendering preset"),
    ("A P L R S I", "3-D camera: anterior, posterior, left, right, superior, inferior"),
    ("r", "reset cameras and zoom"),
    ("c", "cursor to the centre of the volume"),
    ("o", "slice outlines in the 3-D view on/off"),
    ("g", "surfaces (--lungs) in the 3-D view on/off"),
    ("n", "nearest / linear slice interpolation"),
    ("x", "screenshot to PNG"),
    ("h or ?", "this help"),
    ("q or Esc", "quit"),
)

_NUMBER_WINDOWS = {
    "1": "lung",
    "2": "mediastinum",
    "3": "soft_tissue",
    "4": "bone",
    "5": "brain",
    "0": "auto",
}


@dataclass(frozen=True)
class SlicePosition:
    """Where a plane is: ``index`` of ``count`` slices, ``offset`` mm along ``FORWARD``."""

    index: int
    count: int
    offset: float


def plane_normal(plane: str) -> NDArray[np.float64]:
    """Unit normal of a named plane: the direction its viewer looks (image right x down)."""
    right, down = (np.asarray(v, float) for v in PLANES[plane])
    return np.cross(right, down)


class ViewerLogic:
    """Cursor, slice stepping, window/level and preset state of a viewer.

    Parameters
    ----------
    volume : Volume
        A scalar volume (4-D: frame 0 is shown).
    window : str, (width, center) or WindowLevel
        Initial slice window (see :func:`medvis.pipeline.windowing.resolve_window`).
    preset : str or VolumePreset, optional
        Initial volume-rendering preset; from the content when None
        (:func:`medvis.pipeline.preset_fit.default_preset_for`).

    Examples
    --------
    >>> from medvis.phantoms import chest_phantom
    >>> logic = ViewerLogic(chest_phantom(), window="lung")
    >>> logic.step("axial", 2)
    >>> logic.slice_position("axial").index
    42
    """

    def __init__(
        self,
        volume: Volume,
        *,
        window: WindowSpec = "auto",
        preset: str | VolumePreset | None = None,
    ) -> None:
        if volume.layout == "tkji":
            volume = volume.frame(0)
        if volume.n_components > 1:
            raise ValueError(
                "the viewer shows one value per voxel; pick a component with volume.frame(i)"
            )
        self.volume = volume
        ni, nj, nk = volume.shape_ijk
        corners_ijk = np.array(
            [[i, j, k] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)], float
        )
        self.corners = volume.index_to_world_points(corners_ijk)
        self.centre = self.corners.mean(axis=0)
        self._to_index = np.linalg.inv(volume.direction * volume.spacing)
        # Axis-aligned: every direction column is +-1 along one world axis.
        self.axis_aligned = bool(np.allclose(np.abs(volume.direction).max(axis=0), 1.0, atol=1e-6))
        self.fill = float(volume.array.min()) if volume.array.size else 0.0
        modality = str(volume.metadata.get("modality", "")).upper()
        units = str(volume.metadata.get("units", ""))
        self.units = "HU" if modality == "CT" or units.upper() == "HU" else units
        self.window = self._resolve(window)
        self.presets = preset_names()
        # From the content when not given (the same for a scan whatever its file format).
        self.preset = get_preset(preset) if preset is not None else default_preset_for(volume)
        self.cursor = self.centre.copy()
        self.set_cursor(self.centre)

    # ----------------------------------------------------------------- cursor
    def set_cursor(self, point: ArrayLike) -> None:
        """Move the cursor to an LPS point, kept inside the volume (voxel centre if aligned)."""
        ijk = self.world_to_index(point)
        high = np.array(self.volume.shape_ijk, float) - 1
        ijk = np.clip(ijk, 0.0, high)
        if self.axis_aligned:
            ijk = np.rint(ijk)
        self.cursor = self.volume.index_to_world_points(ijk)

    def world_to_index(self, point: ArrayLike) -> NDArray[np.float64]:
        """Continuous (i, j, k) of an LPS point."""
        return (np.asarray(point, float).reshape(3) - self.volume.origin) @ self._to_index.T

    def step_mm(self, plane: str) -> float:
        """Length (mm) of one slice step of ``plane``: one voxel along its normal."""
        per_mm = self._to_index @ plane_normal(plane)
        return float(1.0 / np.max(np.abs(per_mm)))

    def step(self, plane: str, count: int) -> None:
        """Move ``plane`` by ``count`` slices (positive: superior, anterior, right)."""
        forward = np.asarray(FORWARD[plane], float)
        self.set_cursor(self.cursor + forward * count * self.step_mm(plane))

    def slice_position(self, plane: str) -> SlicePosition:
        """Index and count of the plane's slice along its forward direction."""
        forward = np.asarray(FORWARD[plane], float)
        along = self.corners @ forward
        step = self.step_mm(plane)
        offset = float(self.cursor @ forward)
        count = int(np.floor((along.max() - along.min()) / step + 1e-6)) + 1
        index = int(np.rint((offset - along.min()) / step))
        return SlicePosition(index=index, count=count, offset=offset)

    def voxel(self) -> tuple[tuple[int, int, int], float]:
        """The voxel at the cursor (nearest centre) and its value."""
        ijk = np.rint(self.world_to_index(self.cursor)).astype(int)
        high = np.array(self.volume.shape_ijk) - 1
        i, j, k = (int(v) for v in np.clip(ijk, 0, high))
        return (i, j, k), float(self.volume.array[k, j, i])

    # ----------------------------------------------------------------- window
    def _resolve(self, spec: WindowSpec) -> WindowLevel:
        return resolve_window(spec, metadata=self.volume.metadata, array=self.volume.array)

    def set_window(self, spec: WindowSpec) -> None:
        """Use a named or explicit window."""
        self.window = self._resolve(spec)

    def window_for_key(self, key: str) -> bool:
        """Apply the window a digit key names; False when the key names none."""
        if key not in _NUMBER_WINDOWS:
            return False
        self.set_window(_NUMBER_WINDOWS[key])
        return True

    def cycle_window(self, delta: int) -> None:
        """Next (``delta`` = 1) or previous (-1) window of :data:`WINDOW_CYCLE`."""
        names = list(WINDOW_CYCLE)
        current = self.window.name if self.window.name in WINDOWS else "auto"
        position = names.index(current) if current in names else 0
        self.set_window(names[(position + delta) % len(names)])

    def drag_window(
        self, start: WindowLevel, dx: float, dy: float, *, view_size: Sequence[float]
    ) -> None:
        """Window/level from a drag of (dx, dy) display pixels (x right, y up) from ``start``.

        Dragging the whole view width changes the width by its own value (at least by
        the volume's value range / 4); dragging up raises the level likewise.
        """
        width_px, height_px = (max(1.0, float(v)) for v in view_size)
        scale = max(start.width, self.value_range / 4.0)
        width = max(1.0, start.width + dx / width_px * scale)
        center = start.center + dy / height_px * scale
        self.window = WindowLevel(round(width, 1), round(center, 1))

    @property
    def value_range(self) -> float:
        """Max - min of the voxel values (at least 1)."""
        if not hasattr(self, "_value_range"):
            data = self.volume.array
            self._value_range = max(1.0, float(data.max()) - self.fill) if data.size else 1.0
        return self._value_range

    # ----------------------------------------------------------------- presets
    def cycle_preset(self, delta: int) -> VolumePreset:
        """Next/previous volume-rendering preset (in ``medvis presets`` order)."""
        names = self.presets
        position = names.index(self.preset.name) if self.preset.name in names else -1
        self.preset = get_preset(names[(position + delta) % len(names)])
        return self.preset

    # ----------------------------------------------------------------- status
    def status_text(self) -> str:
        """The status line: cursor (LPS mm), voxel index, value, window, preset."""
        x, y, z = self.cursor
        (i, j, k), value = self.voxel()
        unit = f" {self.units}" if self.units else ""
        shown = f"{value:.0f}" if float(value).is_integer() else f"{value:.4g}"
        return (
            f"LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm   voxel ({i}, {j}, {k})   "
            f"value {shown}{unit}   W{self.window.width:g} L{self.window.center:g}"
            f" ({self.window.name})   {self.preset.name}   h: help"
        )

    def slice_title(self, plane: str) -> str:
        """e.g. "Axial S 12.0 mm  41/80"."""
        position = self.slice_position(plane)
        letter = {"axial": ("S", "I"), "coronal": ("A", "P"), "sagittal": ("R", "L")}[plane]
        side = letter[0] if position.offset >= 0 else letter[1]
        return (
            f"{plane.capitalize()} {side} {abs(position.offset):.1f} mm  "
            f"{position.index + 1}/{position.count}"
        )
