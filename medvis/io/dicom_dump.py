"""``medvis info --tags``: every element of one DICOM file, for display (PHI hidden)."""

from __future__ import annotations

import os
from typing import Any

from medvis.errors import UnsupportedFormatError
from medvis.io._files import check_input
from medvis.io.dicom_decode import pydicom_errors
from medvis.io.dicom_scan import dicom_files
from medvis.phi import PHI_DICOM_KEYWORDS

__all__ = ["dicom_elements"]

_MAX_VALUE_CHARS = 80


def dicom_elements(path: str | os.PathLike[str], *, phi: bool = False) -> list[dict[str, Any]]:
    """Every element of one DICOM file (the first DICOM file of a folder), for display.

    Parameters
    ----------
    path : path-like
        A DICOM file or a folder.
    phi : bool
        Show identifying values (keywords of :data:`medvis.phi.PHI_DICOM_KEYWORDS`);
        by default they read ``"<hidden>"``.

    Returns
    -------
    list of dict
        ``{"tag": "(0010,0010)", "keyword", "vr", "value", "depth"}`` in file order;
        sequence items follow their sequence with a larger ``depth``. Long values are
        abbreviated; an element whose length does not fit its VR is shown raw as UN.

    Raises
    ------
    UnsupportedFormatError
        A folder without DICOM files.
    CorruptFileError
        pydicom cannot parse the file.
    """
    source = check_input(path)
    target = next(dicom_files(source), None) if source.is_dir() else source
    if target is None:
        raise UnsupportedFormatError(source, "the folder holds no DICOM file")
    rows: list[dict[str, Any]] = []
    with pydicom_errors(target):
        import pydicom

        dataset = pydicom.dcmread(target, force=True)
        meta = getattr(dataset, "file_meta", None)
        if meta is not None:
            _dump(meta, 0, rows, phi)
        _dump(dataset, 0, rows, phi)
    return rows


def _dump(dataset: Any, depth: int, rows: list[dict[str, Any]], phi: bool) -> None:
    for tag in dataset.keys():
        text_tag = f"({tag.group:04X},{tag.element:04X})"
        try:
            elem = dataset[tag]
        except Exception:  # e.g. a value whose length does not fit its VR (pydicom raises)
            raw = dataset.get_item(tag)
            value = _short(f"{bytes(raw.value or b'')!r} (length does not fit its VR)")
            rows.append(
                {"tag": text_tag, "keyword": "", "vr": "UN", "value": value, "depth": depth}
            )
            continue
        keyword = elem.keyword or ""
        row = {"tag": text_tag, "keyword": keyword, "vr": str(elem.VR), "depth": depth}
        if keyword in PHI_DICOM_KEYWORDS and not phi and elem.value not in (None, "", b""):
            rows.append({**row, "value": "<hidden>"})
        elif elem.VR == "SQ":
            rows.append({**row, "value": f"<{len(elem.value)} item(s)>"})
            for n, item in enumerate(elem.value, start=1):
                rows.append(
                    {
                        "tag": "(FFFE,E000)",
                        "keyword": "Item",
                        "vr": "",
                        "value": f"item {n}",
                        "depth": depth + 1,
                    }
                )
                _dump(item, depth + 2, rows, phi)
        else:
            rows.append({**row, "value": _format_value(elem.value)})


def _format_value(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>" if len(value) > 16 else repr(bytes(value))
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return _short("\\".join(str(v) for v in value))
    return _short("" if value is None else str(value))


def _short(text: str) -> str:
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."
