"""Data-in, data-out VTK pipeline pieces: presets, windows, reslicing, ray steps, the CT
table. No OpenGL here.

Everything in this package works on a server without any graphics stack; pictures are
made by :mod:`medvis.render`.
"""

from __future__ import annotations

from medvis.pipeline.preset_fit import default_preset_for, fit_preset
from medvis.pipeline.presets import (
    PRESETS,
    VolumePreset,
    custom_preset,
    get_preset,
    preset_from_mapping,
    preset_names,
)
from medvis.pipeline.reslice import PLANES, Slice, anatomical_label, orthogonal_slices, reslice
from medvis.pipeline.sampling import ray_step
from medvis.pipeline.table import TableCut, find_table
from medvis.pipeline.windowing import WINDOWS, WindowLevel, apply_window, resolve_window

__all__ = [
    "PLANES",
    "PRESETS",
    "WINDOWS",
    "Slice",
    "TableCut",
    "VolumePreset",
    "WindowLevel",
    "anatomical_label",
    "apply_window",
    "custom_preset",
    "default_preset_for",
    "find_table",
    "fit_preset",
    "get_preset",
    "orthogonal_slices",
    "preset_from_mapping",
    "preset_names",
    "ray_step",
    "reslice",
    "resolve_window",
]
