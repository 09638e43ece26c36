"""The lung report: volumes, voxel counts, surface areas and HU statistics, as JSON and text.

Pure numpy: it takes the CT, the label map and the :class:`~medvis.lung.surfaces.Surface`
measurements (computed on closed meshes with ``vtkMassProperties``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from medvis.volume import Volume

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from medvis.lung.segmentation import LungSegmentation
    from medvis.lung.surfaces import Surface

__all__ = ["REPORT_VERSION", "build_report", "format_report", "hu_statistics", "report_json"]

REPORT_VERSION = 2
_SEPARATIONS = {
    "separate": "separate air regions",
    "airways": "separated by removing the trachea and main bronchi",
    "erosion": "touching lungs cut where thinnest",
    "midline": "touching lungs cut at the body's midline",
    "single": "only one lung found",
}
#: Relative attenuation area: share of lung voxels below this HU (emphysema index).
LAA_THRESHOLD_HU = -950.0


def _percentiles_from_counts(
    counts: np.ndarray, offset: int, quantiles: list[float]
) -> list[float]:
    """Percentiles (numpy's default linear interpolation) of integers given as a histogram."""
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    out = []
    for q in quantiles:
        rank = q / 100.0 * (total - 1)
        below, frac = int(np.floor(rank)), rank - np.floor(rank)
        lo = int(np.searchsorted(cumulative, below, side="right"))
        hi = int(np.searchsorted(cumulative, min(below + 1, total - 1), side="right"))
        out.append(float(offset + lo + frac * (hi - lo)))
    return out


def hu_statistics(values: np.ndarray) -> dict[str, float]:
    """Summary of the HU values inside a region.

    Returns mean, standard deviation, min, max, the 5th/25th/50th/75th/95th
    percentiles (numpy's linear interpolation) and ``laa950_percent`` (share of voxels
    below -950 HU, a common emphysema index). Integer CT values are counted in a
    histogram (exact, and much faster than sorting).
    """
    if values.size == 0:
        return {}
    quantiles = [5.0, 25.0, 50.0, 75.0, 95.0]
    low, high = int(values.min()), int(values.max())
    if values.dtype.kind in "iu" and high - low < 1 << 20:
        counts = np.bincount((values.astype(np.int64) - low).ravel(), minlength=high - low + 1)
        levels = np.arange(low, high + 1, dtype=np.float64)
        n = float(values.size)
        mean = float(counts @ levels) / n
        std = float(np.sqrt(max(float(counts @ (levels - mean) ** 2) / n, 0.0)))
        p5, p25, p50, p75, p95 = _percentiles_from_counts(counts, low, quantiles)
        below = float(counts[: max(0, int(np.ceil(LAA_THRESHOLD_HU)) - low)].sum())
    else:
        data = values.astype(np.float64, copy=False).ravel()
        mean, std = float(data.mean()), float(data.std())
        p5, p25, p50, p75, p95 = (float(v) for v in np.percentile(data, quantiles))
        below = float(np.count_nonzero(data < LAA_THRESHOLD_HU))
    return {
        "mean": round(mean, 2),
        "std": round(std, 2),
        "min": float(low) if values.dtype.kind in "iu" else float(values.min()),
        "max": float(high) if values.dtype.kind in "iu" else float(values.max()),
        "p05": p5,
        "p25": p25,
        "median": p50,
        "p75": p75,
        "p95": p95,
        "laa950_percent": round(100.0 * below / values.size, 3),
    }


def _centroid_and_bounds(
    labels: Volume, mask: np.ndarray, box: tuple[slice, ...]
) -> dict[str, Any]:
    # Per-axis voxel counts (profiles) give the centroid and extent without index lists.
    centre_kji, low_kji, high_kji = [], [], []
    for axis, others in enumerate(((1, 2), (0, 2), (0, 1))):
        profile = np.count_nonzero(mask, axis=others)
        where = np.flatnonzero(profile)
        start = box[axis].start
        centre_kji.append(start + float(profile @ np.arange(len(profile))) / profile.sum())
        low_kji.append(start + where[0])
        high_kji.append(start + where[-1])
    centroid = labels.index_to_world_points(centre_kji[::-1])
    corners = np.array(
        [
            [i, j, k]
            for i in (low_kji[2], high_kji[2])
            for j in (low_kji[1], high_kji[1])
            for k in (low_kji[0], high_kji[0])
        ],
        float,
    )
    world = labels.index_to_world_points(corners)
    return {
        "centroid_lps_mm": [round(float(v), 3) for v in centroid],
        "bounds_lps_mm": [
            [round(float(lo), 3), round(float(hi), 3)]
            for lo, hi in zip(world.min(axis=0), world.max(axis=0), strict=True)
        ],
    }


def build_report(
    ct: Volume | None,
    labels: Volume,
    surfaces: Sequence[Surface],
    *,
    segmentation: LungSegmentation | None = None,
    parameters: Mapping[str, Any] | None = None,
    files: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything measured, as a JSON-ready dict.

    Parameters
    ----------
    ct : Volume or None
        The CT (for HU statistics); None for a plain label map.
    labels : Volume
        The label map the surfaces came from (same grid as ``ct``).
    surfaces : sequence of Surface
        One per label.
    segmentation : LungSegmentation, optional
        Adds how the lungs were found (airways, left/right separation, notes).
    parameters, files : mapping, optional
        Copied into the report as they are.

    Returns
    -------
    dict
        ``structures`` holds one entry per label: voxel count, voxel and mesh volume
        (mL), surface area (mm^2 and cm^2), whether the mesh is closed, triangle count,
        centroid and bounds (LPS mm) and HU statistics; ``total`` sums the volumes.
    """
    voxel_mm3 = float(np.prod(labels.spacing))
    boxes = dict(segmentation.boxes) if segmentation is not None else {}
    structures: dict[str, Any] = {}
    for surface in surfaces:
        box = boxes.get(surface.label)
        if box is None:
            import scipy.ndimage as ndi

            found = ndi.find_objects((labels.array == surface.label).view(np.uint8))
            box = found[0]
        mask = labels.array[box] == surface.label
        entry: dict[str, Any] = {
            "label": surface.label,
            "voxel_count": surface.voxel_count,
            "voxel_volume_ml": round(surface.voxel_volume_mm3 / 1000.0, 3),
            "mesh_volume_ml": round(surface.mesh_volume_mm3 / 1000.0, 3),
            "voxel_volume_mm3": round(surface.voxel_volume_mm3, 3),
            "mesh_volume_mm3": round(surface.mesh_volume_mm3, 3),
            "surface_area_mm2": round(surface.surface_area_mm2, 2),
            "surface_area_cm2": round(surface.surface_area_mm2 / 100.0, 2),
            "mesh_closed": surface.closed,
            "triangles": surface.n_triangles,
            "points": surface.n_points,
        }
        entry.update(_centroid_and_bounds(labels, mask, box))
        if ct is not None:
            entry["hu"] = hu_statistics(ct.array[box][mask])
        if surface.notes:
            entry["notes"] = list(surface.notes)
        structures[surface.name] = entry
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "world": "LPS",
        "units": {"volume": "mL", "area": "mm2 (and cm2)", "coordinates": "mm", "intensity": "HU"},
        "input": {
            "source": (ct.source if ct is not None else labels.source),
            "dimensions_ijk": list(labels.shape_ijk),
            "spacing_mm": [float(v) for v in labels.spacing],
            "axis_codes": labels.axis_codes,
            "voxel_volume_mm3": round(voxel_mm3, 6),
        },
        "structures": structures,
        "total": {
            "voxel_count": int(sum(s.voxel_count for s in surfaces)),
            "voxel_volume_ml": round(sum(s.voxel_volume_mm3 for s in surfaces) / 1000.0, 3),
            "mesh_volume_ml": round(sum(s.mesh_volume_mm3 for s in surfaces) / 1000.0, 3),
            "surface_area_mm2": round(sum(s.surface_area_mm2 for s in surfaces), 2),
        },
    }
    if segmentation is not None:
        report["segmentation"] = {
            "hu_range": list(segmentation.hu_range),
            "airway_removed": segmentation.airway_found,
            "airway_voxels": segmentation.airway_voxels,
            "left_right_separation": segmentation.separation,
            "midline_from": segmentation.midline,
            "notes": list(segmentation.notes),
        }
        report["warnings"] = list(segmentation.warnings)
        if (
            "right_lung" in structures
            and "left_lung" in structures
            and structures["left_lung"]["voxel_volume_ml"] > 0
        ):
            report["total"]["right_to_left_ratio"] = round(
                structures["right_lung"]["voxel_volume_ml"]
                / structures["left_lung"]["voxel_volume_ml"],
                3,
            )
    if parameters:
        report["parameters"] = dict(parameters)
    if files:
        report["files"] = dict(files)
    return report


def report_json(report: Mapping[str, Any]) -> str:
    """The report as indented JSON text."""
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


def format_report(report: Mapping[str, Any], *, warnings: bool = True) -> str:
    """The report as text for people: one block per structure, then the total.

    ``warnings=False`` leaves out the warnings (the command line prints them on stderr).
    """
    lines: list[str] = []
    source = report.get("input", {}).get("source")
    if source:
        lines.append(f"input:            {source}")
    seg = report.get("segmentation")
    if seg:
        low, high = seg["hu_range"]
        lines.append(f"lung window:      {low:g} .. {high:g} HU")
        lines.append(
            "airways:          "
            + (
                f"trachea and main bronchi removed ({seg['airway_voxels']} voxels)"
                if seg["airway_removed"]
                else "no trachea found"
            )
        )
        lines.append(
            f"left/right:       {_SEPARATIONS.get(seg['left_right_separation'], seg['left_right_separation'])}"
            + (f" (midline from the {seg['midline_from']})" if seg.get("midline_from") else "")
        )
    lines.append("")
    for name, entry in report["structures"].items():
        lines.append(f"{name.replace('_', ' ')} (label {entry['label']})")
        lines.append(
            f"  volume:         {entry['voxel_volume_ml']:.1f} mL from {entry['voxel_count']} voxels, {entry['mesh_volume_ml']:.1f} mL from the mesh"
        )
        lines.append(
            f"  surface area:   {entry['surface_area_cm2']:.1f} cm2 ({entry['triangles']} triangles, {'closed' if entry['mesh_closed'] else 'NOT closed'})"
        )
        cx, cy, cz = entry["centroid_lps_mm"]
        lines.append(f"  centroid (LPS): {cx:.1f}, {cy:.1f}, {cz:.1f} mm")
        hu = entry.get("hu")
        if hu:
            lines.append(
                f"  HU:             mean {hu['mean']:.0f} +/- {hu['std']:.0f}, median {hu['median']:.0f}, "
                f"5-95% {hu['p05']:.0f} .. {hu['p95']:.0f}, below -950: {hu['laa950_percent']:.1f} %"
            )
        for note in entry.get("notes", ()):
            lines.append(f"  note: {note}")
    total = report["total"]
    lines.append("")
    lines.append(
        f"total:            {total['voxel_volume_ml']:.1f} mL (voxels), {total['mesh_volume_ml']:.1f} mL (mesh)"
    )
    if "right_to_left_ratio" in total:
        lines.append(f"right/left:       {total['right_to_left_ratio']:.2f}")
    for note in (seg or {}).get("notes", ()):
        lines.append(f"note: {note}")
    for warning in report.get("warnings", ()) if warnings else ():
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines) + "\n"
