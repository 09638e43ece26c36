"""Interleaved in-process timing of competing readers.

Every contender is a function that reads the data and returns ``(keep, array)``:
``keep`` holds whatever must stay alive while ``array`` is used (a SimpleITK image
behind an array view, a Volume, ...). One timed run is::

    t0 = perf_counter(); keep, array = contender(); touch(array); t1 = perf_counter()

after which ``keep`` and ``array`` are deleted and ``gc.collect()`` runs, untimed.
Rounds interleave the contenders (A, B, C, A, B, C, ...) so that every contender
sees the same machine noise; medians are reported.
"""

from __future__ import annotations

import gc
import mmap
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "Contender",
    "Measured",
    "Reading",
    "Role",
    "is_memory_mapped",
    "measure",
    "paired_ratios",
    "touch",
]

#: What a contender returns: something to keep alive, and the voxel array.
Reading = tuple[Any, Any]

Role = Literal["medvis", "peer", "info"]


@dataclass(frozen=True)
class Contender:
    """One way of reading a benchmark's data.

    Attributes
    ----------
    label : str
        Name printed in the report.
    read : callable
        ``read() -> (keep, array)``.
    role : {"medvis", "peer", "info"}
        medvis is compared with the peer; "info" contenders are timed for information.
    """

    label: str
    read: Callable[[], Reading]
    role: Role = "info"


@dataclass
class Measured:
    """Timings (seconds) of one contender, in round order, or why it has none.

    ``times`` are wall-clock times (the verdicts use them); ``cpu_times`` are the CPU
    time of the whole process over the same runs, all threads together.
    """

    contender: Contender
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when every run succeeded."""
        return self.error is None and bool(self.times)

    @property
    def median(self) -> float:
        """Median of the runs."""
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        """Median CPU time of the runs (above the wall time when the reader uses threads)."""
        return statistics.median(self.cpu_times)

    @property
    def best(self) -> float:
        """Fastest run."""
        return min(self.times)

    @property
    def worst(self) -> float:
        """Slowest run."""
        return max(self.times)


def touch(array: Any) -> Any:
    """Use the result the same way for every contender: check its shape, read one voxel.

    Reading the centre voxel (rather than summing, which would cost as much as a
    fast read) makes sure the array exists and is indexable without adding a
    measurable cost to any side.
    """
    shape = array.shape
    if len(shape) < 3 or min(shape) < 1:
        raise ValueError(f"expected a 3-D volume, got shape {shape}")
    return array[tuple(s // 2 for s in shape)]


def is_memory_mapped(array: Any) -> bool:
    """True when ``array`` (or an array it views) lives in a memory-mapped file.

    A memory-mapped result has not been read yet when the timing stops, so its time
    is not comparable with an in-memory read; the report says so.
    """
    base = array
    for _ in range(32):
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        nxt = getattr(base, "base", None)
        if nxt is None:
            break
        base = nxt
    return isinstance(base, mmap.mmap)


def _run_once(contender: Contender) -> tuple[float, float]:
    cpu_start = time.process_time()
    start = time.perf_counter()
    keep, array = contender.read()
    touch(array)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    del keep, array
    gc.collect()
    return elapsed, cpu


def measure(contenders: Sequence[Contender], repeats: int) -> list[Measured]:
    """Time ``contenders`` in ``repeats`` interleaved rounds.

    A contender that raises is dropped from the following rounds and reports the
    error; the others go on.

    Parameters
    ----------
    contenders : sequence of Contender
        In the order they run within a round.
    repeats : int
        Number of rounds.

    Returns
    -------
    list of Measured
        One per contender, in the order given.
    """
    results = [Measured(c) for c in contenders]
    gc.collect()
    for _ in range(repeats):
        for result in results:
            if result.error is not None:
                continue
            try:
                elapsed, cpu = _run_once(result.contender)
                result.times.append(elapsed)
                result.cpu_times.append(cpu)
            except Exception as exc:  # report, never crash the whole run
                result.error = f"{type(exc).__name__}: {exc}"
                gc.collect()
    return results


def paired_ratios(a: Measured, b: Measured) -> list[float]:
    """Per-round ratios ``a / b`` (the rounds interleave, so each pair shares the noise)."""
    return [x / y for x, y in zip(a.times, b.times, strict=False) if y > 0]


def cpu_model() -> str:
    """The processor's model name (for report headers)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
