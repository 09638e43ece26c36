"""Philips PAR/REC (versions 4 to 4.2) through nibabel.

Scaling follows nibabel's default ("dv", the values shown on the console). Multi-volume
recordings (dynamics, echoes, diffusion) load as frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medvis.errors import MissingFileError
from medvis.io._nibabel_reader import read_with_nibabel
from medvis.io.registry import Reader
from medvis.volume import Volume

__all__ = ["READER", "read_parrec"]

_PAR_SIGNATURE = b"DATA DESCRIPTION FILE"


def _paths(path: Path) -> tuple[Path, Path]:
    par_ext, rec_ext = (".PAR", ".REC") if path.suffix.isupper() else (".par", ".rec")
    return path.with_suffix(par_ext), path.with_suffix(rec_ext)


def _can_read(path: Path, head: bytes) -> bool:
    if path.suffix.lower() == ".rec":
        par = _paths(path)[0]
        if not par.exists():
            return False
        with open(par, "rb") as fh:
            head = fh.read(2048)
    return _PAR_SIGNATURE in head[:2048]


def _metadata(image: Any) -> dict[str, Any]:
    general = image.header.general_info
    keep = (
        "exam_name",
        "protocol_name",
        "series_type",
        "tech",
        "scan_mode",
        "max_dynamics",
        "max_echoes",
        "max_slices",
        "repetition_time",
        "diffusion",
    )
    out: dict[str, Any] = {}
    for key in keep:
        if key in general:
            value = general[key]
            out[key] = value.tolist() if hasattr(value, "tolist") else value
    out["patient_name"] = general.get("patient_name")
    out["study_date"] = general.get("exam_date")
    return out


def read_parrec(path: Path, **options: Any) -> Volume:
    """Read a PAR/REC pair given either file."""
    import nibabel as nib

    par, rec = _paths(path)
    for part in (par, rec):
        if not part.exists():
            raise MissingFileError(
                part, f"the other half of the PAR/REC pair {path.name} is missing"
            )
    scaling = options.get("scaling", "dv")
    return read_with_nibabel(
        par,
        lambda p: nib.parrec.PARRECImage.from_filename(str(p), scaling=scaling, mmap=False),
        format_name="PAR/REC",
        metadata=_metadata,
    )


READER = Reader(name="PAR/REC", extensions=(".par", ".rec"), can_read=_can_read, read=read_parrec)
