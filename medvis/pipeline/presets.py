"""Volume-rendering presets as data: transfer functions and shading, no VTK.

The named presets are transcribed from 3D Slicer's public preset file
``Modules/Loadable/VolumeRendering/Resources/presets.xml`` (Slicer/Slicer, BSD-style
licence): scalar opacity ``(value, opacity)``, colour ``(value, r, g, b)`` and gradient
opacity ``(gradient magnitude, opacity)`` points, and the shading coefficients. Values are
Slicer's (HU for CT). Slicer's "-MIP" presets are ordinary transfer
functions that Slicer pairs with maximum-intensity blending; here they carry
``blend="maximum"`` so that pairing is not forgotten.

Each preset says what its numbers mean (``units``): "absolute" presets (the CT ones, in
HU) are used as they are; "relative" ones (MR: their numbers were made for one scanner's
scale) are laid over the volume's own robust intensity range by :func:`fit_preset`. A
user ``shift`` in data units moves any preset along the data range, as Slicer's preset
shift slider does. :func:`default_preset_for` picks a preset from the content (metadata
modality, HU-like values, a label map), so a scan gets the same one in every file format.

The :mod:`medvis.render` package turns a :class:`VolumePreset` into VTK objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medvis.volume import Volume

__all__ = [
    "Blend",
    "PRESETS",
    "Units",
    "VolumePreset",
    "custom_preset",
    "default_preset_for",
    "fit_preset",
    "foreground_range",
    "get_preset",
    "label_preset",
    "preset_names",
    "preset_from_mapping",
]

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


_SLICER = "3D Slicer presets.xml (Modules/Loadable/VolumeRendering/Resources)"


def _pairs(flat: str) -> tuple[tuple[float, ...], ...]:
    # Slicer stores "N v0 a0 v1 a1 ..." (N = number of numbers); N is dropped here.
    values = [float(v) for v in flat.split()]
    return tuple(tuple(values[i : i + 2]) for i in range(1, len(values), 2))


def _quads(flat: str) -> tuple[tuple[float, ...], ...]:
    values = [float(v) for v in flat.split()]
    return tuple(tuple(values[i : i + 4]) for i in range(1, len(values), 4))


def _slicer(
    name: str,
    opacity: str,
    color: str,
    gradient: str,
    *,
    shade: int,
    ambient: float,
    diffuse: float,
    specular: float,
    power: float,
    description: str,
    blend: Blend = "composite",
) -> VolumePreset:
    return VolumePreset(
        name=name,
        scalar_opacity=_pairs(opacity),  # type: ignore[arg-type]
        color=_quads(color),  # type: ignore[arg-type]
        gradient_opacity=_pairs(gradient),  # type: ignore[arg-type]
        shade=bool(shade),
        ambient=ambient,
        diffuse=diffuse,
        specular=specular,
        specular_power=power,
        blend=blend,
        modality=name.split("-", 1)[0] if name.startswith(("CT", "MR")) else "",
        # CT presets are in HU; the MR ones are in one scanner's arbitrary scale.
        units="absolute" if name.startswith("CT") else "relative",
        description=description,
        source=_SLICER,
    )


# Strings below are Slicer's attribute values, verbatim (scalarOpacity, colorTransfer,
# gradientOpacity), with its shade/ambient/diffuse/specular/specularPower.
_CT_SHADED: dict[str, Any] = {
    "shade": 1,
    "ambient": 0.1,
    "diffuse": 0.9,
    "specular": 0.2,
    "power": 10.0,
}
_FLAT: dict[str, Any] = {"ambient": 0.2, "diffuse": 1.0, "specular": 0.0, "power": 1.0}
_GRAD = "4 0 1 255 1"

_LIST = [
    _slicer(
        "CT-AAA",
        "12 -3024 0 143.556 0 166.222 0.686275 214.389 0.696078 419.736 0.833333 3071 0.803922",
        "24 -3024 0 0 0 143.556 0.615686 0.356863 0.184314 166.222 0.882353 0.603922 0.290196 "
        "214.389 1 1 1 419.736 1 0.937033 0.954531 3071 0.827451 0.658824 1",
        _GRAD,
        description="contrast CT: aorta and bone, skin hidden",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-AAA2",
        "16 -3024 0 129.542 0 145.244 0.166667 157.02 0.5 169.918 0.627451 395.575 0.8125 "
        "1578.73 0.8125 3071 0.8125",
        "32 -3024 0 0 0 129.542 0.54902 0.25098 0.14902 145.244 0.6 0.627451 0.843137 "
        "157.02 0.890196 0.47451 0.6 169.918 0.992157 0.870588 0.392157 395.575 1 0.886275 "
        "0.658824 1578.73 1 0.829256 0.957922 3071 0.827451 0.658824 1",
        _GRAD,
        description="contrast CT: aorta, coloured",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-Bone",
        "8 -3024 0 -16.4458 0 641.385 0.715686 3071 0.705882",
        "16 -3024 0 0 0 -16.4458 0.729412 0.254902 0.301961 641.385 0.905882 0.815686 "
        "0.552941 3071 1 1 1",
        _GRAD,
        description="CT: bone, soft tissue faint",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-Bones",
        "8 -1000 0 152.19 0 278.93 0.190476 952 0.2",
        "20 -1000 0.3 0.3 1 -488 0.3 1 0.3 463.28 1 0 0 659.15 1 0.912535 0.0374849 953 1 0.3 0.3",
        "4 0 1 985.12 1",
        shade=1,
        description="CT: bones only, colour by density",
        **_FLAT,
    ),
    _slicer(
        "CT-Cardiac",
        "12 -3024 0 -77.6875 0 94.9518 0.285714 179.052 0.553571 260.439 0.848214 3071 0.875",
        "24 -3024 0 0 0 -77.6875 0.54902 0.25098 0.14902 94.9518 0.882353 0.603922 0.290196 "
        "179.052 1 0.937033 0.954531 260.439 0.615686 0 0 3071 0.827451 0.658824 1",
        _GRAD,
        description="contrast CT: heart",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-Cardiac2",
        "12 -3024 0 42.8964 0 163.488 0.428571 277.642 0.776786 1587 0.754902 3071 0.754902",
        "24 -3024 0 0 0 42.8964 0.54902 0.25098 0.14902 163.488 0.917647 0.639216 0.0588235 "
        "277.642 1 0.878431 0.623529 1587 1 1 1 3071 0.827451 0.658824 1",
        _GRAD,
        description="contrast CT: heart, vessels",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-Cardiac3",
        "14 -3024 0 -86.9767 0 45.3791 0.169643 139.919 0.589286 347.907 0.607143 1224.16 "
        "0.607143 3071 0.616071",
        "28 -3024 0 0 0 -86.9767 0 0.25098 1 45.3791 1 0 0 139.919 1 0.894893 0.894893 "
        "347.907 1 1 0.25098 1224.16 1 1 1 3071 0.827451 0.658824 1",
        _GRAD,
        description="contrast CT: heart, false colour",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-Chest-Contrast-Enhanced",
        "10 -3024 0 67.0106 0 251.105 0.446429 439.291 0.625 3071 0.616071",
        "20 -3024 0 0 0 67.0106 0.54902 0.25098 0.14902 251.105 0.882353 0.603922 0.290196 "
        "439.291 1 0.937033 0.954531 3071 0.827451 0.658824 1",
        _GRAD,
        description="contrast chest CT: vessels and bone",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-Chest-Vessels",
        "10 -3024 0 -1278.35 0 22.8277 0.428571 439.291 0.625 3071 0.616071",
        "20 -3024 0 0 0 -1278.35 0.54902 0.25098 0.14902 22.8277 0.882353 0.603922 0.290196 "
        "439.291 1 0.937033 0.954531 3071 0.827451 0.658824 1",
        _GRAD,
        shade=1,
        description="chest CT: lung vessels",
        **_FLAT,
    ),
    _slicer(
        "CT-Coronary-Arteries",
        "12 -2048 0 136.47 0 159.215 0.258929 318.43 0.571429 478.693 0.776786 3661 1",
        "24 -2048 0 0 0 136.47 0 0 0 159.215 0.159804 0.159804 0.159804 318.43 0.764706 "
        "0.764706 0.764706 478.693 1 1 1 3661 1 1 1",
        _GRAD,
        shade=0,
        description="coronary CTA, grey",
        **_FLAT,
    ),
    _slicer(
        "CT-Coronary-Arteries-2",
        "14 -2048 0 142.677 0 145.016 0.116071 192.174 0.5625 217.24 0.776786 384.347 "
        "0.830357 3661 0.830357",
        "28 -2048 0 0 0 142.677 0 0 0 145.016 0.615686 0 0.0156863 192.174 0.909804 "
        "0.454902 0 217.24 0.972549 0.807843 0.611765 384.347 0.909804 0.909804 1 3661 1 1 1",
        _GRAD,
        shade=1,
        description="coronary CTA, coloured",
        **_FLAT,
    ),
    _slicer(
        "CT-Coronary-Arteries-3",
        "14 -2048 0 128.643 0 129.982 0.0982143 173.636 0.669643 255.884 0.857143 584.878 "
        "0.866071 3661 1",
        "28 -2048 0 0 0 128.643 0 0 0 129.982 0.615686 0 0.0156863 173.636 0.909804 "
        "0.454902 0 255.884 0.886275 0.886275 0.886275 584.878 0.968627 0.968627 0.968627 "
        "3661 1 1 1",
        _GRAD,
        description="coronary CTA, shaded",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-Cropped-Volume-Bone",
        "10 -2048 0 -451 0 -450 1 1050 1 3661 1",
        "20 -2048 0 0 0 -451 0 0 0 -450 0.0556356 0.0556356 0.0556356 1050 1 1 1 3661 1 1 1",
        _GRAD,
        shade=0,
        description="CT: cropped block, grey ramp",
        **_FLAT,
    ),
    _slicer(
        "CT-Fat",
        "14 -1000 0 -100 0 -99 0.15 -60 0.15 -59 0 101.2 0 952 0",
        "36 -1000 0.3 0.3 1 -497.5 0.3 1 0.3 -99 0 0 1 -76.946 0 1 0 -65.481 0.835431 "
        "0.888889 0.0165387 83.89 1 0 0 463.28 1 0 0 659.15 1 0.912535 0.0374849 "
        "2952 1 0.300267 0.299886",
        "6 0 1 985.12 1 988 1",
        shade=0,
        description="CT: fat (-100..-60 HU)",
        **_FLAT,
    ),
    _slicer(
        "CT-Liver-Vasculature",
        "14 -2048 0 149.113 0 157.884 0.482143 339.96 0.660714 388.526 0.830357 1197.95 "
        "0.839286 3661 0.848214",
        "28 -2048 0 0 0 149.113 0 0 0 157.884 0.501961 0.25098 0 339.96 0.695386 0.59603 "
        "0.36886 388.526 0.854902 0.85098 0.827451 1197.95 1 1 1 3661 1 1 1",
        _GRAD,
        shade=0,
        description="contrast CT: liver vessels",
        **_FLAT,
    ),
    _slicer(
        "CT-Lung",
        "12 -1000 0 -600 0 -599 0.15 -400 0.15 -399 0 2952 0",
        "24 -1000 0.3 0.3 1 -600 0 0 1 -530 0.134704 0.781726 0.0724558 -460 0.929244 1 "
        "0.109473 -400 0.888889 0.254949 0.0240258 2952 1 0.3 0.3",
        "6 0 1 985.12 1 988 1",
        shade=1,
        description="CT: lung surfaces (-600..-400 HU)",
        **_FLAT,
    ),
    _slicer(
        "CT-MIP",
        "8 -3024 0 -637.62 0 700 1 3071 1",
        "16 -3024 0 0 0 -637.62 1 1 1 700 1 1 1 3071 1 1 1",
        _GRAD,
        description="CT maximum-intensity projection",
        blend="maximum",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-Muscle",
        "10 -3024 0 -155.407 0 217.641 0.676471 419.736 0.833333 3071 0.803922",
        "20 -3024 0 0 0 -155.407 0.54902 0.25098 0.14902 217.641 0.882353 0.603922 0.290196 "
        "419.736 1 0.937033 0.954531 3071 0.827451 0.658824 1",
        _GRAD,
        description="CT: muscle and bone",
        **_CT_SHADED,
    ),
    _slicer(
        "CT-Pulmonary-Arteries",
        "14 -2048 0 -568.625 0 -364.081 0.0714286 -244.813 0.401786 18.2775 0.607143 "
        "447.798 0.830357 3592.73 0.839286",
        "28 -2048 0 0 0 -568.625 0 0 0 -364.081 0.396078 0.301961 0.180392 -244.813 "
        "0.611765 0.352941 0.0705882 18.2775 0.843137 0.0156863 0.156863 447.798 0.752941 "
        "0.752941 0.752941 3592.73 1 1 1",
        _GRAD,
        shade=1,
        description="contrast CT: pulmonary arteries",
        **_FLAT,
    ),
    _slicer(
        "CT-Soft-Tissue",
        "10 -2048 0 -167.01 0 -160 1 240 1 3661 1",
        "20 -2048 0 0 0 -167.01 0 0 0 -160 0.0556356 0.0556356 0.0556356 240 1 1 1 3661 1 1 1",
        _GRAD,
        shade=0,
        description="CT: soft tissue, grey",
        **_FLAT,
    ),
    _slicer(
        "MR-Angio",
        "12 -2048 0 151.354 0 158.279 0.4375 190.112 0.580357 200.873 0.732143 3661 0.741071",
        "24 -2048 0 0 0 151.354 0 0 0 158.279 0.74902 0.376471 0 190.112 1 0.866667 "
        "0.733333 200.873 0.937255 0.937255 0.937255 3661 1 1 1",
        _GRAD,
        shade=1,
        description="MR angiography",
        **_FLAT,
    ),
    _slicer(
        "MR-Default",
        "12 0 0 20 0 40 0.15 120 0.3 220 0.375 1024 0.5",
        "24 0 0 0 0 20 0.168627 0 0 40 0.403922 0.145098 0.0784314 120 0.780392 0.607843 "
        "0.380392 220 0.847059 0.835294 0.788235 1024 1 1 1",
        _GRAD,
        shade=1,
        description="MR: general (values 0..1024)",
        **_FLAT,
    ),
    _slicer(
        "MR-MIP",
        "8 0 0 98.3725 0 416.637 1 2800 1",
        "16 0 1 1 1 98.3725 1 1 1 416.637 1 1 1 2800 1 1 1",
        _GRAD,
        shade=0,
        description="MR maximum-intensity projection",
        blend="maximum",
        **_FLAT,
    ),
    _slicer(
        "MR-T2-Brain",
        "10 0 0 36.05 0 218.302 0.171429 412.406 1 641 1",
        "16 0 0 0 0 98.7223 0.956863 0.839216 0.192157 412.406 0 0.592157 0.807843 641 1 1 1",
        "4 0 1 160.25 1",
        shade=1,
        ambient=0.3,
        diffuse=0.6,
        specular=0.5,
        power=40.0,
        description="MR T2 brain",
    ),
]

#: Every named preset, by name (Slicer's spelling).
PRESETS: Mapping[str, VolumePreset] = {p.name: p for p in _LIST}


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


# --- fitting presets to the data -------------------------------------------------------

#: Voxels looked at to describe a volume's intensities (a strided sample: ~10 ms on 70 MiB).
_SAMPLE_SIZE = 1_000_000


def _sample(data: Volume | ArrayLike) -> NDArray[np.float64]:
    """Finite values of an evenly strided sample of at most ~``_SAMPLE_SIZE`` voxels."""
    array = np.asarray(data.array if isinstance(data, Volume) else data)
    if array.size == 0:
        raise ValueError("cannot describe the intensities of an empty volume")
    step = max(1, int(np.ceil((array.size / _SAMPLE_SIZE) ** (1.0 / max(array.ndim, 1)))))
    sample = np.asarray(array[(slice(None, None, step),) * array.ndim], np.float64).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        raise ValueError("the volume has no finite values")
    return sample


def _otsu_threshold(sample: NDArray[np.float64], bins: int = 256) -> float:
    """Otsu's threshold: the cut that best separates two classes (background, object)."""
    counts, edges = np.histogram(sample, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts, dtype=np.float64)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(counts * centres)
    mean_all = mass_low[-1] / weight_low[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_all * weight_low - mass_low) ** 2 / (weight_low * weight_high)
    between[~np.isfinite(between)] = 0.0
    return float(edges[int(np.argmax(between)) + 1])


