"""``medvis info``: a human (or JSON) summary of any readable input, PHI hidden by default."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from medvis.phi import redact
from medvis.volume import Volume

__all__ = ["format_series", "format_summary", "run_info", "summarise"]

_DICOM_FIELDS = (
    ("modality", "modality"),
    ("bits_allocated", "bits allocated"),
    ("bits_stored", "bits stored"),
    ("photometric_interpretation", "photometric"),
    ("rescale_slope", "rescale slope"),
    ("rescale_intercept", "rescale intercept"),
    ("rescale_type", "rescale type"),
    ("transfer_syntax", "transfer syntax"),
    ("series_description", "series"),
    ("n_files", "files"),
)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def summarise(volume: Volume, *, phi: bool = False) -> dict[str, Any]:
    """Everything ``medvis info`` reports, as JSON-ready values."""
    metadata = dict(volume.metadata) if phi else redact(volume.metadata)
    finite = volume.array
    if finite.dtype.kind == "f":
        finite = finite[np.isfinite(finite)]
    lo = float(finite.min()) if finite.size else None
    hi = float(finite.max()) if finite.size else None
    return _plain(
        {
            "source": volume.source,
            "format": volume.metadata.get("format", "unknown"),
            "dimensions": list(volume.shape_ijk),
            "layout": volume.layout,
            "frames": volume.n_frames,
            "components": volume.n_components,
            "spacing": volume.spacing,
            "origin": volume.origin,
            "direction": volume.direction,
            "index_to_world": volume.index_to_world,
            "axis_codes": volume.axis_codes,
            "flipped": volume.is_flipped,
            "dtype": str(volume.dtype),
            "value_range": [lo, hi],
            "memory_bytes": volume.nbytes,
            "world": "LPS",
            "warnings": list(volume.warnings),
            "metadata": metadata,
        }
    )


def _fmt(values: Any, digits: int = 6) -> str:
    # Round float noise (1e-19 from a float32 sform) to zero so directions read cleanly.
    return (
        "("
        + ", ".join(f"{(0.0 if abs(float(v)) < 1e-12 else float(v)):.{digits}g}" for v in values)
        + ")"
    )


def format_summary(summary: dict[str, Any]) -> str:
    """The human-readable text of a :func:`summarise` result."""
    meta = summary["metadata"]
    ni, nj, nk = summary["dimensions"]
    lines = [
        f"file:          {summary['source']}",
        f"format:        {summary['format']}",
        f"dimensions:    {ni} x {nj} x {nk} (i x j x k)",
    ]
    if summary["frames"] > 1:
        lines.append(f"frames:        {summary['frames']}")
    if summary["components"] > 1:
        lines.append(f"components:    {summary['components']}")
    lines += [
        f"spacing:       {_fmt(summary['spacing'])} mm",
        f"origin (LPS):  {_fmt(summary['origin'])} mm",
        "direction:     " + "  ".join(_fmt(row, 5) for row in summary["direction"]),
        f"axis codes:    {summary['axis_codes']}"
        + ("  (flipped, det -1)" if summary["flipped"] else ""),
        f"data type:     {summary['dtype']}",
    ]
    for key, label in _DICOM_FIELDS:
        if meta.get(key) not in (None, "", []):
            lines.append(f"{label + ':':<14} {meta[key]}")
    lo, hi = summary["value_range"]
    units = f" {meta['units']}" if meta.get("units") else ""
    lines.append(
        f"value range:   {lo:g} .. {hi:g}{units}" if lo is not None else "value range:   empty"
    )
    lines.append(f"memory:        {summary['memory_bytes'] / 2**20:.1f} MiB")
    shown = {k for k, _ in _DICOM_FIELDS} | {"format", "units"}
    extra = {k: v for k, v in meta.items() if k not in shown and v not in (None, "", [])}
    for key, value in sorted(extra.items()):
        lines.append(f"  {key}: {value}")
    for note in summary["warnings"]:
        lines.append(f"warning:       {note}")
    return "\n".join(lines)


def run_info(args: argparse.Namespace) -> int:
    """Implementation of ``medvis info``."""
    import medvis

    options: dict[str, Any] = {}
    if args.series:
        options["series"] = args.series
    if args.frame is not None:
        options["frame"] = args.frame
    if args.tags:
        return _print_tags(args)
    listing = _dicom_series(args.path)
    volume = medvis.load(args.path, **options)
    summary = summarise(volume, phi=args.phi)
    if listing is not None:
        summary["series"] = listing
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        if listing is not None:
            print(format_series(listing, volume.metadata.get("series_id")))
        print(format_summary(summary))
        for note in volume.warnings:
            print(f"medvis: warning: {note}", file=sys.stderr)
    return 0


def _dicom_series(path: str) -> list[dict[str, Any]] | None:
    """The series of a DICOM folder or DICOMDIR (headers only), or None for other input."""
    from pathlib import Path

    from medvis.io.dicom_scan import is_dicomdir, list_series

    p = Path(path)
    if not (p.is_dir() or is_dicomdir(p)):
        return None
    from medvis.io import find_reader

    if find_reader(p).name != "DICOM":
        return None
    series, _ = list_series(p)
    return series


def format_series(series: list[dict[str, Any]], chosen: str | None) -> str:
    """The series table of ``medvis info FOLDER``; ``*`` marks the one summarised below."""
    lines = [f"series found:  {len(series)} (pick one with --series ID)"]
    for item in series:
        mark = "*" if item["id"] == chosen else " "
        part = f" [{item['part']}]" if item["part"] else ""
        lines.append(
            f" {mark} {item['id']}  {item['modality'] or '?':<3} {item['columns']}x{item['rows']} "
            f"{item['images']:>4} image(s) {item['files']:>4} file(s)  "
            f"{item['description']!r}{part}"
        )
    return "\n".join(lines)


def _print_tags(args: argparse.Namespace) -> int:
    from pathlib import Path

    from medvis.errors import UnsupportedFormatError
    from medvis.io import find_reader

    reader = find_reader(args.path)
    if reader.name != "DICOM":
        raise UnsupportedFormatError(Path(args.path), "--tags needs DICOM input")
    from medvis.io.dicom import dicom_elements

    elements = dicom_elements(Path(args.path), phi=args.phi)
    if args.json:
        print(json.dumps(elements, indent=2))
        return 0
    for element in elements:
        indent = "  " * int(element.get("depth", 0))
        print(
            f"{indent}{element['tag']} {element['vr']:<2} {element['keyword'] or '(private)':<32} "
            f"{element['value']}"
        )
    return 0
