"""A minimal, fast DICOM header walker for the little-endian transfer syntaxes.

``pydicom.dcmread`` builds a full dataset (every element decoded into Python objects)
and costs about a millisecond per file; a viewer opening a 300-slice series only needs
two dozen values and the place of the pixel data. :func:`parse_header` reads the first
bytes of a file, walks the elements (file meta in explicit VR little endian, then the
dataset in explicit or implicit VR little endian, stepping over sequences of defined
and undefined length at any depth) and keeps only the top-level values listed in
:data:`WANTED`, stopping at (7FE0,0010) *Pixel Data*.

Anything it cannot walk (big endian, deflate, a damaged element) raises
:class:`NotWalkable`, and the caller falls back to pydicom.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medvis.errors import HeaderError, TruncatedFileError
from medvis.io.dicom_values import decode_text, decode_value, text

__all__ = [
    "EXPLICIT_LE",
    "IMPLICIT_LE",
    "NATIVE_LE",
    "WANTED",
    "Header",
    "NotDicom",
    "NotWalkable",
    "looks_like_dicom",
    "parse_header",
]

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
DEFLATED_IMAGE = "1.2.840.10008.1.2.8.1"
#: Transfer syntaxes whose pixel data the fast path reads straight from the file.
NATIVE_LE = frozenset({IMPLICIT_LE, EXPLICIT_LE})

CHUNK = 16384
UNDEFINED = 0xFFFFFFFF
PIXEL_DATA = 0x7FE00010
ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D
SEQUENCE_END = 0xFFFEE0DD
_LAST_WANTED_GROUP_END = 0x0028FFFF

_LONG_VRS = frozenset(vr.encode() for vr in "OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())
_ALL_VRS = _LONG_VRS | frozenset(
    vr.encode() for vr in "AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split()
)
#: VR -> size of an explicit VR element header (12 for VRs with a 4-byte length).
_HEADER_SIZE = {vr: (12 if vr in _LONG_VRS else 8) for vr in _ALL_VRS}
_EXPLICIT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHI")
_UINT32 = struct.Struct("<I")
_TAG = struct.Struct("<HH")

#: Top-level elements the reader needs: tag -> (keyword, VR used when the file is implicit).
WANTED: dict[int, tuple[str, str]] = {
    0x00020010: ("TransferSyntaxUID", "UI"), 0x00080005: ("SpecificCharacterSet", "CS"),
    0x00080008: ("ImageType", "CS"), 0x00080016: ("SOPClassUID", "UI"),
    0x00080018: ("SOPInstanceUID", "UI"), 0x00080020: ("StudyDate", "DA"),
    0x00080021: ("SeriesDate", "DA"), 0x00080022: ("AcquisitionDate", "DA"),
    0x00080023: ("ContentDate", "DA"), 0x00080030: ("StudyTime", "TM"),
    0x00080050: ("AccessionNumber", "SH"), 0x00080060: ("Modality", "CS"),
    0x00080070: ("Manufacturer", "LO"), 0x00080080: ("InstitutionName", "LO"),
    0x00080081: ("InstitutionAddress", "ST"), 0x00080090: ("ReferringPhysicianName", "PN"),
    0x00081010: ("StationName", "SH"), 0x0008103E: ("SeriesDescription", "LO"),
    0x00081050: ("PerformingPhysicianName", "PN"), 0x00081070: ("OperatorsName", "PN"),
    0x00100010: ("PatientName", "PN"), 0x00100020: ("PatientID", "LO"),
    0x00100030: ("PatientBirthDate", "DA"), 0x00100040: ("PatientSex", "CS"),
    0x00101000: ("OtherPatientIDs", "LO"), 0x00101010: ("PatientAge", "AS"),
    0x00101040: ("PatientAddress", "LO"), 0x00180050: ("SliceThickness", "DS"),
    0x00180088: ("SpacingBetweenSlices", "DS"), 0x00181000: ("DeviceSerialNumber", "LO"),
    0x0020000E: ("SeriesInstanceUID", "UI"), 0x00200010: ("StudyID", "SH"),
    0x00200012: ("AcquisitionNumber", "IS"), 0x00200013: ("InstanceNumber", "IS"),
    0x00200032: ("ImagePositionPatient", "DS"), 0x00200037: ("ImageOrientationPatient", "DS"),
    0x00280002: ("SamplesPerPixel", "US"), 0x00280004: ("PhotometricInterpretation", "CS"),
    0x00280006: ("PlanarConfiguration", "US"), 0x00280008: ("NumberOfFrames", "IS"),
    0x00280010: ("Rows", "US"), 0x00280011: ("Columns", "US"),
    0x00280030: ("PixelSpacing", "DS"), 0x00280100: ("BitsAllocated", "US"),
    0x00280101: ("BitsStored", "US"), 0x00280102: ("HighBit", "US"),
    0x00280103: ("PixelRepresentation", "US"), 0x00281050: ("WindowCenter", "DS"),
    0x00281051: ("WindowWidth", "DS"), 0x00281052: ("RescaleIntercept", "DS"),
    0x00281053: ("RescaleSlope", "DS"), 0x00281054: ("RescaleType", "LO"),
    # scanning (series and sub-series), 4-D order, geometry checks, pixel values
    0x00020002: ("MediaStorageSOPClassUID", "UI"), 0x00080031: ("SeriesTime", "TM"),
    0x00080032: ("AcquisitionTime", "TM"), 0x00080033: ("ContentTime", "TM"),
    0x00180081: ("EchoTime", "DS"), 0x00180086: ("EchoNumbers", "IS"),
    0x00181060: ("TriggerTime", "DS"), 0x00181120: ("GantryDetectorTilt", "DS"),
    0x0020000D: ("StudyInstanceUID", "UI"), 0x00200011: ("SeriesNumber", "IS"),
    0x00200100: ("TemporalPositionIdentifier", "IS"),
    0x00200105: ("NumberOfTemporalPositions", "IS"),
    0x00280120: ("PixelPaddingValue", "US"), 0x00280121: ("PixelPaddingRangeLimit", "US"),
    0x00281055: ("WindowCenterWidthExplanation", "LO"),
    0x00283000: ("ModalityLUTSequence", "SQ"), 0x00283010: ("VOILUTSequence", "SQ"),
    # Philips MR private scaling (read only when Manufacturer is Philips and Modality MR)
    0x20050010: ("PhilipsPrivateCreator", "LO"), 0x2005100D: ("PhilipsScaleIntercept", "FL"),
    0x2005100E: ("PhilipsScaleSlope", "FL"),
}  # fmt: skip
_TAG_OF = {keyword: tag for tag, (keyword, _) in WANTED.items()}


class NotWalkable(Exception):
    """The walker cannot handle this file (encoding or structure); use pydicom instead."""


class NotDicom(Exception):
    """The file is not a DICOM file at all (no preamble, no plausible dataset)."""


@dataclass
class Header:
    """The values of one file the reader needs, plus where its pixel data lies.

    Values are decoded on first use: a series of hundreds of files needs only the
    geometry and pixel-format values of most of them.

    Attributes
    ----------
    path : Path
        The file.
    raw : dict
        Tag -> (value bytes, VR bytes from the file, empty when implicit) of each element
        of :data:`WANTED` present at the top level, not yet decoded.
    values : dict
        Keyword -> decoded value (str, int, float or list of them); filled from ``raw``
        by :meth:`get` (or directly, for headers read with pydicom).
    transfer_syntax : str
        Transfer syntax UID ("" when the file has no file meta and it was guessed).
    pixel_offset : int or None
        Byte offset of the first pixel byte (after the element header); None when the
        file has no (7FE0,0010) element.
    pixel_length : int or None
        Declared length of the pixel data (``0xFFFFFFFF`` when encapsulated).
    file_size : int
        Size of the file in bytes.
    walked : bool
        True when this header came from the fast walker (False: from pydicom).
    shape : tuple of int or None
        Pixel format, cached by :func:`medvis.io.dicom_series.shape_key`.
    """

    path: Path
    raw: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    transfer_syntax: str = ""
    pixel_offset: int | None = None
    pixel_length: int | None = None
    file_size: int = 0
    walked: bool = True
    shape: tuple[int, ...] | None = None

    def get(self, keyword: str, default: Any = None) -> Any:
        """The decoded value of ``keyword``, or ``default`` when absent or empty.

        Raises
        ------
        HeaderError
            The element's bytes do not decode as its VR says.
        """
        if keyword in self.values:
            value = self.values[keyword]
        elif _TAG_OF.get(keyword) in self.raw:
            data, file_vr = self.raw[_TAG_OF[keyword]]
            vr = WANTED[_TAG_OF[keyword]][1] if file_vr in (b"", b"UN") else file_vr.decode()
            try:
                value = decode_value(data, vr)
            except (ValueError, struct.error) as exc:
                raise HeaderError(self.path, f"cannot decode {keyword} ({vr}): {exc}") from None
            if isinstance(value, bytes):
                value = decode_text(value, self.get("SpecificCharacterSet"))
            self.values[keyword] = value
        else:
            return default
        return default if value is None or value == "" else value

    @property
    def has_pixels(self) -> bool:
        """True when the file holds (7FE0,0010) Pixel Data."""
        return self.pixel_offset is not None

    @property
    def encapsulated(self) -> bool:
        """True when the pixel data is encapsulated (compressed fragments)."""
        return self.pixel_length == UNDEFINED


class _Source:
    """The bytes of a file read so far, grown on demand."""

    __slots__ = ("data", "fh", "path", "size")

    def __init__(self, path: Path, fh: Any, size: int, first: bytes) -> None:
        self.path = path
        self.fh = fh
        self.size = size
        self.data = first

    def need(self, end: int, what: str) -> bytes:
        """Make sure bytes up to ``end`` are loaded; raise when the file is shorter."""
        if end > self.size:
            raise TruncatedFileError(
                self.path,
                f"the file ends at byte {self.size} inside {what}, which needs {end} bytes; "
                "the file is truncated or damaged",
            )
        if end > len(self.data):
            more = max(end - len(self.data), len(self.data), CHUNK)
            self.fh.seek(len(self.data))
            self.data += self.fh.read(more)
            if end > len(self.data):  # pragma: no cover - file shrank while reading
                raise TruncatedFileError(self.path, f"the file ended early inside {what}")
        return self.data


def looks_like_dicom(head: bytes) -> bool:
    """True when ``head`` has the DICM magic or starts like a little-endian dataset.

    The second case is a file without the 128-byte preamble: its first element must be
    in group 0x0002 or 0x0008 with a valid VR (explicit) or a short even length (implicit).
    """
    if head[128:132] == b"DICM":
        return True
    return _dataset_start(head) is not None


def _dataset_start(head: bytes) -> bool | None:
    """Whether a preamble-less ``head`` is explicit (True) or implicit (False), or None."""
    if len(head) < 8:
        return None
    group = _TAG.unpack_from(head, 0)[0]
    if group not in (0x0002, 0x0008):
        return None
    if head[4:6] in _ALL_VRS:
        return True
    length = _UINT32.unpack_from(head, 4)[0]
    return False if length < 1024 and length % 2 == 0 else None


def parse_header(path: Path, *, require_magic: bool = False) -> Header:
    """Walk the header of one DICOM file up to its pixel data.

    Parameters
    ----------
    path : Path
        The file.
    require_magic : bool
        Refuse (NotDicom) a file without the DICM magic even if it starts like a dataset.

    Returns
    -------
    Header
        The wanted values and the pixel data's offset and length.

    Raises
    ------
    NotDicom
        The file has neither the DICM magic nor a plausible dataset start.
    NotWalkable
        Big endian, deflated or otherwise unusual: read it with pydicom instead.
    TruncatedFileError
        The file ends inside the header.
    """
    with open(path, "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        src = _Source(path, fh, size, fh.read(CHUNK))
        header = Header(path=path, file_size=size)
        pos, explicit = _read_meta(src, header, require_magic)
        _walk_dataset(src, pos, explicit, header)
    return header


def _read_meta(src: _Source, header: Header, require_magic: bool) -> tuple[int, bool]:
    """Parse the file meta group; return where the dataset starts and whether it is explicit."""
    data = src.data
    if data[128:132] == b"DICM":
        pos = 132
    else:
        guess = None if require_magic else _dataset_start(data)
        if guess is None:
            raise NotDicom(src.path)
        pos = 0
        if data[:2] != b"\x02\x00":
            return pos, guess
    ts = ""
    while True:
        data = src.need(pos + 8, "the file meta information")
        group, element, vr, length = _EXPLICIT.unpack_from(data, pos)
        if group != 0x0002:
            break
        size = _HEADER_SIZE.get(vr)
        if size is None:
            raise NotWalkable("file meta information is not explicit VR")
        if size == 12:
            data = src.need(pos + 12, "the file meta information")
            length = _UINT32.unpack_from(data, pos + 8)[0]
            pos += 12
        else:
            pos += 8
        if length == UNDEFINED:
            raise NotWalkable("undefined length in the file meta information")
        data = src.need(pos + length, f"file meta element (0002,{element:04X})")
        if element == 0x0010:
            ts = text(data[pos : pos + length])
            header.values["TransferSyntaxUID"] = ts
        pos += length
    header.transfer_syntax = ts
    if ts in (EXPLICIT_BE, DEFLATED_LE, DEFLATED_IMAGE):
        raise NotWalkable(f"transfer syntax {ts} is not little endian uncompressed")
    if not ts:
        guess = _dataset_start(src.need(pos + 8, "the first dataset element")[pos:])
        return pos, bool(guess)
    return pos, ts != IMPLICIT_LE


def _walk_dataset(src: _Source, pos: int, explicit: bool, header: Header) -> None:
    """Walk top-level elements from ``pos``; keep wanted values and the pixel data place.

    This loop runs for every element of every file of a series, so it is written flat:
    one unpack per element, one dict lookup for the element header size, and the rare
    cases (groups past 0028, undefined lengths, reading more) behind single tests.
    """
    raw = header.raw
    wanted = WANTED
    header_size = _HEADER_SIZE
    data = src.data
    n = len(data)
    if pos + 6 <= n and explicit != (data[pos + 4 : pos + 6] in header_size):
        explicit = not explicit  # the file lies about its VR encoding (pydicom also tolerates it)
    checked_tail = False
    while True:
        if pos + 12 > n:
            if pos >= src.size:
                return  # no pixel data in this file
            data = src.need(min(pos + 12, src.size), "an element header")
            n = len(data)
            if pos + 8 > n:
                raise TruncatedFileError(src.path, "the file ends inside an element header")
        if explicit:
            group, element, vr, length = _EXPLICIT.unpack_from(data, pos)
            size = header_size.get(vr)
            if size == 12:
                if pos + 12 > n:
                    raise TruncatedFileError(src.path, "the file ends inside an element header")
                length = _UINT32.unpack_from(data, pos + 8)[0]
            elif size is None:
                raise NotWalkable(f"invalid VR {vr!r} at byte {pos}")
        else:
            group, element, length = _IMPLICIT.unpack_from(data, pos)
            vr = b""
            size = 8
        tag = (group << 16) | element
        start = pos + size
        if tag > _LAST_WANTED_GROUP_END:
            if tag >= PIXEL_DATA:
                if tag == PIXEL_DATA:
                    header.pixel_offset = start
                    header.pixel_length = length
                return  # past pixel data: this file has none
            if not checked_tail:
                checked_tail = True
                if not _wants_private(raw) and _pixel_data_at_tail(src, explicit, header):
                    return
        if length == UNDEFINED:
            if vr not in (b"SQ", b"UN", b""):
                raise NotWalkable(f"undefined length on element ({group:04X},{element:04X})")
            if tag in wanted:  # a sequence medvis only needs to know is there (LUTs)
                raw[tag] = (b"", b"SQ")
            pos = _skip_sequence(src, start, explicit and vr != b"UN")
            data = src.data
            n = len(data)
            continue
        pos = start + length
        if tag in wanted:
            if pos > n:
                data = src.need(pos, f"element ({group:04X},{element:04X})")
                n = len(data)
            raw[tag] = (data[start:pos], vr)


def _wants_private(raw: dict[int, tuple[bytes, bytes]]) -> bool:
    """True for Philips MR files, whose private scale factors (2005,100D/E) are wanted."""
    manufacturer = raw.get(0x00080070, (b"", b""))[0]
    modality = raw.get(0x00080060, (b"", b""))[0]
    return manufacturer[:7].lower() == b"philips" and modality[:2] == b"MR"


def _pixel_data_at_tail(src: _Source, explicit: bool, header: Header) -> bool:
    """Find (7FE0,0010) as the last element of the file without walking private groups.

    Most files end with the pixel data. When the element header that the image size
    predicts sits exactly at ``file_size - pixel_bytes`` (tag, VR and length all match),
    the walk can stop here.
    """
    try:
        expected = (
            int(header.get("Rows"))
            * int(header.get("Columns"))
            * int(header.get("SamplesPerPixel", 1))
            * int(header.get("NumberOfFrames", 1))
            * int(header.get("BitsAllocated"))
            // 8
        )
    except (TypeError, ValueError, HeaderError):
        return False
    expected += expected % 2
    head_size = 12 if explicit else 8
    at = src.size - expected - head_size
    if expected == 0 or at < 0:
        return False
    if at + head_size <= len(src.data):
        element = src.data[at : at + head_size]
    else:
        src.fh.seek(at)
        element = src.fh.read(head_size)
    if explicit:
        ok = element[:6] in (b"\xe0\x7f\x10\x00OW", b"\xe0\x7f\x10\x00OB")
        ok = ok and _UINT32.unpack_from(element, 8)[0] == expected
    else:
        ok = element[:8] == b"\xe0\x7f\x10\x00" + _UINT32.pack(expected)
    if ok:
        header.pixel_offset = at + head_size
        header.pixel_length = expected
    return ok


def _skip_sequence(src: _Source, pos: int, explicit: bool) -> int:
    """Skip the items of an undefined-length sequence starting at ``pos``; return its end."""
    while True:
        data = src.need(pos + 8, "a sequence item")
        group, element, length = _IMPLICIT.unpack_from(data, pos)
        tag = (group << 16) | element
        pos += 8
        if tag == SEQUENCE_END:
            return pos
        if tag != ITEM:
            raise NotWalkable(f"unexpected tag ({group:04X},{element:04X}) inside a sequence")
        if length != UNDEFINED:
            pos += length
            continue
        pos = _skip_item(src, pos, explicit)


def _skip_item(src: _Source, pos: int, explicit: bool) -> int:
    """Skip the elements of an undefined-length item; return the position after it."""
    while True:
        data = src.need(pos + 8, "a sequence item")
        group, element = _TAG.unpack_from(data, pos)
        tag = (group << 16) | element
        if tag == ITEM_END:
            return pos + 8
        vr_bytes = b""
        if explicit:
            vr_bytes = data[pos + 4 : pos + 6]
            if vr_bytes in _LONG_VRS:
                data = src.need(pos + 12, "an element header")
                length = _UINT32.unpack_from(data, pos + 8)[0]
                pos += 12
            elif vr_bytes in _ALL_VRS:
                length = struct.unpack_from("<H", data, pos + 6)[0]
                pos += 8
            else:
                raise NotWalkable(f"invalid VR {vr_bytes!r} in a sequence item")
        else:
            length = _UINT32.unpack_from(data, pos + 4)[0]
            pos += 8
        if length == UNDEFINED:
            pos = _skip_sequence(src, pos, explicit and vr_bytes != b"UN")
        else:
            pos += length
