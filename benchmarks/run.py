"""Read-speed benchmarks of medvis against its peers (SimpleITK, nibabel, pynrrd, raw I/O).

Usage::

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--repeats N]
                             [--cache DIR] [--regenerate] [--json FILE]

For each benchmark the data is generated once into the cache, the page cache is
warmed with an untimed read, every contender is run once untimed (which also checks
that medvis and the peer return the same voxels), then the contenders are timed in
interleaved rounds (medvis, peer, info, medvis, peer, info, ...). The report gives
median, min and max per contender and the ratio of medians medvis/peer against the
target. The exit status is 0 whatever the verdicts: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datagen
import numpy as np
from cases import BENCHMARKS, Benchmark, Inputs
from harness import Measured, cpu_model, is_memory_mapped, measure, paired_ratios, touch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_SHAPE = (300, 512, 512)
_PACKAGES = ("numpy", "SimpleITK", "nibabel", "pynrrd", "pydicom", "isal", "medvis")


# ------------------------------------------------------------------------ machine


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return float("nan")


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "medvis"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev} (medvis/ has uncommitted changes)" if dirty else rev


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _reader_modules() -> str:
    """Which medvis reader modules import, as "dicom=ok nifti=missing ..."."""
    try:
        from medvis.io import registry
    except Exception as exc:
        return f"medvis.io.registry does not import ({type(exc).__name__}: {exc})"
    states = []
    for name in getattr(registry, "_READER_MODULES", ()):
        try:
            importlib.import_module(name)
            state = "ok"
        except ModuleNotFoundError as exc:
            state = "missing" if exc.name == name else f"broken ({exc})"
        except Exception as exc:
            state = f"broken ({type(exc).__name__})"
        states.append(f"{name.rsplit('.', 1)[-1]}={state}")
    return " ".join(states) or "none listed"


def _load_average() -> str:
    """The 1-minute load average, with a warning when other work shares the cores."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return "unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    busy = load > 0.5 * (cores or 1)
    return f"{load:.2f}" + (" (other processes are busy: expect noisy timings)" if busy else "")


def machine_info() -> dict[str, str]:
    """Facts about the machine and the software, printed on top of the report."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu_model()}; nproc {affinity or os.cpu_count()} "
        f"(os.cpu_count {os.cpu_count()}); {_memory_gib():.0f} GiB RAM",
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": " ".join(f"{p}={_version(p)}" for p in _PACKAGES),
        "medvis tree": f"{REPO} @ {_git_revision()}",
        "medvis readers": _reader_modules(),
        "load average": _load_average(),
    }


# ------------------------------------------------------------------------ formatting
def fmt_time(seconds: float) -> str:
    """Seconds as "12.3 ms", "412 ms" or "2.10 s"."""
    if seconds < 0.1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 1.0:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.2f} s"


def _mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:.1f} MiB"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------ one benchmark
@dataclass
class Outcome:
    """The result of one benchmark, for the summary and the JSON file."""

    bench: Benchmark
    status: str  # PENDING, then PASS, FAIL, N/A (reader not available) or ERROR
    note: str = ""
    results: list[Measured] = field(default_factory=list)
    ratio: float | None = None
    checks: list[str] = field(default_factory=list)
    noisy: bool = False

    def measured(self, role: str) -> Measured | None:
        """The result of the contender with ``role``, if it was timed."""
        return next((m for m in self.results if m.contender.role == role), None)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _medvis_unavailable(exc: BaseException, module: str) -> bool:
    """True when ``exc`` means "this reader is not written yet" rather than a bug in it.

    An import failure always counts as "not available"; "no reader recognises this
    file" counts only while the reader's module does not exist.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"ImportError", "SyntaxError", "NotImplementedError"}:
        return True
    return "UnsupportedFormatError" in names and not _module_exists(module)


def _warm_page_cache(files: Sequence[Path]) -> None:
    for path in files:
        for _ in datagen.iter_chunks(path):
            pass


