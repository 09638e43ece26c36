"""Folder scanning: files -> headers -> series -> sub-series, headers only.

A folder is walked recursively (hidden files and folders skipped); a DICOMDIR file
given as the path lists the files to read. Every file's header is walked by
:mod:`medvis.io.dicom_header` (pydicom only for big endian and deflated files), never
its pixel data. Files that are not DICOM, DICOM objects without pixels (structured
reports, presentation states, the DICOMDIR itself, RT plans), and files whose pixel
data is cut short are skipped, the last with a warning.

Images are grouped by *Series Instance UID*, then split into sub-series when they
differ in size, orientation, image type (localizer, magnitude/phase), echo, stack
(enhanced files), or acquisition number when one acquisition repeats the positions of
another. Repeated positions that remain (a time series) are kept together and become
the frames of a 4-D volume.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medvis.errors import CorruptFileError, MedvisError, UnsupportedFormatError, WrongMagicError
from medvis.io._files import split_name
from medvis.io.dicom_decode import header_from_dataset, pydicom_errors
from medvis.io.dicom_header import Header, NotDicom, NotWalkable, parse_header
from medvis.io.dicom_series import SliceInfo, shape_key, slice_from_header

__all__ = ["SubSeries", "choose", "dicom_files", "list_series", "scan", "walk"]

EXTENSIONS = (".dcm", ".ima", ".dicom")
#: SOP classes that hold no image even when a file carries pixel-like data.
_NON_IMAGE_SOP_PREFIXES = (
    "1.2.840.10008.1.3.10",  # Media Storage Directory (DICOMDIR)
    "1.2.840.10008.5.1.4.1.1.88.",  # structured reports
    "1.2.840.10008.5.1.4.1.1.11.",  # presentation states
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated PDF/CDA
    "1.2.840.10008.5.1.4.1.1.481.5",  # RT plan
)


@dataclass
class SubSeries:
    """The images of one volume: a whole series, or one part of it.

    Attributes
    ----------
    uid : str
        *Series Instance UID*.
    id : str
        What ``series=`` takes: the UID, or ``UID#n`` when the series has several parts.
    label : str
        What distinguishes this part ("echo 2", "localizer", "orientation 2 (sagittal)").
    images : list of SliceInfo
        One per 2-D image (frames of multi-frame files included).
    """

    uid: str
    id: str
    label: str
    images: list[SliceInfo]

    @property
    def localizer(self) -> bool:
        """True when every image is a localizer (scout, survey)."""
        return all(s.split.get("localizer") for s in self.images)

    @property
    def n_files(self) -> int:
        """Number of distinct files."""
        return len({s.path for s in self.images})

    def describe(self) -> dict[str, Any]:
        """UID, id, description, modality, size and counts, as plain values."""
        header = self.images[0].header
        rows, cols = shape_key(header)[:2]
        return {
            "id": self.id,
            "series_instance_uid": self.uid,
            "part": self.label,
            "description": header.get("SeriesDescription") or "",
            "modality": header.get("Modality") or "",
            "series_number": header.get("SeriesNumber"),
            "rows": rows,
            "columns": cols,
            "images": len(self.images),
            "files": self.n_files,
            "localizer": self.localizer,
        }


# ------------------------------------------------------------------ files
def walk(folder: Path) -> Iterator[Path]:
    """Every non-hidden file under ``folder``, recursively, in sorted order."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root, name)


def dicom_files(folder: Path, *, stop_at_first: bool = False) -> Iterator[Path]:
    """Files under ``folder`` (recursive, sorted) that carry the DICM magic."""
    for path in walk(folder):
        try:
            with open(path, "rb") as fh:
                head = fh.read(132)
        except OSError:
            continue
        if head[128:132] == b"DICM":
            yield path
            if stop_at_first:
                return


