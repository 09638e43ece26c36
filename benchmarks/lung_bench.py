"""Speed and memory of ``medvis lung`` on the real chest CT (``../shared/data/chest-ct``).

Usage::

    python benchmarks/lung_bench.py [--repeats N] [--quick] [--data DIR] [--json FILE]

Three benchmarks, all on the same 512 x 512 x 141 chest CT (``$MEDVIS_TEST_DATA`` or
``../shared/data``, ``chest-ct/dicom``):

``seg+mesh``
    In this process, from the loaded volume: medvis (``segment_lungs`` +
    ``label_surfaces``) against a reference pipeline a user would write: SimpleITK
    ``BinaryThreshold`` + ``ConnectedComponent`` + ``RelabelComponent``, the largest
    component not touching the image's side faces (the lungs and airways), and
    scikit-image ``marching_cubes`` on that mask (the whole volume, with the spacing).
    Target: median medvis / median reference <= 0.4. The verdict uses the like-for-like
    medvis run (raw marching-cubes surfaces, as the reference makes); medvis with the
    CLI's default smoothing (15 windowed-sinc iterations) is timed for information.
``whole-process``
    ``python -m medvis lung CT -o OUT --force`` in a fresh process (imports, DICOM
    loading, segmentation, meshes, mask, report, PNG), one untimed warm-up run (page
    cache) then N runs. Targets: median wall time <= 3 s, and peak resident memory of
    the child <= 450 MiB (1 MiB = 1024 KiB) in every run (the verdict uses the largest
    peak; median and max are printed). Each child is started with ``subprocess.Popen``
    and reaped with ``os.wait4(pid, 0)``, whose ``ru_maxrss`` (KiB on Linux) is that one
    process's own peak (``RUSAGE_CHILDREN`` would be the maximum over all children).
    Linux carries the parent's high-water RSS into a child across ``exec``, so the
    children are started by a small launcher process (``python -I -S``, about 13 MiB),
    not by this one (hundreds of MiB once the volume and variants are loaded); the
    launcher's floor, a bare ``python -c pass`` through it, is printed. The wall time is
    measured in the launcher, from ``Popen`` to ``wait4``. The in-process step timings
    come from each run's ``lung_report.json`` (``timings_s``; medians printed).
``variants``
    ``segment_lungs(variant)`` in this process (wall time) on variants of the chest CT,
    against ``segment_lungs`` on the full chest. Target: no variant's median above 2x the
    full chest's median. The variants are built exactly as ``tests/test_lung_variants.py``
    builds them, by importing it: every entry of its ``CASES`` (thirds, bottom 20 and 5
    slices, left/right halves at the trachea's column, coronal back half, FOV +/-130 mm,
    reconstruction-circle padding -2048/-3024 clear of the body and -2048 cutting the
    lungs, noise sigma 100 HU, 5 mm slices, prone with the table in front), two of its
    storage ``ORDERS`` (``swap-ik-sagittal``, ``flip-k``) through ``lv.reorder``, and its
    gas case (``CHEST_GAS`` pockets in the bottom 20 slices, ``lv.with_gas`` with the
    trachea's air noise, seed 3). Its ``Chest`` is filled the way its fixture does
    (``lv.body_mask``, ``lv.find_trachea``, the full segmentation). A variant that raises
    ``LungNotFoundError`` is a timed run like the others (time until the error); the
    untimed warm-up run says which outcome each variant has.

Rounds interleave the contenders (harness.measure: A, B, C, A, B, C...); medians are
reported with min and max. For seg+mesh the ratio of minimums and the per-round ratios
are printed beside the ratio of medians. The exit status is 0 whatever the verdicts.
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
PROCESS_TARGET_S = 3.0
PROCESS_RSS_TARGET_MIB = 450.0
RATIO_TARGET = 0.4
VARIANT_RATIO_TARGET = 2.0
#: Storage orders of tests/test_lung_variants.py's ORDERS timed here.
VARIANT_ORDERS = ("swap-ik-sagittal", "flip-k")

#: Runs one command and prints ``[seconds, peak RSS KiB, exit code, stderr tail]`` as
#: JSON. Started as ``python -I -S -c LAUNCHER``: a small process, so that the child's
#: ``ru_maxrss`` (which Linux carries over from the parent's memory high-water mark across
#: exec) is the child's own peak, not this benchmark's.
LAUNCHER = r"""
import json, os, subprocess, sys, tempfile, time
command = json.loads(sys.argv[1])
with tempfile.TemporaryFile() as err:
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    err.seek(0)
    tail = err.read()[-2000:].decode(errors="replace")
