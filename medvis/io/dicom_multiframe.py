"""Multi-frame DICOM files: one :class:`~medvis.io.dicom_series.SliceInfo` per frame.

Enhanced objects (Enhanced CT/MR/PET, PS3.3 C.7.6.16) carry each frame's position,
orientation, pixel spacing, rescale and window in functional groups (the frame's own
*Per-frame Functional Groups* item first, then the *Shared* one). Their *Frame
Content* gives the frame's place in the multi-dimensional organisation (PS3.3
C.7.6.17): *Stack ID* and *In-Stack Position*, *Temporal Position Index*, and the
*Dimension Index Values* of the dimensions listed in *Dimension Index Sequence*.
Frames are split like the images of a classic series: stacks and echoes (and
magnitude/phase frame types) become sub-series, repeated positions of one stack
become frames of a 4-D volume ordered by temporal position and the other dimension
indices.

Older multi-frame objects (RT Dose, NM, US cine) give one position and orientation
plus *Grid Frame Offset Vector* or *Spacing Between Slices* along the normal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis.io.dicom_decode import plain_value
from medvis.io.dicom_geometry import orientation_axes, valid_orientation
from medvis.io.dicom_series import SliceInfo, floats, number, slice_from_header, step_of

__all__ = ["frames_from_dataset"]

# Dimensions that place a frame in space or in a stack, or split sub-series: not time.
_SPATIAL_POINTERS = frozenset(
    {
        0x00209056,  # StackID
        0x00209057,  # InStackPositionNumber
        0x00200032,  # ImagePositionPatient
        0x00200037,  # ImageOrientationPatient
        0x00189082,  # EffectiveEchoTime
        0x00209128,  # TemporalPositionIndex (ordered first anyway)
    }
)


def _group_item(ds: Any, frame: int, sequence: str) -> Any:
    """The item of ``sequence`` for a frame: its per-frame group first, then the shared one."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame):
        items = per_frame[frame].get(sequence)
        if items:
            return items[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        items = shared[0].get(sequence)
        if items:
            return items[0]
    return None


def _group_value(ds: Any, frame: int, sequence: str, keyword: str) -> Any:
    item = _group_item(ds, frame, sequence)
    if item is None or keyword not in item:
        return None
    return plain_value(item[keyword].value)


def _philips_frame_scale(ds: Any, frame: int) -> tuple[float, float] | None:
    """Philips private scale (2005,100E)/(2005,100D), from the frame's private item."""
    if not str(ds.get("Manufacturer", "")).lower().startswith("philips"):
        return None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    containers = [per_frame[frame]] if per_frame is not None and frame < len(per_frame) else []
    containers.append(ds)
    for container in containers:
        for elem in container:
            if elem.tag.group != 0x2005 or elem.VR != "SQ" or not elem.value:
                continue
            item = elem.value[0]
            slope = item.get((0x2005, 0x100E))
            if slope is not None and isinstance(slope.value, float):
                intercept = item.get((0x2005, 0x100D))
                return float(slope.value), float(intercept.value) if intercept else 0.0
    return None


def frames_from_dataset(ds: Any, header: Any) -> tuple[list[SliceInfo], list[str]]:
    """One :class:`SliceInfo` per frame of a multi-frame file, and notes for the user."""
    n_frames = int(number(header.get("NumberOfFrames"), 1))
    base = slice_from_header(header)
    enhanced = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    offsets = (
        floats(plain_value(ds["GridFrameOffsetVector"].value))
        if "GridFrameOffsetVector" in ds
        else None
    )
    pointers = [
        int(item.DimensionIndexPointer)
        for item in ds.get("DimensionIndexSequence", [])
        if "DimensionIndexPointer" in item
    ]
    warnings: list[str] = []
    slices = []
    for n in range(n_frames):
        item = SliceInfo(**{**base.__dict__, "frame": n, "instance": n, "split": dict(base.split)})
        item.time_key = (float(n),)
        if enhanced:
            _apply_functional_groups(item, ds, n, pointers)
        elif valid_orientation(base.orientation) and base.position is not None:
            item.position = _offset_position(base, n, offsets, warnings)
        slices.append(item)
    return slices, sorted(set(warnings))


def _apply_functional_groups(item: SliceInfo, ds: Any, n: int, pointers: list[int]) -> None:
    position = floats(_group_value(ds, n, "PlanePositionSequence", "ImagePositionPatient"))
    orientation = floats(_group_value(ds, n, "PlaneOrientationSequence", "ImageOrientationPatient"))
    spacing = floats(_group_value(ds, n, "PixelMeasuresSequence", "PixelSpacing"))
    item.position = position if position is not None else item.position
    item.orientation = orientation if orientation is not None else item.orientation
    item.pixel_spacing = spacing.tolist() if spacing is not None else item.pixel_spacing
    step = step_of(
        _group_value(ds, n, "PixelMeasuresSequence", "SpacingBetweenSlices"),
        _group_value(ds, n, "PixelMeasuresSequence", "SliceThickness"),
    )
    item.step = step or item.step
    slope = _group_value(ds, n, "PixelValueTransformationSequence", "RescaleSlope")
    intercept = _group_value(ds, n, "PixelValueTransformationSequence", "RescaleIntercept")
    item.slope = number(slope, item.slope)
    item.intercept = number(intercept, item.intercept)
    center = _group_value(ds, n, "FrameVOILUTSequence", "WindowCenter")
    width = _group_value(ds, n, "FrameVOILUTSequence", "WindowWidth")
    if center is not None and width is not None:
        item.window = (number(center, 0.0), number(width, 0.0))
    item.philips_scale = _philips_frame_scale(ds, n) or item.philips_scale
    # Sub-series keys: stack, echo, frame type (magnitude/phase ...).
    content = _group_item(ds, n, "FrameContentSequence")
    values = {} if content is None else {e.keyword: e.value for e in content if e.keyword}
    item.split["stack"] = plain_value(values.get("StackID"))
    item.split["echo"] = _group_value(ds, n, "MREchoSequence", "EffectiveEchoTime")
    frame_type = _group_value(ds, n, "MRImageFrameTypeSequence", "FrameType") or _group_value(
        ds, n, "CTImageFrameTypeSequence", "FrameType"
    )
    if isinstance(frame_type, list) and len(frame_type) > 2:
        item.split["part"] = str(frame_type[2]).upper()
    item.split["acquisition"] = None
    # Time: temporal position, trigger delay, then the remaining dimension indices.
    temporal = number(plain_value(values.get("TemporalPositionIndex")), 0.0)
    trigger = number(
        _group_value(ds, n, "CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime"),
        0.0,
    )
    indices = plain_value(values.get("DimensionIndexValues"))
    indices = indices if isinstance(indices, list) else [] if indices is None else [indices]
    others = [
        float(v) for p, v in zip(pointers, indices, strict=False) if p not in _SPATIAL_POINTERS
    ]
    item.time_key = (temporal, trigger, *others, float(n))


def _offset_position(
    base: SliceInfo, n: int, offsets: NDArray[np.float64] | None, warnings: list[str]
) -> NDArray[np.float64] | None:
    assert base.orientation is not None and base.position is not None
    normal = orientation_axes(base.orientation)[2]
    if offsets is not None and len(offsets) > n:
        return base.position + offsets[n] * normal
    if base.step:
        warnings.append(
            "frames have no positions of their own; placed along the slice normal "
            f"every {base.step:g} mm (Spacing Between Slices or Slice Thickness)"
        )
        return base.position + n * base.step * normal
    return None
