"""The DICOM reader's data model: one :class:`SliceInfo` per 2-D image, and series metadata.

A *series* (one *Series Instance UID*) is split into *sub-series* by
:mod:`medvis.io.dicom_scan`; a sub-series is a list of SliceInfo that
:mod:`medvis.io.dicom_geometry` orders into a stack and :mod:`medvis.io.dicom_pixels`
turns into voxel values. Enhanced multi-frame files give one SliceInfo per frame
(:mod:`medvis.io.dicom_multiframe`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis.errors import HeaderError

__all__ = [
    "SliceInfo",
    "floats",
    "number",
    "series_metadata",
    "shape_key",
    "slice_from_header",
]

_LOCALIZER_TYPES = frozenset({"LOCALIZER", "SCOUT", "SURVEY"})
_COMPLEX_PARTS = frozenset({"M", "P", "R", "I", "MAGNITUDE", "PHASE", "REAL", "IMAGINARY"})


@dataclass
class SliceInfo:
    """One 2-D image of a series: a single-frame file or one frame of a multi-frame file.

    Attributes
    ----------
    path : Path
        The file holding it.
    frame : int
        Frame index inside the file (0 for single-frame files).
    position : ndarray or None
        *Image Position (Patient)*, LPS mm.
    orientation : ndarray or None
        *Image Orientation (Patient)*, six direction cosines.
    slope, intercept : float
        Rescale of this image (stored value -> modality value).
    instance : int
        *Instance Number*.
    header : Header
        The file's :class:`~medvis.io.dicom_header.Header`.
    pixel_spacing : list of float or None
        *Pixel Spacing* ([row step, column step]).
    step : float or None
        *Spacing Between Slices* or else *Slice Thickness*, for a stack of one.
    time_key : tuple
        Orders images that share a position (temporal position, trigger time, instance).
    split : dict
        Values that separate sub-series of one series when they differ: "localizer",
        "part" (magnitude/phase), "echo", "acquisition", "stack".
    window : tuple of float or None
        (center, width) of this image's VOI window, when it has its own (enhanced files).
    philips_scale : tuple of float or None
        Philips private (scale slope, scale intercept), (2005,100E)/(2005,100D).
    """

    path: Path
    frame: int
    position: NDArray[np.float64] | None
    orientation: NDArray[np.float64] | None
    slope: float
    intercept: float
    instance: int
    header: Any
    pixel_spacing: list[float] | None = None
    step: float | None = None
    time_key: tuple[float, ...] = ()
    split: dict[str, Any] = field(default_factory=dict)
    window: tuple[float, float] | None = None
    philips_scale: tuple[float, float] | None = None


def shape_key(header: Any) -> tuple[int, ...]:
    """(Rows, Columns, SamplesPerPixel, BitsAllocated, BitsStored, PixelRepresentation).

    Raises
    ------
    HeaderError
        A value is missing or impossible.
    """
    if header.shape is not None:
        return header.shape
    values = []
    for keyword in ("Rows", "Columns"):
        value = header.get(keyword)
        if not isinstance(value, int) or value <= 0:
            raise HeaderError(header.path, f"{keyword} is missing or invalid ({value!r})")
        values.append(value)
    bits = header.get("BitsAllocated")
    if not isinstance(bits, int) or bits not in (1, 8, 16, 32, 64):
        raise HeaderError(header.path, f"Bits Allocated is missing or unsupported ({bits!r})")
    stored = header.get("BitsStored", bits)
    if not isinstance(stored, int) or not 0 < stored <= bits:
        raise HeaderError(header.path, f"Bits Stored {stored!r} does not fit Bits Allocated {bits}")
    samples = header.get("SamplesPerPixel", 1)
    representation = header.get("PixelRepresentation", 0)
    header.shape = (*values, int(samples), bits, stored, int(representation))
    return header.shape


# ------------------------------------------------------------ building slices
def floats(value: Any) -> NDArray[np.float64] | None:
    """A DS/FL value (or list) as a float array; None when absent or not numeric."""
    if value is None or value == "":
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        return np.array([float(v) for v in values], float)
    except (TypeError, ValueError):
        return None


def number(value: Any, default: float) -> float:
    """The first number of ``value``, or ``default``."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    try:
        return default if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return default