def _checks(
    keep: Any, array: Any, peer_label: str, peer_array: Any, shape: tuple[int, int, int]
) -> list[str]:
    """Untimed sanity checks of the medvis result: layout, voxels, geometry."""
    lines = []
    where = (
        "MEMORY-MAPPED: timings exclude reading the voxels"
        if is_memory_mapped(array)
        else "in memory"
    )
    contiguous = "C-contiguous" if array.flags.c_contiguous else "NOT C-contiguous"
    lines.append(f"medvis array: shape {tuple(array.shape)} {array.dtype}, {contiguous}, {where}")
    if peer_array is not None:
        if tuple(peer_array.shape) != tuple(array.shape):
            lines.append(
                f"voxels vs {peer_label}: SHAPES DIFFER "
                f"({tuple(array.shape)} vs {tuple(peer_array.shape)})"
            )
        elif np.array_equal(array, peer_array):
            lines.append(f"voxels vs {peer_label}: identical")
        else:
            differing = int(np.count_nonzero(array != peer_array))
            lines.append(
                f"voxels vs {peer_label}: DIFFER in {differing} voxels "
                f"(dtypes {array.dtype} / {peer_array.dtype})"
            )
    want = {
        "spacing": np.asarray(datagen.SPACING),
        "origin": datagen.origin(shape),
        "direction": datagen.DIRECTION,
    }
    wrong = []
    for name, expected in want.items():
        got = getattr(keep, name, None)
        if got is None or not np.allclose(np.asarray(got, float), expected, atol=1e-3):
            shown = None if got is None else np.round(np.asarray(got, float), 4).tolist()
            wrong.append(f"{name}={shown} (expected {np.round(expected, 4).tolist()})")
    lines.append(
        "geometry vs generator: " + ("matches" if not wrong else "DIFFERS: " + "; ".join(wrong))
    )
    return lines


def run_benchmark(
    bench: Benchmark, cache: datagen.DataCache, repeats: int, regenerate: bool
) -> Outcome:
    """Generate (if needed), warm up, check and time one benchmark; print its section."""
    try:
        path = cache.ensure(bench.dataset, regenerate=regenerate)
    except Exception as exc:
        print(f"  data generation failed: {type(exc).__name__}: {exc}")
        return Outcome(bench, "ERROR", note=_short(f"data generation failed: {exc}"))
    files = cache.files(bench.dataset)
    inputs = Inputs(path, cache.shape, files)
    print(
        f"  data: {path} ({len(files)} file{'s' if len(files) > 1 else ''}, "
        f"{_mib(cache.nbytes(bench.dataset))} on disk; voxels {_mib(inputs.voxel_bytes)} int16)"
    )
    _warm_page_cache(files)

    contenders = bench.contenders(inputs)
    medvis_c, peer_c = contenders[0], contenders[1]
    outcome = Outcome(bench, "PENDING")

    # Untimed warm-up of every contender: also decides whether medvis can read this.
    peer_array: Any = None
    peer_keep: Any = None
    try:
        peer_keep, peer_array = peer_c.read()
        touch(peer_array)
    except Exception as exc:
        print(f"  peer failed in warm-up: {type(exc).__name__}: {_short(str(exc))}")
    try:
        keep, array = medvis_c.read()
        touch(array)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {_short(str(exc))}"
        if not _module_exists(bench.module):
            outcome.status = "N/A"
            outcome.note = f"reader not available ({bench.module} does not exist yet)"
        elif _medvis_unavailable(exc, bench.module):
            outcome.status, outcome.note = "N/A", f"reader not available ({reason})"
        else:
            outcome.status, outcome.note = "ERROR", f"medvis.load raised {reason}"
        print(f"  medvis: {outcome.note}")
        contenders = contenders[1:]
    else:
        outcome.checks = _checks(keep, array, peer_c.label, peer_array, cache.shape)
        del keep, array
    del peer_keep, peer_array
    gc.collect()
    for check in outcome.checks:
        print(f"  check: {check}")
    for contender in (c for c in contenders if c.role == "info"):
        try:
            extra_keep, extra = contender.read()
            touch(extra)
            del extra_keep, extra
        except Exception:  # its error is reported by measure()
            pass
        gc.collect()

    outcome.results = measure(contenders, repeats)
    _print_table(outcome.results)
    _judge(outcome)
    return outcome


