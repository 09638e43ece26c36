"""The bridge to pydicom: headers it reads, pixel data it decodes, errors it raises.

Files the fast header walker cannot read (big endian, deflate) get their header from
pydicom; every file whose pixels cannot be copied straight from disk (compressed,
big endian, colour, palette, Modality LUT) is decoded here with ``pixel_array`` and
the pylibjpeg plugins. Two damaged-stream cases are handled on purpose:

* a JPEG sequential (DCT) scan whose SOS header declares a spectral selection end
  (Se) other than 63, which the standard requires and libjpeg enforces: the byte is
  set to 63 and the frame decoded again (what IJG libjpeg, hence dcmtk and GDCM, do
  with a warning). pydicom's ``JPEG-lossy.dcm`` is such a file; it then decodes to
  exactly the voxels of ``JPGExtended.dcm``, its corrected twin;
* a JPEG 2000 codestream whose SIZ marker contradicts the DICOM header (pydicom's
  ``JPEG2000-embedded-sequence-delimiter.dcm`` carries the bytes of a sequence
  delimiter in its SIZ segment, declaring an image 3,723,493,632 columns wide): no
  decoder can read it, and the error says what is wrong instead of the decoder's
  "failed to read the header".
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis.errors import CorruptFileError, DecoderMissingError, MedvisError, TruncatedFileError
from medvis.io.dicom_header import WANTED, Header

__all__ = [
    "check_decoder",
    "decode_file",
    "header_from_dataset",
    "plain_value",
    "pydicom_errors",
]

#: Package to install for each family of compressed transfer syntaxes.
_DECODER_PACKAGES = {
    "1.2.840.10008.1.2.4.5": "pylibjpeg-libjpeg",  # JPEG baseline, extended, lossless
    "1.2.840.10008.1.2.4.70": "pylibjpeg-libjpeg",  # JPEG lossless SV1
    "1.2.840.10008.1.2.4.8": "pylibjpeg-libjpeg",  # JPEG-LS
    "1.2.840.10008.1.2.4.9": "pylibjpeg-openjpeg",  # JPEG 2000
    "1.2.840.10008.1.2.4.20": "pylibjpeg-openjpeg",  # HTJ2K
    "1.2.840.10008.1.2.5": "pylibjpeg-rle",
}
_JPEG_SEQUENTIAL = (0xC0, 0xC1, 0xC2)  # SOF0 baseline, SOF1 extended (SOF2 progressive: Ss/Se vary)


def plain_value(value: Any) -> Any:
    """A pydicom element value as plain Python (str, int, float or a list of them)."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        items = [plain_value(v) for v in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if type(value).__name__ == "Sequence":
        return True
    return str(value)


def header_from_dataset(path: Path, ds: Any) -> Header:
    """A :class:`Header` from a pydicom dataset (files the fast walker cannot read)."""
    values: dict[str, Any] = {}
    for tag, (keyword, _) in WANTED.items():
        if tag >> 16 == 0x0002:
            continue
        elem = ds.get(tag)
        if elem is not None:
            values[keyword] = True if elem.VR == "SQ" else plain_value(elem.value)
    meta = getattr(ds, "file_meta", None)
    values["TransferSyntaxUID"] = str(meta.get("TransferSyntaxUID", "")) if meta else ""
    values["MediaStorageSOPClassUID"] = str(meta.get("MediaStorageSOPClassUID", "")) if meta else ""
    pixel = ds.get_item("PixelData") if "PixelData" in ds else None
    return Header(
        path=path,
        values=values,
        transfer_syntax=values["TransferSyntaxUID"],
        pixel_offset=None if pixel is None else (getattr(pixel, "value_tell", None) or 0),
        pixel_length=None if pixel is None else getattr(pixel, "length", None),
        walked=False,
    )


