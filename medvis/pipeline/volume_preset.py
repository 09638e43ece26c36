"""The value object of a volume rendering's look: transfer functions and shading (no VTK).

Points are ``(value, opacity)`` for the scalar opacity, ``(value, r, g, b)`` for colour,
``(gradient magnitude, opacity)`` for gradient opacity, values ascending, the rest in
[0, 1]. ``units`` says what the values mean: "absolute" (HU for CT) or "relative" (one
scanner's arbitrary scale, laid over each volume's range by
:func:`medvis.pipeline.preset_fit.fit_preset`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Blend", "Units", "VolumePreset"]

Blend = Literal["composite", "maximum", "minimum", "average"]
_BLENDS = ("composite", "maximum", "minimum", "average")
Units = Literal["absolute", "relative"]
_UNITS = ("absolute", "relative")


@dataclass(frozen=True)
class VolumePreset:
    """A named transfer function with shading options.

    Attributes
    ----------
    name : str
        Preset name, e.g. "CT-Lung".
    scalar_opacity : tuple of (value, opacity)
        Piecewise-linear opacity per unit length, values ascending, opacity in [0, 1].
    color : tuple of (value, r, g, b)
        Piecewise-linear colour, components in [0, 1].
    gradient_opacity : tuple of (magnitude, opacity)
        Opacity multiplier by gradient magnitude (used when ``use_gradient_opacity``).
    shade, ambient, diffuse, specular, specular_power
        Lighting (Phong) options.
    blend : {"composite", "maximum", "minimum", "average"}
        Ray blending: "maximum" is a MIP.
    modality : str
        "CT", "MR" or "" (what the values mean).
    units : {"absolute", "relative"}
        "absolute": the values are data units (HU for CT) and are used as they are;
        "relative": the values are one scanner's scale, and :func:`fit_preset` lays the
        part where opacity changes (:attr:`reference_range`) over the volume's range.
    description : str
        One line for ``medvis presets``.
    source : str
        Where the numbers come from.
    """

    name: str
    scalar_opacity: tuple[tuple[float, float], ...]
    color: tuple[tuple[float, float, float, float], ...]
    gradient_opacity: tuple[tuple[float, float], ...] = ((0.0, 1.0), (255.0, 1.0))
    shade: bool = True
    ambient: float = 0.1
    diffuse: float = 0.9
    specular: float = 0.2
    specular_power: float = 10.0
    blend: Blend = "composite"
    use_gradient_opacity: bool = False
    modality: str = ""
    units: Units = "absolute"
    description: str = ""
    source: str = "custom"

    def __post_init__(self) -> None:
        _check_points(self.name, "scalar_opacity", self.scalar_opacity, 2)
        _check_points(self.name, "color", self.color, 4)
        _check_points(self.name, "gradient_opacity", self.gradient_opacity, 2)
        if self.blend not in _BLENDS:
            raise ValueError(
                f"preset {self.name!r}: blend must be one of {_BLENDS}, not {self.blend!r}"
            )
        if self.units not in _UNITS:
            raise ValueError(
                f"preset {self.name!r}: units must be one of {_UNITS}, not {self.units!r}"
            )

    @property
    def value_range(self) -> tuple[float, float]:
        """Lowest and highest value of the opacity function."""
        return self.scalar_opacity[0][0], self.scalar_opacity[-1][0]

    @property
    def reference_range(self) -> tuple[float, float]:
        """Where the opacity changes: from the last point of the leading flat run to the
        first point that reaches the final opacity (within 0.02).

        MR-MIP ``0 0, 98.4 0, 416.6 1, 2800 1`` gives (98.4, 416.6): the ramp of the MIP.
        :func:`fit_preset` maps this range onto the data's robust range.
        """
        points = self.scalar_opacity
        first, last = points[0][1], points[-1][1]
        low_index = 0
        while low_index + 1 < len(points) and abs(points[low_index + 1][1] - first) <= 1e-9:
            low_index += 1
        high_index = len(points) - 1
        while high_index - 1 > low_index and abs(points[high_index - 1][1] - last) <= 0.02:
            high_index -= 1
        low, high = points[low_index][0], points[high_index][0]
        if high <= low:  # a flat function: the whole span
            low, high = points[0][0], points[-1][0]
        return low, high

    def replace(self, **changes: Any) -> VolumePreset:
        """A copy with some fields changed (e.g. ``shade=False`` or ``blend="maximum"``)."""
        return dataclasses.replace(self, **changes)


def _check_points(name: str, what: str, points: Sequence[Sequence[float]], width: int) -> None:
    if len(points) < 1:
        raise ValueError(f"preset {name!r}: {what} needs at least one point")
    previous = -float("inf")
    for point in points:
        if len(point) != width:
            raise ValueError(
                f"preset {name!r}: each {what} point needs {width} numbers, got {point}"
            )
        if point[0] < previous:
            raise ValueError(
                f"preset {name!r}: {what} values must ascend ({point[0]} after {previous})"
            )
        previous = point[0]
        for value in point[1:]:
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"preset {name!r}: {what} entries must be in [0, 1], got {point}")
