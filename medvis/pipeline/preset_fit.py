"""Presets fitted to the data: relative presets over a volume's range, a user shift, and
the default preset for a volume's content (no VTK).

"Absolute" presets (the CT ones, in HU) are used as they are; "relative" ones (MR: their
numbers were made for one scanner's scale) are laid over the volume's own robust
intensity range by :func:`fit_preset`. A ``shift`` in data units moves any preset along
the data range, as Slicer's preset shift slider does. :func:`default_preset_for` picks a
preset from the content (metadata modality, HU-like values, a label map), so a scan gets
the same one in every file format.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medvis.pipeline.presets import PRESETS, get_preset
from medvis.pipeline.volume_preset import VolumePreset
from medvis.volume import Volume

__all__ = ["default_preset_for", "fit_preset", "foreground_range", "label_preset"]

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
