"""ANALYZE 7.5 ``.hdr``/``.img`` pairs, with SPM's origin field and scale factor.

nibabel's ``Spm2AnalyzeImage`` reads the origin stored in ``originator`` (SPM99/SPM2)
and the scale in ``funused1``. ANALYZE has no orientation field: like nibabel, SPM and
FSL, the storage is taken as radiological (x flipped, "LAS").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medvis.errors import MissingFileError
from medvis.io._files import read_head
from medvis.io._nibabel_reader import read_with_nibabel
from medvis.io.nifti import _pair_paths, header_path, nifti_version
from medvis.io.registry import Reader
from medvis.volume import Volume

__all__ = ["READER", "read_analyze"]


def _is_analyze_header(head: bytes) -> bool:
    if len(head) < 348 or nifti_version(head) is not None:
        return False
    return int.from_bytes(head[:4], "little") == 348 or int.from_bytes(head[:4], "big") == 348


def _can_read(path: Path, head: bytes) -> bool:
    hdr = header_path(path)
    if hdr.suffix.lower() not in (".hdr", ".gz", ".img"):
        return False
    if hdr != path:
        if not hdr.exists():
            return False
        head = read_head(hdr)
    return _is_analyze_header(head)


def _metadata(image: Any) -> dict[str, Any]:
    header = image.header
    origin = header.get("origin")
    return {
        "datatype": str(header.get_data_dtype()),
        "spm_origin": None if origin is None else [int(v) for v in origin[:3]],
        "scale_factor": float(header["scl_slope"]) if "scl_slope" in header else None,
        "description": bytes(header["descrip"]).split(b"\0", 1)[0].decode("latin-1"),
        "orientation_assumed": "radiological (x flipped), as nibabel/SPM",
    }


def read_analyze(path: Path, **_options: Any) -> Volume:
    """Read an ANALYZE 7.5 pair given either half."""
    import nibabel as nib

    hdr, img = _pair_paths(path)
    for part in (hdr, img):
        if not part.exists():
            raise MissingFileError(
                part, f"the other half of the ANALYZE pair {path.name} is missing"
            )
    return read_with_nibabel(
        hdr,
        lambda p: nib.spm2analyze.Spm2AnalyzeImage.from_filename(str(p), mmap=False),
        format_name="ANALYZE 7.5",
        metadata=_metadata,
    )


READER = Reader(
    name="ANALYZE 7.5", extensions=(".hdr", ".img"), can_read=_can_read, read=read_analyze
)