def step_of(spacing_between: Any, thickness: Any) -> float | None:
    """*Spacing Between Slices*, else *Slice Thickness*, as a positive number or None."""
    for value in (spacing_between, thickness):
        found = number(value, 0.0)
        if found:
            return abs(found)
    return None


def _image_type_split(image_type: Any) -> dict[str, Any]:
    values = [image_type] if isinstance(image_type, str) else list(image_type or [])
    upper = [str(v).upper() for v in values]
    split: dict[str, Any] = {"localizer": bool(_LOCALIZER_TYPES & set(upper))}
    parts = [v for v in upper[2:] if v in _COMPLEX_PARTS]
    if parts:
        split["part"] = parts[0]
    return split


def slice_from_header(header: Any) -> SliceInfo:
    """The :class:`SliceInfo` of a single-frame file from its header values."""
    spacing = floats(header.get("PixelSpacing"))
    instance = int(number(header.get("InstanceNumber"), 0))
    split = _image_type_split(header.get("ImageType"))
    split["echo"] = header.get("EchoNumbers")
    split["acquisition"] = header.get("AcquisitionNumber")
    scale = None
    if header.get("PhilipsScaleSlope") is not None and _philips_creator(header):
        scale = (
            number(header.get("PhilipsScaleSlope"), 1.0),
            number(header.get("PhilipsScaleIntercept"), 0.0),
        )
    center, width = header.get("WindowCenter"), header.get("WindowWidth")
    return SliceInfo(
        path=header.path,
        frame=0,
        position=floats(header.get("ImagePositionPatient")),
        orientation=floats(header.get("ImageOrientationPatient")),
        slope=number(header.get("RescaleSlope"), 1.0),
        intercept=number(header.get("RescaleIntercept"), 0.0),
        instance=instance,
        header=header,
        pixel_spacing=None if spacing is None else spacing.tolist(),
        step=step_of(header.get("SpacingBetweenSlices"), header.get("SliceThickness")),
        time_key=(
            number(header.get("TemporalPositionIdentifier"), 0.0),
            number(header.get("TriggerTime"), 0.0),
            float(instance),
        ),
        split=split,
        window=None if center is None or width is None else (number(center, 0), number(width, 0)),
        philips_scale=scale,
    )


def _philips_creator(header: Any) -> bool:
    creator = header.get("PhilipsPrivateCreator")
    manufacturer = str(header.get("Manufacturer", "")).lower()
    return (
        manufacturer.startswith("philips")
        and "philips mr imaging dd 001" in str(creator or "").lower().strip()
    )


# ------------------------------------------------------------------ metadata
_PHI_FIELDS = {
    "patient_name": "PatientName",
    "patient_id": "PatientID",
    "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex",
    "patient_age": "PatientAge",
    "patient_address": "PatientAddress",
    "other_patient_ids": "OtherPatientIDs",
    "institution_name": "InstitutionName",
    "institution_address": "InstitutionAddress",
    "referring_physician_name": "ReferringPhysicianName",
    "performing_physician_name": "PerformingPhysicianName",
    "operators_name": "OperatorsName",
    "accession_number": "AccessionNumber",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "series_date": "SeriesDate",
    "acquisition_date": "AcquisitionDate",
    "content_date": "ContentDate",
    "study_id": "StudyID",
    "station_name": "StationName",
    "device_serial_number": "DeviceSerialNumber",
}
_TS_NAMES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
}
#: Values that should be the same in every image of a series; a difference is reported.
_CONSISTENT = ("Modality", "PhotometricInterpretation", "BitsStored", "Manufacturer")


def per_series(values: Sequence[Any]) -> Any:
    """One value when all images agree, else the list in storage order."""
    hashable = [tuple(v) if isinstance(v, list) else v for v in values]
    return values[0] if len(set(hashable)) <= 1 else list(values)


