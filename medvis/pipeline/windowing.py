"""Window/level presets and mapping values to display grey levels (pure numpy).

Standard CT windows (width W, centre/level L, in HU) as listed by Radiopaedia's
"Windowing (CT)" article and common radiology practice:

=============  ======  =====
name           W       L
=============  ======  =====
lung           1500    -600
mediastinum     350      40
soft_tissue     400      40
bone           1800     400
brain            80      40
=============  ======  =====

``"file"`` uses the window stored in the file (DICOM WindowCenter/WindowWidth, which
the reader keeps as ``Volume.metadata["window_center"]``/``["window_width"]``);
``"auto"`` is the file's window when there is one, else the 1st-99th percentile range.
Mapping follows DICOM PS3.3 C.11.2.1.2 (linear VOI LUT): values at or below
``L - W/2`` are black, at or above ``L + W/2`` white.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["WINDOWS", "WindowLevel", "WindowSpec", "apply_window", "resolve_window"]


@dataclass(frozen=True)
class WindowLevel:
    """A display window: values in ``[center - width/2, center + width/2]`` span black..white."""

    width: float
    center: float
    name: str = "custom"
    source: str = ""

    def __post_init__(self) -> None:
        if not np.isfinite(self.width) or self.width <= 0:
            raise ValueError(f"window width must be positive, got {self.width}")
        if not np.isfinite(self.center):
            raise ValueError(f"window centre must be finite, got {self.center}")

    @property
    def low(self) -> float:
        """Value shown black."""
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        """Value shown white."""
        return self.center + self.width / 2.0

    def __str__(self) -> str:
        return f"{self.name} (W{self.width:g}/L{self.center:g})"


_RADIOPAEDIA = "Radiopaedia, Windowing (CT)"

#: Named CT windows (HU).
WINDOWS: Mapping[str, WindowLevel] = {
    "lung": WindowLevel(1500, -600, "lung", _RADIOPAEDIA),
    "mediastinum": WindowLevel(350, 40, "mediastinum", _RADIOPAEDIA),
    "soft_tissue": WindowLevel(400, 40, "soft_tissue", _RADIOPAEDIA),
    "bone": WindowLevel(1800, 400, "bone", _RADIOPAEDIA),
    "brain": WindowLevel(80, 40, "brain", _RADIOPAEDIA),
}

WindowSpec = str | WindowLevel | Sequence[float] | Mapping[str, float] | None


def _first(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) == 0:
            return None
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def file_window(metadata: Mapping[str, Any]) -> WindowLevel | None:
    """The window stored in the file (first one when DICOM lists several), or None."""
    center = _first(metadata.get("window_center"))
    width = _first(metadata.get("window_width"))
    if center is None or width is None or width <= 0:
        return None
    return WindowLevel(width, center, "file", "the file's WindowCenter/WindowWidth")


def _percentile_window(array: NDArray[Any]) -> WindowLevel:
    sample = np.asarray(array).ravel()[:: max(1, array.size // 2_000_000)]
    low, high = np.percentile(sample, [1.0, 99.0])
    if high <= low:
        high = low + 1.0
    return WindowLevel(float(high - low), float((high + low) / 2), "auto", "1st-99th percentile")


def resolve_window(
    spec: WindowSpec, *, metadata: Mapping[str, Any] | None = None, array: ArrayLike | None = None
) -> WindowLevel:
    """Turn a window specification into a :class:`WindowLevel`.

    Parameters
    ----------
    spec : str, WindowLevel, (width, center), {"width":, "center":} or None
        A name from :data:`WINDOWS` (case-insensitive; "soft-tissue" works too), "file",
        "auto" (or None), a pair ``(width, center)`` or a mapping.
    metadata : mapping, optional
        The volume's metadata, for "file" and "auto".
    array : array-like, optional
        Voxels, for "auto" when the file has no window.

    Raises
    ------
    ValueError
        Unknown name, or "file" when the file stores no window.
    """
    if isinstance(spec, WindowLevel):
        return spec
    if spec is None:
        spec = "auto"
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_").replace(" ", "_")
        if key in WINDOWS:
            return WINDOWS[key]
        if key in ("file", "auto"):
            found = file_window(metadata or {})
            if found is not None:
                return found
            if key == "file":
                raise ValueError("the file stores no window (WindowCenter/WindowWidth)")
            if array is None:
                raise ValueError("window 'auto' needs the voxels when the file has no window")
            return _percentile_window(np.asarray(array))
        raise ValueError(f"unknown window {spec!r}; known: {', '.join(WINDOWS)}, file, auto")
    if isinstance(spec, Mapping):
        return WindowLevel(float(spec["width"]), float(spec["center"]))
    values = list(spec)
    if len(values) != 2:
        raise ValueError(f"a window is (width, center), got {values}")
    return WindowLevel(float(values[0]), float(values[1]))


def apply_window(values: ArrayLike, window: WindowLevel) -> NDArray[np.uint8]:
    """Map values to grey levels 0..255 through ``window`` (linear, clipped).

    Examples
    --------
    >>> apply_window([-1400, -600, 200], WINDOWS["lung"]).tolist()
    [0, 128, 255]
    """
    data = np.asarray(values, dtype=np.float32)
    scaled = (data - np.float32(window.low)) * np.float32(255.0 / window.width)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