def _dicomdir_files(path: Path, notes: list[str]) -> list[Path]:
    """The image files a DICOMDIR refers to (those that exist)."""
    import pydicom

    with pydicom_errors(path, notes):
        dicomdir = pydicom.dcmread(path, force=True)
        records = dicomdir.get("DirectoryRecordSequence", [])
        files = []
        for record in records:
            parts = record.get("ReferencedFileID")
            if parts:
                parts = [parts] if isinstance(parts, str) else list(parts)
                files.append(path.parent.joinpath(*parts))
    present = [f for f in files if f.is_file()]
    if len(present) < len(files):
        notes.append(f"{len(files) - len(present)} file(s) named in {path.name} do not exist")
    return present


def is_dicomdir(path: Path) -> bool:
    """True when ``path`` is a DICOMDIR file (by name and media storage SOP class)."""
    if path.name.upper() != "DICOMDIR" or not path.is_file():
        return False
    with open(path, "rb") as fh:
        return b"1.2.840.10008.1.3.10" in fh.read(512)


# ------------------------------------------------------------------ headers
def read_header(path: Path, *, require_magic: bool, notes: list[str]) -> Header | None:
    """Parse one header with the fast walker, else pydicom; None when not DICOM."""
    try:
        return parse_header(path, require_magic=require_magic)
    except NotDicom:
        return None
    except NotWalkable:
        pass
    except OSError as exc:
        if isinstance(exc, MedvisError):
            raise
        raise CorruptFileError(path, f"cannot read the file ({exc})") from None
    with pydicom_errors(path, notes):
        import pydicom

        dataset = pydicom.dcmread(path, defer_size=256, force=True, stop_before_pixels=False)
        return header_from_dataset(path, dataset)


def _is_image(header: Header) -> bool:
    if not header.has_pixels:
        return False
    sop = str(header.get("SOPClassUID") or header.get("MediaStorageSOPClassUID") or "")
    return not sop.startswith(_NON_IMAGE_SOP_PREFIXES)


def _check_complete(header: Header) -> None:
    """Raise TruncatedFileError when native pixel data is shorter than the image needs."""
    from medvis.errors import TruncatedFileError

    if header.encapsulated or header.pixel_offset is None or not header.walked:
        return
    rows, cols, samples, bits = shape_key(header)[:4]
    frames = header.get("NumberOfFrames", 1)
    frames = frames if isinstance(frames, int) and frames > 0 else 1
    if str(header.get("PhotometricInterpretation", "")).strip() == "YBR_FULL_422":
        samples = 2  # two samples per pixel on average (4:2:2 subsampled chroma)
    needed = (rows * cols * samples * frames * bits + 7) // 8
    available = header.file_size - header.pixel_offset
    if available < needed:
        raise TruncatedFileError(
            header.path,
            f"pixel data is truncated: {needed} bytes needed from byte {header.pixel_offset}, "
            f"the file has {available}",
        )


def collect_headers(source: Path, notes: list[str]) -> list[Header]:
    """Headers of every DICOM image file: one file, a DICOMDIR's files, or a folder's."""
    if source.is_file() and not is_dicomdir(source):
        header = read_header(source, require_magic=False, notes=notes)
        if header is None:
            raise WrongMagicError(source, "not a DICOM file (no DICM magic, no DICOM dataset)")
        if not _is_image(header):
            raise UnsupportedFormatError(source, "this DICOM file holds no image (no Pixel Data)")
        shape_key(header)
        _check_complete(header)
        return [header]
    paths = _dicomdir_files(source, notes) if source.is_file() else walk(source)
    headers: list[Header] = []
    failures: list[MedvisError] = []
    for path in paths:
        _, ext = split_name(path)
        try:
            header = read_header(path, require_magic=ext not in (*EXTENSIONS, ""), notes=notes)
            if header is None or not _is_image(header):
                continue
            shape_key(header)
            _check_complete(header)
        except MedvisError as exc:
            failures.append(exc)
            continue
        headers.append(header)
    if failures and headers:
        names = ", ".join(f"{f.path.name} ({f.reason[:60]})" for f in failures[:5] if f.path)
        more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
        notes.append(f"skipped {len(failures)} unreadable DICOM file(s): {names}{more}")
    if not headers:
        if failures:
            raise failures[0]
        raise UnsupportedFormatError(source, "the folder holds no DICOM image medvis can read")
    return headers