def foreground_range(
    data: Volume | ArrayLike, *, low: float = 1.0, high: float = 99.5
) -> tuple[float, float]:
    """Robust intensity range of the foreground: its ``low``-th and ``high``-th percentiles.

    The foreground is what lies above Otsu's threshold in a strided sample of the voxels
    (the air or zero background around an MR is left out); when that leaves almost
    nothing (a nearly constant volume), the whole sample is used.

    Parameters
    ----------
    data : Volume or array
        The voxels.
    low, high : float
        Percentiles (0-100) of the foreground.

    Returns
    -------
    (float, float)
        ``low_value < high_value`` (one unit apart at least when the data are constant).

    Examples
    --------
    >>> values = np.r_[np.zeros(1000), np.linspace(500, 1000, 1001)]
    >>> [round(v) for v in foreground_range(values, low=0, high=100)]
    [500, 1000]
    """
    sample = _sample(data)
    foreground = sample[sample > _otsu_threshold(sample)]
    if foreground.size < max(10, sample.size // 1000):
        foreground = sample
    low_value, high_value = (float(v) for v in np.percentile(foreground, [low, high]))
    if high_value <= low_value:
        high_value = low_value + 1.0
    return low_value, high_value


def _mapped(preset: VolumePreset, scale: float, offset: float) -> VolumePreset:
    # value -> value * scale + offset; gradient magnitudes (data units per mm) scale only.
    return preset.replace(
        scalar_opacity=tuple((v * scale + offset, a) for v, a in preset.scalar_opacity),
        color=tuple((v * scale + offset, r, g, b) for v, r, g, b in preset.color),
        gradient_opacity=tuple((m * scale, a) for m, a in preset.gradient_opacity),
        units="absolute",
    )


def fit_preset(
    preset: str | VolumePreset, data: Volume | ArrayLike, *, shift: float = 0.0
) -> VolumePreset:
    """The preset in the volume's data units, moved by ``shift``.

    An absolute preset (CT, in HU) keeps its numbers: with ``shift=0`` the same object
    comes back. A relative preset (MR) is shifted and scaled so that its
    :attr:`~VolumePreset.reference_range` (where its opacity changes) covers the
    volume's robust range (:func:`foreground_range`: 1st-99.5th percentiles of the
    foreground), as a user would slide and stretch it in Slicer. Then every point moves by
    ``shift`` data units, like Slicer's preset shift slider. The result is absolute, so
    fitting it again only adds the new shift.

    Parameters
    ----------
    preset : str or VolumePreset
        Name or preset.
    data : Volume or array
        The voxels the preset will show (one frame of a 4-D volume).
    shift : float
        Offset in data units added to every opacity and colour point.

    Returns
    -------
    VolumePreset
        With ``units="absolute"``.

    Examples
    --------
    >>> values = np.r_[np.zeros(1000), np.linspace(100, 4000, 1000)]
    >>> fitted = fit_preset("MR-MIP", values)
    >>> fitted.scalar_opacity[2][0] > 3900  # the MIP's white point near the 99.5th percentile
    True
    >>> fit_preset("CT-Bone", values) is get_preset("CT-Bone")
    True
    """
    chosen = get_preset(preset)
    shift = float(shift)
    if not np.isfinite(shift):
        raise ValueError(f"shift must be a finite number of data units, not {shift}")
    if chosen.units == "absolute":
        return chosen if shift == 0.0 else _mapped(chosen, 1.0, shift)
    low, high = chosen.reference_range
    data_low, data_high = foreground_range(data)
    scale = (data_high - data_low) / (high - low)
    return _mapped(chosen, scale, data_low - low * scale + shift)


# --- the default preset from the content --------------------------------------------------

#: At most this many distinct values (background included) make a label map.
_MAX_LABELS = 64


def _looks_like_labels(sample: NDArray[np.float64]) -> bool:
    if sample.min() < 0 or not np.all(sample == np.round(sample)):
        return False
    distinct = np.unique(sample)
    return 2 <= distinct.size <= _MAX_LABELS


def _looks_like_hu(sample: NDArray[np.float64]) -> bool:
    # A CT in HU: integer values, a minimum at air or the scanner's padding (-1000, -1024,
    # -2048, -3024), a large share of air (lungs, outside the body) and some soft tissue.
    integral = np.mean(sample == np.round(sample)) >= 0.99
    minimum_is_air = -3100.0 <= float(sample.min()) <= -900.0
    air = np.mean(sample <= -900.0) >= 0.05
    soft_tissue = np.mean((sample >= -100.0) & (sample <= 150.0)) >= 0.05
    return bool(integral and minimum_is_air and air and soft_tissue)


# Distinct colours for labels 1, 2, ... (cycled), in the spirit of a segmentation's palette.
_LABEL_COLOURS = (
    (0.90, 0.35, 0.30),
    (0.30, 0.65, 0.90),
    (0.95, 0.80, 0.30),
    (0.45, 0.80, 0.40),
    (0.75, 0.45, 0.85),
    (0.95, 0.60, 0.25),
    (0.40, 0.85, 0.85),
    (0.90, 0.50, 0.70),
    (0.65, 0.55, 0.40),
    (0.85, 0.85, 0.85),
)


def label_preset(labels: ArrayLike, *, background: float = 0.0) -> VolumePreset:
    """A preset that shows each label value in its own flat colour, the background clear.

    Parameters
    ----------
    labels : array
        The label values to colour (integers; the background value may be among them).
    background : float
        The value that stays transparent.

    Examples
    --------
    >>> p = label_preset([0, 1, 2])
    >>> p.scalar_opacity
    ((0.0, 0.0), (0.5, 0.0), (1.0, 0.8), (2.0, 0.8))
    """
    values = sorted({float(v) for v in np.ravel(np.asarray(labels))} - {float(background)})
    if not values:
        values = [background + 1.0]
    top = max(values[-1], background + 1.0)
    opacity: tuple[tuple[float, float], ...] = (
        (background, 0.0),
        (background + 0.5, 0.0),
        (background + 1.0, 0.8),
    )
    if top > background + 1.0:
        opacity += ((top, 0.8),)
    colours: list[tuple[float, float, float, float]] = []
    for index, value in enumerate(values):
        r, g, b = _LABEL_COLOURS[index % len(_LABEL_COLOURS)]
        # Two points per label so that its colour is flat, not blended with the next one's.
        colours += [(value - 0.45, r, g, b), (value + 0.45, r, g, b)]
    return VolumePreset(
        name="Labels",
        scalar_opacity=opacity,
        color=tuple(colours),
        # Unshaded: flat label faces read clearly in their colours (the CPU ray caster
        # shades flat faces very dark, VTK_NOTES.md).
        shade=False,
        ambient=1.0,
        diffuse=0.0,
        specular=0.0,
        specular_power=1.0,
        description="label map: each label in its own colour, background clear",
        source="medvis (default for label maps)",
    )


def default_preset_for(volume: Volume) -> VolumePreset:
    """A preset that suits the volume's content, whatever file format it came from.

    In order: metadata modality "CT" -> CT-Bone; a label map (integers >= 0, at most 64
    distinct values in a sample) -> :func:`label_preset` (each label its own colour, the
    lowest value clear); no modality but values that look like HU (integers, minimum at
    air or padding, a large share of air and some soft tissue) -> CT-Bone; otherwise
    MR-Default, a relative preset that :func:`fit_preset` lays over the data's range.
    So a CT read from DICOM and the same CT saved as NIfTI (no modality) get the same one.
    """
    modality = str(volume.metadata.get("modality", "")).upper()
    if modality == "CT":
        return PRESETS["CT-Bone"]
    source = volume.frame(0) if volume.layout == "tkji" else volume
    sample = _sample(source)
    if _looks_like_labels(sample):
        distinct = np.unique(sample)
        return label_preset(distinct, background=float(distinct[0]))
    if modality in ("", "OT") and _looks_like_hu(sample):
        return PRESETS["CT-Bone"]
    return PRESETS["MR-Default"]
