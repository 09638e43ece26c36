"""Slice montages painted with numpy: the same picture as :func:`render_slices`, no OpenGL.

:func:`paint_slices` places each windowed plane in its panel at the same scale and
position as :func:`medvis.render.render_slices` (true aspect ratio, the plane's larger
half-extent times :data:`~medvis.render.montage.MARGIN` filling the panel) by sampling it
bilinearly, and draws the patient-direction letters and titles with VTK's FreeType text
renderer, which needs no OpenGL context. Use it where a process should not pay for one
(an EGL/llvmpipe context costs about 100 MiB); the returned :class:`Montage` has the same
panel geometry, so outlines and markers can be drawn on it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import ArrayLike, NDArray

from medvis.pipeline.reslice import Slice, reslice
from medvis.pipeline.windowing import WindowSpec, apply_window, resolve_window
from medvis.render.glyphs import text_coverage
from medvis.render.montage import MARGIN, Montage, Panel, plane_title
from medvis.volume import Volume

__all__ = ["paint_slices"]

_LABEL_COLOUR = np.array([1.0, 0.85, 0.25], np.float32)
_EDGE = 0.035  # letters this far from the panel edge (fraction of the panel)


def _blend(
    rgb: NDArray[np.float32], alpha: NDArray[np.float32], top: int, left: int, colour: ArrayLike
) -> None:
    """Alpha-blend a glyph block of ``colour`` into ``rgb`` at (top, left), clipped."""
    h, w = alpha.shape
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + h, rgb.shape[0]), min(left + w, rgb.shape[1])
    if r0 >= r1 or c0 >= c1:
        return
    a = alpha[r0 - top : r1 - top, c0 - left : c1 - left, np.newaxis]
    block = rgb[r0:r1, c0:c1]
    block *= 1.0 - a
    block += a * np.asarray(colour, np.float32)


def _put_text(
    rgb: NDArray[np.float32], text: str, size: int, x: float, y: float, h: str, v: str
) -> None:
    """Draw ``text`` at normalised panel position (x right, y up) with VTK's justification."""
    alpha = text_coverage(text, size)
    if not alpha.size:
        return
    height, width = rgb.shape[:2]
    th, tw = alpha.shape
    px, py = x * width, (1.0 - y) * height
    left = {"left": px, "center": px - tw / 2.0, "right": px - tw}[h]
    top = {"top": py, "center": py - th / 2.0, "bottom": py - th}[v]
    top_i, left_i = round(top), round(left)
    _blend(rgb, alpha, top_i + 1, left_i + 1, (0.0, 0.0, 0.0))  # shadow
    _blend(rgb, alpha, top_i, left_i, _LABEL_COLOUR)


def paint_slices(
    volume: Volume,
    *,
    window: WindowSpec = "auto",
    point: ArrayLike | None = None,
    planes: Sequence[str | Slice] = ("axial", "coronal", "sagittal"),
    panel_size: Sequence[int] = (256, 256),
    interpolation: str = "linear",
    labels: bool = True,
    titles: bool = True,
    background: Sequence[float] = (0.0, 0.0, 0.0),
    frame: int = 0,
) -> Montage:
    """Planes of a volume side by side, windowed, with L/R/A/P/S/I labels, without OpenGL.

    Same parameters and panel geometry as :func:`medvis.render.render_slices`; the
    pixels differ slightly (bilinear sampling by scipy rather than OpenGL texturing,
    text placed by its tight bounding box).

    Returns
    -------
    Montage
        ``montage.rgb`` (H, W, 3) uint8 and per-panel geometry.

    Examples
    --------
    >>> from medvis.phantoms import chest_phantom
    >>> from medvis.render.slice_paint import paint_slices
    >>> paint_slices(chest_phantom(), window="lung", panel_size=(96, 96)).rgb.shape
    (96, 288, 3)
    """
    chosen = resolve_window(window, metadata=volume.metadata, array=volume.array)
    slices = [
        p
        if isinstance(p, Slice)
        else reslice(volume, p, point=point, interpolation=interpolation, frame=frame)  # type: ignore[arg-type]
        for p in planes
    ]
    pw, ph = (int(v) for v in panel_size)
    if pw < 1 or ph < 1:
        raise ValueError(f"image size must be positive, got {pw}x{ph}")
    font = max(9, ph // 14)
    small = max(8, font * 2 // 3)
    bg = np.asarray(background, np.float32)
    order = 0 if interpolation == "nearest" else 1
    panels = []
    picture = np.empty((ph, pw * len(slices), 3), np.float32)
    for index, slice_ in enumerate(slices):
        grey = apply_window(
            slice_.pixels if slice_.pixels.ndim == 2 else slice_.pixels[..., 0], chosen
        )
        rows, cols = grey.shape
        row_mm, col_mm = slice_.spacing
        scale = max(rows * row_mm / 2.0, cols * col_mm / 2.0 * ph / pw) * MARGIN
        per_mm = ph / (2.0 * scale)
        # Pixel centres (y + 0.5, x + 0.5) -> plane row/column (row 0 on top, as drawn).
        r = ((np.arange(ph) + 0.5 - ph / 2.0) / per_mm) / row_mm + (rows - 1) / 2.0
        c = ((np.arange(pw) + 0.5 - pw / 2.0) / per_mm) / col_mm + (cols - 1) / 2.0
        inside_r = (r >= -0.5) & (r <= rows - 0.5)
        inside_c = (c >= -0.5) & (c <= cols - 0.5)
        panel = picture[:, index * pw : (index + 1) * pw]
        panel[:] = bg
        rr, cc = np.nonzero(inside_r)[0], np.nonzero(inside_c)[0]
        if len(rr) and len(cc):
            grid = np.meshgrid(
                np.clip(r[rr], 0, rows - 1), np.clip(c[cc], 0, cols - 1), indexing="ij"
            )
            values = ndi.map_coordinates(grey.astype(np.float32), grid, order=order, mode="nearest")
            panel[rr[0] : rr[-1] + 1, cc[0] : cc[-1] + 1] = (values / 255.0)[..., np.newaxis]
        if labels:
            _put_text(panel, slice_.labels["left"], font, _EDGE, 0.5, "left", "center")
            _put_text(panel, slice_.labels["right"], font, 1 - _EDGE, 0.5, "right", "center")
            _put_text(panel, slice_.labels["top"], font, 0.5, 1 - _EDGE, "center", "top")
            _put_text(panel, slice_.labels["bottom"], font, 0.5, _EDGE, "center", "bottom")
        if titles:
            _put_text(panel, plane_title(slice_), small, 0.015, 0.985, "left", "top")
            window_text = f"W{chosen.width:g} L{chosen.center:g}"
            _put_text(panel, window_text, small, 0.015, 0.015, "left", "bottom")
        panels.append(Panel(slice_, chosen, (0, index * pw, ph, pw), per_mm))
    return Montage(rgb=_to_uint8(picture), panels=tuple(panels))


def _to_uint8(picture: NDArray[np.float32]) -> NDArray[np.uint8]:
    """0..1 floats to 0..255 bytes, in place (the float picture is spent)."""
    np.clip(picture, 0.0, 1.0, out=picture)
    picture *= 255.0
    np.rint(picture, out=picture)
    return picture.astype(np.uint8)