def expand_frames(headers: list[Header], notes: list[str]) -> list[SliceInfo]:
    """One SliceInfo per image; multi-frame files are opened with pydicom for frame geometry."""
    from medvis.io.dicom_multiframe import frames_from_dataset

    slices: list[SliceInfo] = []
    for header in headers:
        frames = header.get("NumberOfFrames", 1)
        if isinstance(frames, int) and frames > 1:
            with pydicom_errors(header.path, notes):
                import pydicom

                dataset = pydicom.dcmread(header.path, stop_before_pixels=True, force=True)
                items, frame_notes = frames_from_dataset(dataset, header)
            slices += items
            notes += [n for n in frame_notes if n not in notes]
        else:
            slices.append(slice_from_header(header))
    return slices


# ------------------------------------------------------------------ grouping
def _cluster_orientation(slices: list[SliceInfo]) -> Callable[[SliceInfo], int]:
    """Orientation class of each image (cosines within 1e-3 are the same orientation)."""
    centres: list[np.ndarray] = []

    def key(s: SliceInfo) -> int:
        iop = s.orientation
        if iop is None or iop.shape != (6,):
            return -1
        for n, centre in enumerate(centres):
            if np.abs(centre - iop).max() < 1e-3:
                return n
        centres.append(iop)
        return len(centres) - 1

    return key


def _plane_name(iop: np.ndarray | None) -> str:
    if iop is None or iop.shape != (6,):
        return "no orientation"
    normal = np.abs(np.cross(iop[:3], iop[3:]))
    return ("sagittal", "coronal", "axial")[int(np.argmax(normal))]


def _split(images: list[SliceInfo]) -> list[tuple[list[str], list[SliceInfo]]]:
    """Split the images of one series into parts that each make one volume."""
    orientation = _cluster_orientation(images)
    splitters: list[tuple[str, Callable[[SliceInfo], Any]]] = [
        ("localizer", lambda s: bool(s.split.get("localizer"))),
        ("size", lambda s: shape_key(s.header)[:3]),
        ("orientation", orientation),
        ("part", lambda s: s.split.get("part")),
        ("stack", lambda s: s.split.get("stack")),
        ("echo", lambda s: s.split.get("echo")),
    ]
    parts: list[tuple[list[str], list[SliceInfo]]] = [([], images)]
    for name, key in splitters:
        refined = []
        for labels, group in parts:
            buckets: dict[Any, list[SliceInfo]] = {}
            for s in group:
                buckets.setdefault(key(s), []).append(s)
            if len(buckets) == 1:
                refined.append((labels, group))
                continue
            for value, bucket in sorted(buckets.items(), key=lambda kv: str(kv[0])):
                refined.append(([*labels, _label(name, value, bucket)], bucket))
        parts = refined
    return [p for group in parts for p in _split_acquisitions(*group)]


def _label(name: str, value: Any, bucket: list[SliceInfo]) -> str:
    if name == "localizer":
        return "localizer" if value else "images"
    if name == "size":
        return f"{value[1]}x{value[0]}" + (f"x{value[2]}" if value[2] > 1 else "")
    if name == "orientation":
        return f"orientation {value + 1} ({_plane_name(bucket[0].orientation)})"
    if name == "echo":
        return f"echo {value:g}" if isinstance(value, (int, float)) else f"echo {value}"
    return f"{name} {value}"


