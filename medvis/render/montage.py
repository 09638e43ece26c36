"""A montage of slice panels: the picture and where each plane lies in it (no VTK)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medvis.pipeline.reslice import Slice
from medvis.pipeline.windowing import WindowLevel

__all__ = ["MARGIN", "Montage", "Panel", "plane_title"]

#: Room around a plane in its panel (for the edge labels): the panel shows the plane's
#: larger half-extent times this.
MARGIN = 1.1


def plane_title(slice_: Slice) -> str:
    """The panel title of a plane: "Axial z -43.5", "Coronal y 50.4", ... or "Oblique"."""
    if slice_.plane == "axial":
        return f"Axial z {slice_.origin[2]:.1f}"
    if slice_.plane == "coronal":
        return f"Coronal y {slice_.origin[1]:.1f}"
    if slice_.plane == "sagittal":
        return f"Sagittal x {slice_.origin[0]:.1f}"
    return "Oblique"


@dataclass(frozen=True)
class Panel:
    """One slice in a montage and how its pixels map into the montage image.

    Attributes
    ----------
    slice : Slice
        The sampled plane (values and geometry).
    window : WindowLevel
        The window it is shown with.
    box : tuple of int
        (row, column, height, width) of the panel in the montage.
    pixels_per_mm : float
        Display scale (the same along both axes: true aspect ratio).
    """

    slice: Slice
    window: WindowLevel
    box: tuple[int, int, int, int]
    pixels_per_mm: float

    def world_to_pixel(self, point: ArrayLike) -> NDArray[np.float64]:
        """(row, column) in the montage where an LPS point (projected on the plane) is shown."""
        r, c = self.slice.world_to_pixel(point)
        rows, cols = self.slice.shape
        row_mm, col_mm = self.slice.spacing
        top, left, height, width = self.box
        dx = (c - (cols - 1) / 2.0) * col_mm
        dy = (r - (rows - 1) / 2.0) * row_mm
        return np.array(
            [
                top + height / 2.0 + dy * self.pixels_per_mm,
                left + width / 2.0 + dx * self.pixels_per_mm,
            ]
        )


@dataclass(frozen=True)
class Montage:
    """A rendered row of slice panels.

    ``rgb`` is (height, width, 3) uint8; ``panels`` say where each slice is.
    """

    rgb: NDArray[np.uint8]
    panels: tuple[Panel, ...]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        return self.rgb if dtype is None else self.rgb.astype(dtype)