print(json.dumps([seconds, usage.ru_maxrss, os.waitstatus_to_exitcode(status), tail]))
"""


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


def run_child(command: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of ``command``, run by the small launcher."""
    launched = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, json.dumps(command)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, maxrss_kib, code, tail = json.loads(launched.stdout)
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {code}:\n{tail}")
    return float(seconds), maxrss_kib / 1024.0


def bench_process(source: Path, repeats: int) -> dict[str, Any]:
    times: list[float] = []
    peaks: list[float] = []
    steps: dict[str, list[float]] = {}
    _, floor = run_child([sys.executable, "-c", "pass"])
    with tempfile.TemporaryDirectory(prefix="lung-bench-") as tmp:
        command = [sys.executable, "-m", "medvis", "lung", str(source), "-o", tmp, "--force"]
        run_child(command)  # warm-up (page cache)
        for _ in range(repeats):
            seconds, peak = run_child(command)
            times.append(seconds)
            peaks.append(peak)
            report = json.loads((Path(tmp) / "lung_report.json").read_text())
            for step, value in report.get("timings_s", {}).items():
                steps.setdefault(step, []).append(value)
    median = statistics.median(times)
    verdict = "PASS" if median <= PROCESS_TARGET_S else "FAIL"
    print(
        f"  medvis lung, whole process: median {median:.2f} s (min {min(times):.2f}, "
        f"max {max(times):.2f}; {len(times)} runs): target <= {PROCESS_TARGET_S:g} s: {verdict}"
    )
    peak_median, peak_max = statistics.median(peaks), max(peaks)
    rss_verdict = "PASS" if peak_max <= PROCESS_RSS_TARGET_MIB else "FAIL"
    print(
        f"  peak RSS of the child (wait4 ru_maxrss): median {peak_median:.0f} MiB, "
        f"max {peak_max:.0f} MiB (min {min(peaks):.0f}): target <= "
        f"{PROCESS_RSS_TARGET_MIB:g} MiB: {rss_verdict}"
    )
    print(f"  (floor: a bare python -c pass through the same launcher peaks at {floor:.0f} MiB)")
    inside = ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in steps.items())
    print(f"  inside the process (medians, s): {inside}")
    return {
        "times_s": times,
        "median_s": median,
        "verdict": verdict,
        "peak_rss_mib": peaks,
        "peak_rss_median_mib": peak_median,
        "peak_rss_max_mib": peak_max,
        "rss_verdict": rss_verdict,
        "launcher_floor_mib": floor,
        "steps_s": steps,
    }


# -------------------------------------------------------------------- variants
def build_variants(volume: Any, full: Any) -> dict[str, Any]:
    """The chest CT's variants, built by tests/test_lung_variants.py's own recipes."""
    from tests import lung_variants as lv
    from tests import test_lung_variants as tv

    body = lv.body_mask(volume)
    chest = tv.Chest(ct=volume, result=full, body=body, trachea=lv.find_trachea(volume, body))
    variants = {name: case.build(chest) for name, case in tv.CASES.items()}
    for name in VARIANT_ORDERS:
        axes, flip = tv.ORDERS[name]
        variants[f"order-{name}"] = lv.reorder(volume, axes=axes, flip=flip)
    bottom = lv.crop(volume, k=slice(0, 20))
    gassy, _ = lv.with_gas(bottom, tv.CHEST_GAS, air_sd=chest.trachea.air_sd, seed=3)
    variants["gas-bottom-20-slices"] = gassy
    return variants


def medvis_segment(volume: Any) -> Any:
    from medvis.lung import LungNotFoundError, segment_lungs

    def run() -> tuple[Any, Any]:
        try:
            result = segment_lungs(volume)
        except LungNotFoundError as error:  # a timed outcome like any other
            return error, volume.array
        return result, result.labels.array

    return run