def _print_table(results: Sequence[Measured]) -> None:
    width = max(len(m.contender.label) for m in results) + 8
    print(f"  {'contender':<{width}} {'median':>9} {'min':>9} {'max':>9} {'cpu':>9}  runs")
    for m in results:
        tag = {"medvis": "", "peer": " (peer)", "info": " (info)"}[m.contender.role]
        label = m.contender.label + tag
        if m.ok:
            print(
                f"  {label:<{width}} {fmt_time(m.median):>9} {fmt_time(m.best):>9} "
                f"{fmt_time(m.worst):>9} {fmt_time(m.cpu_median):>9}  {len(m.times)}"
            )
        else:
            print(f"  {label:<{width}} failed: {_short(m.error or 'no runs', 120)}")


def _judge(outcome: Outcome) -> None:
    """Set the verdict from the medians and print the ratio line."""
    target = outcome.bench.target
    mine, peer = outcome.measured("medvis"), outcome.measured("peer")
    if outcome.status in ("N/A", "ERROR"):
        print(f"  ratio medvis/peer: -- (target <= {target:g}): {outcome.status}")
        return
    if mine is None or not mine.ok:
        outcome.status = "ERROR"
        outcome.note = f"medvis failed while timed: {mine.error if mine else 'not run'}"
    elif peer is None or not peer.ok:
        outcome.status = "ERROR"
        outcome.note = f"peer failed: {peer.error if peer else 'not run'}"
    if outcome.status == "ERROR":
        print(f"  ratio medvis/peer: -- (target <= {target:g}): ERROR, {_short(outcome.note)}")
        return
    assert mine is not None and peer is not None
    outcome.ratio = mine.median / peer.median
    outcome.status = "PASS" if outcome.ratio <= target else "FAIL"
    rounds = paired_ratios(mine, peer)
    others = {
        "ratio of minimums": mine.best / peer.best,
        "median per-round ratio": statistics.median(rounds),
    }
    print(
        f"  ratio medvis/peer (medians) = {outcome.ratio:.3f}; of minimums "
        f"{others['ratio of minimums']:.3f}; per round: median "
        f"{others['median per-round ratio']:.3f}, range {min(rounds):.3f}..{max(rounds):.3f}"
    )
    print(f"  target <= {target:g}: {outcome.status}")
    disagree = [
        name for name, value in others.items() if (value <= target) != (outcome.ratio <= target)
    ]
    if disagree:
        outcome.noisy = True
        print(
            f"  NOISY: the {' and the '.join(disagree)} would give the other verdict; "
            "re-run on a quieter machine or with more --repeats"
        )


