"""Sums over blocks of voxels, by strided adds (much faster than a 6-D reshape), no VTK.

Blocks of ``step`` voxels along an axis, the last one short when the axis does not divide;
booleans and uint8 are counted (uint16), anything else summed in float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["block_counts", "block_sum", "block_sums"]


def block_sum(array: NDArray[Any], step: int, axis: int) -> NDArray[Any]:
    """Sums of consecutive blocks of ``step`` along ``axis``."""
    counting = array.dtype in (np.bool_, np.uint8)
    if step == 1:
        return array.astype(np.uint16) if counting else np.asarray(array, np.float32)
    shape = list(array.shape)
    shape[axis] = -(-array.shape[axis] // step)
    out = np.zeros(shape, np.uint16 if counting else np.float32)
    for offset in range(step):
        part = array[(slice(None),) * axis + (slice(offset, None, step),)]
        target = out[(slice(None),) * axis + (slice(0, part.shape[axis]),)]
        np.add(target, part, out=target, casting="unsafe")
    return out


def block_sums(array: NDArray[Any], step: tuple[int, ...]) -> NDArray[Any]:
    """Sums over blocks of ``step`` (one per axis) of a 3-D array."""
    out = array
    for axis in (2, 1, 0):
        out = block_sum(out, step[axis], axis)
    return out


def block_counts(n: int, step: int) -> NDArray[np.float32]:
    """How many voxels each block of ``step`` along an axis of ``n`` holds."""
    counts = np.full(-(-n // step), step, np.float32)
    if n % step:
        counts[-1] = n % step
    return counts