def _outcome(volume: Any) -> str:
    """What segment_lungs makes of ``volume`` (untimed warm-up run)."""
    from medvis.lung import LungNotFoundError, segment_lungs

    try:
        result = segment_lungs(volume)
    except LungNotFoundError:
        return "LungNotFoundError"
    ml = np.count_nonzero(result.labels.array) * float(np.prod(volume.spacing)) / 1000
    return f"{ml:.0f} mL"


def bench_variants(volume: Any, repeats: int) -> dict[str, Any]:
    from medvis.lung import segment_lungs

    start = time.perf_counter()
    try:
        variants = build_variants(volume, segment_lungs(volume))
    except Exception as exc:  # the tests' builders missing or broken: report, go on
        print(f"  N/A: could not build the variants ({type(exc).__name__}: {exc})")
        return {"error": f"{type(exc).__name__}: {exc}"}
    print(f"  {len(variants)} variants built in {time.perf_counter() - start:.1f} s")
    volumes = {"full chest": volume, **variants}
    outcomes = {name: _outcome(v) for name, v in volumes.items()}
    contenders = [
        Contender(name, medvis_segment(v), "peer" if name == "full chest" else "medvis")
        for name, v in volumes.items()
    ]
    results = measure(contenders, repeats)
    full = results[0]
    if not full.ok:
        print(f"  full chest failed: {full.error}")
        return {"error": f"full chest: {full.error}"}
    width = max(len(name) for name in volumes)
    print(
        f"  {'variant':<{width}} {'shape (i, j, k)':>16} {'outcome':>17} {'median':>7} "
        f"{'min':>7} {'max':>7} {'cpu':>7} {'ratio':>6}"
    )
    out: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    failed: list[str] = []
    for m in results:
        name = m.contender.label
        shape = "x".join(str(n) for n in volumes[name].shape_ijk)
        entry: dict[str, Any] = {"shape_ijk": list(volumes[name].shape_ijk)}
        entry["outcome"] = outcomes[name]
        out[name] = entry
        if not m.ok:
            failed.append(name)
            entry["error"] = m.error
            print(f"  {name:<{width}} {shape:>16} failed: {m.error}: FAIL")
            continue
        ratio = m.median / full.median
        verdict = "PASS" if ratio <= VARIANT_RATIO_TARGET else "FAIL"
        entry.update(times_s=m.times, cpu_s=m.cpu_times, median_s=m.median)
        if m is not full:
            ratios[name] = ratio
            entry.update(ratio=ratio, verdict=verdict)
        print(
            f"  {name:<{width}} {shape:>16} {outcomes[name]:>17} {m.median:7.3f} {m.best:7.3f} "
            f"{m.worst:7.3f} {m.cpu_median:7.3f} {ratio:6.2f}"
            + ("" if m is full else f" {verdict}")
        )
    worst = max(ratios, key=ratios.__getitem__) if ratios else None
    ok = not failed and all(r <= VARIANT_RATIO_TARGET for r in ratios.values())
    verdict = "PASS" if ok else "FAIL"
    if worst is not None:
        print(
            f"  worst: {worst}, {ratios[worst]:.2f} x the full chest's median "
            f"({full.median:.3f} s): target <= {VARIANT_RATIO_TARGET:g} x: {verdict}"
            + (f" ({len(failed)} failed)" if failed else "")
        )
    return {
        "variants": out,
        "worst": worst,
        "worst_ratio": ratios[worst] if worst else None,
        "verdict": verdict,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument(
        "--data", help="chest CT DICOM folder (default ../shared/data/chest-ct/dicom)"
    )
    parser.add_argument("--json", help="write all results to this JSON file")
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
    print("\n[1/3] seg+mesh: segmentation + meshing vs SimpleITK + scikit-image, same volume")
    results["seg_mesh"] = bench_seg_mesh(volume, repeats)
    print("\n[2/3] whole-process: python -m medvis lung CT -o OUT --force (time, peak RSS)")
    results["process"] = bench_process(source, repeats)
    print("\n[3/3] variants: segment_lungs on variants of the chest vs on the full chest")
    results["variants"] = bench_variants(volume, repeats)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