def _split_acquisitions(
    labels: list[str], group: list[SliceInfo]
) -> list[tuple[list[str], list[SliceInfo]]]:
    """Split by acquisition number when each acquisition repeats the others' positions."""
    buckets: dict[Any, list[SliceInfo]] = {}
    for s in group:
        buckets.setdefault(s.split.get("acquisition"), []).append(s)
    if len(buckets) < 2 or None in buckets:
        return [(labels, group)]

    def positions(items: list[SliceInfo]) -> set[tuple[float, ...]]:
        return {tuple(np.round(s.position, 2)) for s in items if s.position is not None}

    sets = [positions(b) for b in buckets.values()]
    all_positions = positions(group)
    repeated = sum(len(p) for p in sets) > len(all_positions)
    distinct_inside = all(len(p) == len(b) for p, b in zip(sets, buckets.values(), strict=True))
    if not (repeated and distinct_inside):
        return [(labels, group)]
    return [
        ([*labels, f"acquisition {value}"], bucket)
        for value, bucket in sorted(buckets.items(), key=lambda kv: str(kv[0]))
    ]


def group(slices: list[SliceInfo]) -> list[SubSeries]:
    """Series and sub-series of the images, largest series first."""
    by_uid: dict[str, list[SliceInfo]] = {}
    for s in sorted(slices, key=lambda s: (str(s.path), s.frame)):  # ids independent of order
        by_uid.setdefault(str(s.header.get("SeriesInstanceUID", "") or ""), []).append(s)
    result = []
    for uid, images in by_uid.items():
        parts = _split(images)
        for n, (labels, members) in enumerate(parts, start=1):
            ident = uid if len(parts) == 1 else f"{uid}#{n}"
            result.append(SubSeries(uid, ident, ", ".join(labels), members))
    result.sort(key=lambda sub: (sub.localizer, -len(sub.images), sub.id))
    return result


def scan(source: Path, notes: list[str]) -> list[SubSeries]:
    """Every sub-series of a file, DICOMDIR or folder (headers only; see the module doc)."""
    with no_gc():
        headers = collect_headers(source, notes)
        return group(expand_frames(headers, notes))


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while headers are parsed.

    Walking hundreds of headers allocates many short-lived tuples, which triggers
    collections that traverse every object of the process; parsing creates no cycles,
    so pausing the collector saves about a third of the header time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def choose(source: Path, found: list[SubSeries], series: str | None, notes: list[str]) -> SubSeries:
    """The sub-series to read: ``series`` (an id or a UID), else the obvious candidate.

    Without ``series``, localizers are passed over when anything else exists, and the
    sub-series with the most images is read; the others are named in ``notes``.

    Raises
    ------
    UnsupportedFormatError
        ``series`` names nothing that was found.
    """
    candidates = found
    if series is not None:
        candidates = [sub for sub in found if series in (sub.id, sub.uid)]
        if not candidates:
            listed = ", ".join(sub.id for sub in found)
            raise UnsupportedFormatError(
                source, f"no series {series!r} here; series present: {listed}"
            )
    chosen = sorted(candidates, key=lambda sub: (sub.localizer, -len(sub.images), sub.id))[0]
    others = [sub for sub in found if sub is not chosen]
    if others:
        listed = "; ".join(
            f"{sub.id} ({len(sub.images)} images, "
            f"{sub.describe()['description'] or sub.label or 'no description'!r})"
            for sub in others[:8]
        )
        more = f" and {len(others) - 8} more" if len(others) > 8 else ""
        what = f"{chosen.id} ({len(chosen.images)} images"
        what += f", {chosen.label})" if chosen.label else ")"
        notes.append(
            f"the folder holds {len(found)} series or sub-series; read {what} and left "
            f"{listed}{more}; pass series=ID to choose another (medvis info lists them)"
        )
    return chosen


def list_series(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """What ``medvis info FOLDER`` lists: one dict per sub-series, and scan notes.

    Raises
    ------
    UnsupportedFormatError
        Nothing readable was found.
    """
    notes: list[str] = []
    found = scan(Path(path), notes)
    return [sub.describe() for sub in found], notes
