"""Speed of ``medvis lung`` on the real chest CT (``../shared/data/chest-ct``).

Usage::

    python benchmarks/lung_bench.py [--repeats N] [--quick] [--data DIR] [--json FILE]

Two benchmarks, both on the same 512 x 512 x 141 chest CT:

``whole-process``
    ``python -m medvis lung CT -o OUT --force`` in a fresh process (imports, DICOM
    loading, segmentation, meshes, mask, report, PNG), timed from outside. Target: <= 4 s.
``seg+mesh``
    In this process, from the loaded volume: medvis (``segment_lungs`` +
    ``label_surfaces``) against a reference pipeline a user would write: SimpleITK
    ``BinaryThreshold`` + ``ConnectedComponent`` + ``RelabelComponent``, the largest
    component not touching the image's side faces (the lungs and airways), and
    scikit-image ``marching_cubes`` on that mask (the whole volume, with the spacing).
    Target: median medvis / median reference <= 0.4. The verdict uses the like-for-like
    medvis run (raw marching-cubes surfaces, as the reference makes); medvis with the
    CLI's default smoothing (15 windowed-sinc iterations) is timed for information.

Rounds interleave the contenders (harness.measure: medvis, reference, info, medvis...),
medians are reported with min and max; the ratio of minimums and the per-round ratios are
printed beside the ratio of medians. The exit status is 0 whatever the verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from harness import Contender, measure, paired_ratios

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROCESS_TARGET_S = 4.0
RATIO_TARGET = 0.4


def _data_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    root = Path(os.environ.get("MEDVIS_TEST_DATA", REPO / ".." / "shared" / "data"))
    return (root / "chest-ct" / "dicom").resolve()


def _machine() -> str:
    import platform

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"load average {load:.2f}"
    )


# ------------------------------------------------------------------ contenders
def medvis_seg_mesh(volume: Any, smoothing: int) -> Any:
    from medvis.lung import label_surfaces, segment_lungs

    def run() -> tuple[Any, Any]:
        lungs = segment_lungs(volume)
        # measure=False: meshes only, as the reference makes (volumes and areas are
        # measured afterwards, in the report).
        surfaces = label_surfaces(
            lungs.labels, names=lungs.names, smoothing=smoothing, boxes=lungs.boxes, measure=False
        )
        return (lungs, surfaces), lungs.labels.array

    return run


def reference_seg_mesh(volume: Any, low: float, high: float) -> Any:
    import SimpleITK as sitk
    from skimage.measure import marching_cubes

    spacing_kji = tuple(float(s) for s in volume.spacing[::-1])

    def run() -> tuple[Any, Any]:
        image = sitk.GetImageFromArray(volume.array)
        image.SetSpacing(tuple(float(s) for s in volume.spacing))
        air = sitk.BinaryThreshold(image, low, high, 1, 0)
        components = sitk.RelabelComponent(sitk.ConnectedComponent(air))  # sorted by size
        labels = sitk.GetArrayViewFromImage(components)
        sides = np.unique(
            np.concatenate(
                [
                    labels[:, 0].ravel(),
                    labels[:, -1].ravel(),
                    labels[:, :, 0].ravel(),
                    labels[:, :, -1].ravel(),
                ]
            )
        )
        lungs = next(v for v in range(1, int(labels.max()) + 1) if v not in sides)
        mask = (labels == lungs).view(np.uint8)
        verts, faces, _, _ = marching_cubes(mask, 0.5, spacing=spacing_kji)
        return (components, verts, faces), mask

    return run


def _ratio_line(a: Any, b: Any) -> str:
    ratio = a.median / b.median
    best = a.best / b.best
    per_round = paired_ratios(a, b)
    spread = f"{min(per_round):.3f}..{max(per_round):.3f}" if per_round else "--"
    return (
        f"ratio of medians {ratio:.3f} (minimums {best:.3f}; per round median "
        f"{statistics.median(per_round):.3f}, range {spread})"
    )


def bench_seg_mesh(volume: Any, repeats: int) -> dict[str, Any]:
    from medvis.lung import DEFAULT_HU_RANGE

    low, high = DEFAULT_HU_RANGE
    contenders = [
        Contender(
            "medvis segment_lungs + label_surfaces (raw)", medvis_seg_mesh(volume, 0), "medvis"
        ),
    ]
    try:
        contenders.append(
            Contender(
                "reference: SimpleITK threshold + CC, skimage marching_cubes",
                reference_seg_mesh(volume, low, high),
                "peer",
            )
        )
    except ImportError as exc:
        print(f"  reference not available ({exc}); pip install scikit-image")
    contenders.append(
        Contender("medvis, smoothing 15 (CLI default)", medvis_seg_mesh(volume, 15), "info")
    )
    # Untimed warm-up, which also compares what the two pipelines find.
    found = {}
    for contender in contenders:
        keep, array = contender.read()
        voxel_ml = float(np.prod(volume.spacing)) / 1000
        found[contender.label] = np.count_nonzero(array) * voxel_ml
        del keep, array
    for label, ml in found.items():
        print(f"  check: {label}: {ml:.0f} mL in the mask")
    results = measure(contenders, repeats)
    width = max(len(c.label) for c in contenders)
    print(f"  {'contender':<{width}} {'median':>8} {'min':>8} {'max':>8} {'cpu':>8}")
    out: dict[str, Any] = {}
    for m in results:
        if m.ok:
            print(
                f"  {m.contender.label:<{width}} {m.median:8.3f} {m.best:8.3f} {m.worst:8.3f} "
                f"{m.cpu_median:8.3f}"
            )
            out[m.contender.label] = {"times_s": m.times, "cpu_s": m.cpu_times}
        else:
            print(f"  {m.contender.label:<{width}} failed: {m.error}")
    medvis_run = next((m for m in results if m.contender.role == "medvis" and m.ok), None)
    peer = next((m for m in results if m.contender.role == "peer" and m.ok), None)
    info = next((m for m in results if m.contender.role == "info" and m.ok), None)
    if medvis_run and peer:
        ratio = medvis_run.median / peer.median
        verdict = "PASS" if ratio <= RATIO_TARGET else "FAIL"
        print(
            f"  medvis / reference: {_ratio_line(medvis_run, peer)}: target <= {RATIO_TARGET}: {verdict}"
        )
        out["ratio"] = ratio
        out["verdict"] = verdict
        if info:
            out["ratio_smoothed"] = info.median / peer.median
            print(f"  (information) smoothed medvis / reference: {_ratio_line(info, peer)}")
    return out


def bench_process(source: Path, repeats: int) -> dict[str, Any]:
    times: list[float] = []
    steps: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="lung-bench-") as tmp:
        command = [sys.executable, "-m", "medvis", "lung", str(source), "-o", tmp, "--force"]
        subprocess.run(command, check=True, capture_output=True)  # warm-up (page cache)
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
            report = json.loads((Path(tmp) / "lung_report.json").read_text())
            for step, seconds in report.get("timings_s", {}).items():
                steps.setdefault(step, []).append(seconds)
    median = statistics.median(times)
    verdict = "PASS" if median <= PROCESS_TARGET_S else "FAIL"
    print(
        f"  medvis lung, whole process: median {median:.2f} s (min {min(times):.2f}, "
        f"max {max(times):.2f}; {len(times)} runs): target <= {PROCESS_TARGET_S:g} s: {verdict}"
    )
    inside = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in steps.items())
    print(f"  inside the process (medians, s): {inside}")
    return {"times_s": times, "median_s": median, "verdict": verdict, "steps_s": steps}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument(
        "--data", help="chest CT DICOM folder (default ../shared/data/chest-ct/dicom)"
    )
    parser.add_argument("--json", help="write all timings to this JSON file")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    source = _data_dir(args.data)
    print("medvis lung benchmarks")
    print(f"  machine: {_machine()}")
    print(f"  data:    {source}")
    if not source.is_dir():
        print("  N/A: the chest CT is not there (set MEDVIS_TEST_DATA or --data)")
        return 0
    import medvis

    sys.path.insert(0, str(REPO))
    volume = medvis.load(source)
    print(
        f"  volume:  {volume.shape_ijk} {volume.dtype}, spacing {tuple(round(s, 4) for s in volume.spacing)}"
    )
    results: dict[str, Any] = {"machine": _machine(), "repeats": repeats}
    print("\n[1/2] seg+mesh: segmentation + meshing vs SimpleITK + scikit-image, same volume")
    results["seg_mesh"] = bench_seg_mesh(volume, repeats)
    print("\n[2/2] whole-process: python -m medvis lung CT -o OUT")
    results["process"] = bench_process(source, repeats)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