# ------------------------------------------------------------------------ report
def print_summary(outcomes: Sequence[Outcome]) -> None:
    """The final table: one line per benchmark."""
    print()
    print("Summary (ratio = median medvis / median peer)")
    header = f"{'benchmark':<14} {'medvis':>9} {'peer':>9} {'ratio':>7} {'target':>8}  result"
    print(header)
    print("-" * len(header))
    for o in outcomes:
        mine, peer = o.measured("medvis"), o.measured("peer")
        mine_t = fmt_time(mine.median) if mine and mine.ok else "--"
        peer_t = fmt_time(peer.median) if peer and peer.ok else "--"
        ratio = f"{o.ratio:.3f}" if o.ratio is not None else "--"
        note = f": {_short(o.note, 90)}" if o.status in ("N/A", "ERROR") else ""
        target = f"<= {o.bench.target:g}"
        line = f"{o.bench.name:<14} {mine_t:>9} {peer_t:>9} {ratio:>7} {target:>8}"
        status = f"{o.status} (noisy)" if o.noisy else o.status
        print(f"{line}  {status}{note}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("PASS", "FAIL", "N/A", "ERROR")}
    print("-" * len(header))
    print("  ".join(f"{k}: {v}" for k, v in counts.items()))


def write_json(path: Path, info: dict[str, str], outcomes: Sequence[Outcome], args: Any) -> None:
    """All timings, machine facts and verdicts as JSON (for tracking over time)."""
    doc = {
        "machine": info,
        "repeats": args.repeats,
        "shape_kji": list(args.shape),
        "benchmarks": [
            {
                "name": o.bench.name,
                "target": o.bench.target,
                "status": o.status,
                "note": o.note,
                "ratio": o.ratio,
                "noisy": o.noisy,
                "checks": o.checks,
                "contenders": [
                    {
                        "label": m.contender.label,
                        "role": m.contender.role,
                        "times_s": m.times,
                        "cpu_times_s": m.cpu_times,
                        "error": m.error,
                    }
                    for m in o.results
                ],
            }
            for o in outcomes
        ],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")


# ------------------------------------------------------------------------ main
def _parse_shape(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.lower().replace("x", ",").split(",") if p.strip()]
    if len(parts) != 3 or min(parts) < 2:
        raise argparse.ArgumentTypeError("shape is K,J,I with every size >= 2, e.g. 300,512,512")
    return parts[0], parts[1], parts[2]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    names = [b.name for b in BENCHMARKS]
    parser = argparse.ArgumentParser(
        description="Time medvis.load against SimpleITK / nibabel / pynrrd / raw reads.",
    )
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--repeats", type=int, help="timed rounds (default 7, 3 with --quick)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these benchmarks (repeatable or comma-separated): {', '.join(names)}",
    )
    parser.add_argument(
        "--cache", type=Path, default=HERE / "_cache", help="data folder (default %(default)s)"
    )
    parser.add_argument("--regenerate", action="store_true", help="write the data again")
    parser.add_argument(
        "--shape",
        type=_parse_shape,
        default=DEFAULT_SHAPE,
        help="volume size K,J,I (default 300,512,512; the targets are meant for it)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    wanted = [n.strip() for chunk in args.only or [] for n in chunk.split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    args.selected = [b for b in BENCHMARKS if not wanted or b.name in wanted]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks and print the report; returns 0."""
    args = parse_args(argv)
    if args.list:
        for b in BENCHMARKS:
            print(f"{b.name:<14} target <= {b.target:<5g} {b.title}")
        return 0
    # Benchmark the working tree's medvis, whatever is installed.
    sys.path.insert(0, str(REPO))

    started = time.perf_counter()
    info = machine_info()
    print("medvis read benchmarks")
    for key, value in info.items():
        print(f"  {key + ':':<16}{value}")
    print(
        f"  {'settings:':<16}{args.repeats} interleaved rounds per benchmark, "
        f"volume {'x'.join(map(str, args.shape))} (k x j x i) int16, cache {args.cache}"
    )
    cache = datagen.DataCache(args.cache, args.shape, log=lambda line: print(f"  {line}"))
    outcomes = []
    for n, bench in enumerate(args.selected, 1):
        print()
        print(f"[{n}/{len(args.selected)}] {bench.name}: {bench.title}")
        try:
            outcomes.append(run_benchmark(bench, cache, args.repeats, args.regenerate))
        except Exception as exc:  # a report never crashes half-way
            print(f"  benchmark crashed: {type(exc).__name__}: {exc}")
            outcomes.append(Outcome(bench, "ERROR", note=_short(f"crashed: {exc}")))
        gc.collect()
    print_summary(outcomes)
    print(
        f"total time {time.perf_counter() - started:.0f} s; "
        f"load average at the end: {_load_average()}"
    )
    if args.json:
        write_json(args.json, info, outcomes, args)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
