"""Data-in, data-out VTK pipeline pieces: presets, windows, reslicing. No OpenGL here.

Everything in this package works on a server without any graphics stack; pictures are
made by :mod:`medvis.render`.
"""

from __future__ import annotations

from medvis.pipeline.presets import (
    PRESETS,
    VolumePreset,
    custom_preset,
    get_preset,
    preset_from_mapping,
    preset_names,
)
from medvis.pipeline.reslice import PLANES, Slice, anatomical_label, orthogonal_slices, reslice
from medvis.pipeline.windowing import WINDOWS, WindowLevel, apply_window, resolve_window

__all__ = [
    "PLANES",
    "PRESETS",
    "WINDOWS",
    "Slice",
    "VolumePreset",
    "WindowLevel",
    "anatomical_label",
    "apply_window",
    "custom_preset",
    "get_preset",
    "orthogonal_slices",
    "preset_from_mapping",
    "preset_names",
    "reslice",
    "resolve_window",
]