def check_decoder(path: Path, dataset: Any) -> None:
    """Raise DecoderMissingError when compressed pixel data has no installed decoder."""
    meta = getattr(dataset, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid is None or not uid.is_compressed:
        return
    from pydicom.pixels import get_decoder

    try:
        available = get_decoder(uid).is_available
    except NotImplementedError:
        available = False
    if not available:
        package = next(
            (p for prefix, p in _DECODER_PACKAGES.items() if str(uid).startswith(prefix)), None
        )
        remedy = (
            f"install {package} (pip install pylibjpeg {package})"
            if package
            else "no decoder package for it is known to medvis"
        )
        raise DecoderMissingError(
            path,
            f"pixel data is compressed as {uid.name} ({uid}) and no decoder is installed; {remedy}",
        )


@contextlib.contextmanager
def pydicom_errors(path: Path, notes: list[str] | None = None) -> Iterator[None]:
    """Turn whatever pydicom raises into a typed medvis error naming ``path``.

    Warnings pydicom emits are collected into ``notes`` (the volume's warnings), never
    printed or dropped silently.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for item in caught:
            note = f"{path.name}: pydicom: {item.message}"
            if notes is not None and note not in notes:
                notes.append(note)
    except MedvisError:
        raise
    except EOFError as exc:
        raise TruncatedFileError(path, f"the file ends early ({exc})") from None
    except (RuntimeError, NotImplementedError) as exc:
        text = str(exc)
        if "missing dependencies" in text:
            raise DecoderMissingError(
                path, f"{text}; install pylibjpeg with pylibjpeg-libjpeg and pylibjpeg-openjpeg"
            ) from None
        raise CorruptFileError(path, f"the pixel data cannot be decoded: {text}") from None
    except Exception as exc:
        text = str(exc)
        if "length" in text and ("shorter" in text or "doesn't match" in text or "truncat" in text):
            raise TruncatedFileError(path, f"pixel data is truncated ({text})") from None
        raise CorruptFileError(
            path, f"pydicom cannot read it: {type(exc).__name__}: {text}"
        ) from None


# ------------------------------------------------------------------ decoding
def decode_file(path: Path, notes: list[str]) -> tuple[NDArray[Any], Any, bool]:
    """Decode every frame of one file.

    Returns
    -------
    pixels : ndarray
        ``(frames, rows, cols)`` or ``(frames, rows, cols, samples)``: stored values
        (unused high bits corrected, native byte order), RGB for YBR colour data, the
        palette expanded for PALETTE COLOR, the Modality LUT applied when the file has one.
    dataset : pydicom Dataset
        The file's dataset (without pixel data), for LUT and window details.
    modality_lut : bool
        True when a Modality LUT Sequence was applied (no rescale must follow).

    Raises
    ------
    DecoderMissingError, CorruptFileError, TruncatedFileError
    """
    import pydicom

    with pydicom_errors(path, notes):
        dataset = pydicom.dcmread(path, force=True)
        check_decoder(path, dataset)
        pixels = _pixel_array(path, dataset, notes)
        photometric = str(dataset.get("PhotometricInterpretation", "")).strip()
        lut = False
        if photometric == "PALETTE COLOR":
            from pydicom.pixels import apply_color_lut

            pixels = apply_color_lut(pixels, dataset)
            notes.append(f"{path.name}: PALETTE COLOR expanded to RGB with the file's palette")
        elif "ModalityLUTSequence" in dataset and int(dataset.get("SamplesPerPixel", 1)) == 1:
            from pydicom.pixels import apply_modality_lut

            pixels = apply_modality_lut(pixels, dataset)
            lut = True
    frames = int(plain_value(dataset.get("NumberOfFrames", 1)) or 1)
    rows, cols = int(dataset.Rows), int(dataset.Columns)
    samples = pixels.size // max(1, frames * rows * cols)
    pixels = pixels.reshape((frames, rows, cols, samples) if samples > 1 else (frames, rows, cols))
    if not pixels.dtype.isnative:
        pixels = pixels.astype(pixels.dtype.newbyteorder("="))
    if "PixelData" in dataset:
        del dataset.PixelData
    return pixels, dataset, lut


def _pixel_array(path: Path, dataset: Any, notes: list[str]) -> NDArray[Any]:
    try:
        return np.asarray(dataset.pixel_array)
    except Exception as exc:
        repaired = _repair(path, dataset, exc, notes)
        if repaired is None:
            raise
        return repaired


def _repair(path: Path, dataset: Any, error: Exception, notes: list[str]) -> NDArray[Any] | None:
    """Decode a known kind of damaged stream again after fixing it, or explain it."""
    uid = str(getattr(dataset.file_meta, "TransferSyntaxUID", ""))
    if not getattr(dataset["PixelData"], "is_undefined_length", False):
        return None
    from pydicom.encaps import encapsulate, generate_frames

    frames = int(plain_value(dataset.get("NumberOfFrames", 1)) or 1)
    fragments = list(generate_frames(dataset.PixelData, number_of_frames=frames))
    if uid in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"):
        fixed = [_fix_jpeg_scan_end(f) for f in fragments]
        if any(new is not old for new, old in zip(fixed, fragments, strict=True)):
            dataset.PixelData = encapsulate(fixed)
            notes.append(
                f"{path.name}: the JPEG scan header declared a spectral selection end other "
                "than 63, which sequential JPEG does not allow; decoded with it set to 63"
            )
            return np.asarray(dataset.pixel_array)
    if uid.startswith("1.2.840.10008.1.2.4.9") or uid.startswith("1.2.840.10008.1.2.4.20"):
        problem = _j2k_size_problem(fragments[0], dataset)
        if problem:
            raise CorruptFileError(
                path, f"the JPEG 2000 codestream is damaged: {problem}; no decoder can read it"
            ) from error
    return None


def _fix_jpeg_scan_end(frame: bytes) -> bytes:
    """Set Ss=0, Se=63 in the SOS segments of a sequential DCT JPEG stream (else unchanged)."""
    data = bytearray(frame)
    pos, sequential, changed = 2, False, False
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if marker in _JPEG_SEQUENTIAL[:2]:
            sequential = True
        if marker == 0xDA:  # SOS: length, Ns, Ns x (Cs, Td/Ta), Ss, Se, Ah/Al
            if not sequential:
                return frame
            spectral = pos + 2 + 2 + 1 + 2 * data[pos + 4]
            if data[spectral] != 0 or data[spectral + 1] != 63:
                data[spectral], data[spectral + 1] = 0, 63
                changed = True
            break  # one scan in sequential mode
        pos += 2 + length
    return bytes(data) if changed else frame


def _j2k_size_problem(codestream: bytes, dataset: Any) -> str:
    """Why a J2K codestream's SIZ segment cannot be right for this dataset ("" if it fits)."""
    start = codestream.find(b"\xff\x4f\xff\x51")
    if start < 0 or len(codestream) < start + 4 + 38:
        return "no SOC/SIZ marker at the start of the codestream"
    rsiz, xsiz, ysiz, x0, y0 = struct.unpack_from(">HIIII", codestream, start + 6)
    columns, rows = int(dataset.get("Columns", 0)), int(dataset.get("Rows", 0))
    if (xsiz - x0, ysiz - y0) == (columns, rows):
        return ""
    return (
        f"its SIZ marker declares {xsiz - x0} x {ysiz - y0} pixels (Rsiz 0x{rsiz:04X}) but the "
        f"DICOM header says {columns} x {rows}"
    )


def frame_values(dataset: Any, keywords: Sequence[str]) -> dict[str, Any]:
    """Plain values of top-level ``keywords`` of a dataset (absent ones left out)."""
    return {kw: plain_value(dataset[kw].value) for kw in keywords if kw in dataset}
