"""Volume-rendering presets: the named ones, finding them, making custom ones (no VTK).

The named presets are 3D Slicer's (:mod:`medvis.pipeline.slicer_presets`); each is a
:class:`~medvis.pipeline.volume_preset.VolumePreset`. Fitting a relative (MR) preset to a
volume's range, a user ``shift``, and the default preset for a volume's content are
:mod:`medvis.pipeline.preset_fit`. The :mod:`medvis.render` package turns a preset into
VTK objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from medvis.pipeline.slicer_presets import SLICER_PRESETS
from medvis.pipeline.volume_preset import Blend, Units, VolumePreset

__all__ = [
    "Blend",
    "PRESETS",
    "Units",
    "VolumePreset",
    "custom_preset",
    "get_preset",
    "preset_names",
    "preset_from_mapping",
]

#: Every named preset, by name (Slicer's spelling).
PRESETS: Mapping[str, VolumePreset] = SLICER_PRESETS


def preset_names() -> list[str]:
    """Names of the built-in presets, in Slicer's order."""
    return list(PRESETS)


def get_preset(name: str | VolumePreset) -> VolumePreset:
    """Look a preset up by name (case-insensitive); a :class:`VolumePreset` passes through.

    Raises
    ------
    KeyError
        Unknown name; the message lists the known ones.
    """
    if isinstance(name, VolumePreset):
        return name
    for key, preset in PRESETS.items():
        if key.lower() == str(name).lower():
            return preset
    raise KeyError(f"unknown volume preset {name!r}; known: {', '.join(PRESETS)}")


def custom_preset(
    name: str,
    *,
    opacity: Sequence[Sequence[float]],
    color: Sequence[Sequence[float]] | None = None,
    **options: Any,
) -> VolumePreset:
    """Make a preset from point lists.

    Parameters
    ----------
    name : str
        Label for the preset.
    opacity : sequence of (value, opacity)
        Scalar opacity points.
    color : sequence of (value, r, g, b), optional
        Colour points; white everywhere by default.
    **options
        Any other :class:`VolumePreset` field (``shade``, ``blend``, ``ambient``...).

    Examples
    --------
    >>> p = custom_preset("bright", opacity=[(0, 0), (1000, 1)], blend="maximum")
    >>> p.value_range
    (0.0, 1000.0)
    """
    opacity_points = tuple((float(v), float(a)) for v, a in opacity)
    if color is None:
        low, high = opacity_points[0][0], opacity_points[-1][0]
        color_points: tuple[tuple[float, float, float, float], ...] = (
            (low, 1.0, 1.0, 1.0),
            (high, 1.0, 1.0, 1.0),
        )
    else:
        color_points = tuple((float(v), float(r), float(g), float(b)) for v, r, g, b in color)
    return VolumePreset(name=name, scalar_opacity=opacity_points, color=color_points, **options)


_FIELDS = {f.name for f in dataclasses.fields(VolumePreset)}


def preset_from_mapping(spec: Mapping[str, Any] | str) -> VolumePreset:
    """A preset from a scene-file entry: a name, or a table with ``base`` and/or points.

    ``{"base": "CT-Bone", "shade": False}`` changes a named preset;
    ``{"opacity": [[v, a], ...], "color": [[v, r, g, b], ...]}`` builds a custom one.
    """
    if isinstance(spec, str):
        return get_preset(spec)
    options = dict(spec)
    base_name = options.pop("base", None)
    unknown = set(options) - _FIELDS - {"opacity", "color"}
    if unknown:
        raise ValueError(f"unknown preset keys {sorted(unknown)}; known: {sorted(_FIELDS)}")
    if "opacity" in options:
        options["scalar_opacity"] = tuple(
            tuple(float(x) for x in p) for p in options.pop("opacity")
        )
    if "color" in options:
        options["color"] = tuple(tuple(float(x) for x in p) for p in options["color"])
    if "gradient_opacity" in options:
        options["gradient_opacity"] = tuple(
            tuple(float(x) for x in p) for p in options["gradient_opacity"]
        )
    if base_name is not None:
        return get_preset(base_name).replace(**options)
    if "scalar_opacity" not in options:
        raise ValueError("a custom preset needs 'opacity' points or a 'base' preset")
    name = options.pop("name", "custom")
    opacity = options.pop("scalar_opacity")
    color = options.pop("color", None)
    return custom_preset(name, opacity=opacity, color=color, **options)
