"""Decoding the values the header walker keeps: numbers, text with its character set."""

from __future__ import annotations

import struct
import warnings
from typing import Any

__all__ = ["decode_text", "decode_value", "text"]

_UINT32 = struct.Struct("<I")
_TEXT_VRS = frozenset({"LO", "SH", "PN", "ST", "LT", "UC", "UT"})


def decode_text(value: bytes, charset: str | list[str] | None) -> str | list[str]:
    """Decode a text element (LO, PN, ...) with the file's Specific Character Set."""
    names = [charset] if isinstance(charset, str) else list(charset or [])
    if not names or set(names) <= {"", "ISO_IR 100", "ISO_IR 6", "ISO 2022 IR 6"}:
        decoded = value.decode("latin-1")
    elif names == ["ISO_IR 192"]:
        decoded = value.decode("utf-8", errors="replace")
    else:  # other and code-extension character sets: let pydicom do it
        from pydicom.charset import decode_bytes

        with warnings.catch_warnings():  # unknown charsets: pydicom falls back to latin-1
            warnings.simplefilter("ignore")
            decoded = decode_bytes(value, names, set())
    decoded = decoded.strip(" \x00")
    if "\\" in decoded:
        return [part.strip() for part in decoded.split("\\")]
    return decoded


def decode_value(value: bytes, vr: str) -> Any:
    """One element value as str, int, float, or a list of them when multi-valued."""
    if vr == "US":
        return struct.unpack_from("<H", value)[0] if len(value) >= 2 else None
    if vr == "SS":
        return struct.unpack_from("<h", value)[0] if len(value) >= 2 else None
    if vr == "UL":
        return _UINT32.unpack_from(value)[0] if len(value) >= 4 else None
    if vr == "FL":
        return struct.unpack_from("<f", value)[0] if len(value) >= 4 else None
    if vr == "FD":
        return struct.unpack_from("<d", value)[0] if len(value) >= 8 else None
    if vr == "SQ":
        return True  # only presence matters (Modality/VOI LUT Sequence)
    if vr in _TEXT_VRS:
        return value  # decoded later with the file's character set (only for metadata)
    txt = text(value)
    if vr in ("DS", "IS"):
        if "\\" not in txt:
            return (float(txt) if vr == "DS" else int(float(txt))) if txt else None
        parts = [p.strip() for p in txt.split("\\")]
        numbers = [float(p) if vr == "DS" else int(float(p)) for p in parts if p]
        if not numbers:
            return None
        return numbers[0] if len(numbers) == 1 else numbers
    if "\\" in txt:
        return [p.strip() for p in txt.split("\\")]
    return txt


def text(value: bytes) -> str:
    """ASCII-ish element text without padding (spaces and NULs)."""
    return value.decode("latin-1").strip(" \x00")