def _transfer_syntax_name(uid: str) -> str:
    if not uid:
        return "unknown (no file meta)"
    name = _TS_NAMES.get(uid)
    if name is None:
        from pydicom.uid import UID

        name = UID(uid).name
    return f"{name} ({uid})"


def _common_window(ordered: Sequence[SliceInfo]) -> tuple[Any, Any]:
    """The most common (center, width) of the images, as the file stores it."""
    pairs: list[tuple[Any, Any]] = []
    for s in ordered:
        header = s.header
        if s.window is not None and header.get("WindowCenter") is None:
            pairs.append(s.window)
        else:
            center, width = header.get("WindowCenter"), header.get("WindowWidth")
            if center is not None and width is not None:
                as_tuple = (
                    tuple(center) if isinstance(center, list) else center,
                    tuple(width) if isinstance(width, list) else width,
                )
                pairs.append(as_tuple)
    if not pairs:
        return None, None
    center, width = Counter(pairs).most_common(1)[0][0]
    return (list(center) if isinstance(center, tuple) else center), (
        list(width) if isinstance(width, tuple) else width
    )


def series_metadata(
    ordered: list[SliceInfo], out_dtype: np.dtype[Any], warnings: list[str]
) -> dict[str, Any]:
    """Plain, JSON-serialisable header facts of the series (PHI keys from medvis.phi).

    Values that may vary per image (rescale, slice thickness, echo time) are given once
    when every image agrees, else as a list in storage order. A disagreement in values
    that should be constant (modality, photometric interpretation, bits stored,
    manufacturer) is added to ``warnings``.
    """
    header = ordered[0].header
    headers = list({id(s.header): s.header for s in ordered}.values())
    for keyword in _CONSISTENT:
        seen = {str(h.get(keyword)) for h in headers}
        if len(seen) > 1:
            warnings.append(f"{keyword} differs between the images: {', '.join(sorted(seen))}")
    modality = header.get("Modality")
    has_rescale = any(s.slope != 1 or s.intercept != 0 for s in ordered) or any(
        header.get(keyword) is not None for keyword in ("RescaleSlope", "RescaleIntercept")
    )
    rescale_type = header.get("RescaleType") or ("HU" if modality == "CT" and has_rescale else None)
    center, width = _common_window(ordered)
    meta: dict[str, Any] = {
        "format": "DICOM",
        "modality": modality,
        "manufacturer": header.get("Manufacturer"),
        "study_instance_uid": header.get("StudyInstanceUID"),
        "series_instance_uid": header.get("SeriesInstanceUID"),
        "series_number": header.get("SeriesNumber"),
        "series_description": header.get("SeriesDescription"),
        "sop_class_uid": header.get("SOPClassUID"),
        "image_type": header.get("ImageType"),
        "transfer_syntax": per_series([_transfer_syntax_name(h.transfer_syntax) for h in headers]),
        "bits_allocated": header.get("BitsAllocated"),
        "bits_stored": header.get("BitsStored"),
        "high_bit": header.get("HighBit"),
        "pixel_representation": header.get("PixelRepresentation"),
        "photometric_interpretation": header.get("PhotometricInterpretation"),
        "samples_per_pixel": header.get("SamplesPerPixel", 1),
        "rescale_slope": per_series([s.slope for s in ordered]),
        "rescale_intercept": per_series([s.intercept for s in ordered]),
        "rescale_type": rescale_type,
        "window_center": center,
        "window_width": width,
        "window_explanation": header.get("WindowCenterWidthExplanation"),
        "n_files": len(headers),
        "n_images": len(ordered),
        "number_of_frames": int(number(header.get("NumberOfFrames", 1), 1)),
        "slice_thickness": per_series([h.get("SliceThickness") for h in headers]),
        "echo_time": per_series([h.get("EchoTime") for h in headers]),
        "acquisition_number": per_series([h.get("AcquisitionNumber") for h in headers]),
        "gantry_detector_tilt": header.get("GantryDetectorTilt"),
        "units": "HU" if rescale_type == "HU" and has_rescale else None,
        "dtype": str(out_dtype),
    }
    for key, keyword in _PHI_FIELDS.items():
        meta[key] = header.get(keyword)
    return meta
