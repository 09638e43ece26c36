"""Contact sheet of every volume-rendering preset on the shared chest CT.

Renders each preset of :data:`medvis.pipeline.presets.PRESETS` from the anterior camera
with :func:`medvis.render.render_volume` (the same call as ``medvis render``), writes the
preset's name under its tile and lays the tiles out in a grid, saved atomically as a PNG.

Usage (from the repository root)::

    python docs/make_preset_sheet.py [--data DIR] [-o docs/presets.png] [--tile 256]

``--data`` is the shared data folder (``../shared/data`` by default, or
``$MEDVIS_TEST_DATA``); the scan is its ``chest-ct/dicom`` series.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

import medvis
from medvis.pipeline.presets import PRESETS
from medvis.render import render_volume, save_png
from medvis.render.glyphs import text_coverage

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MEDVIS_TEST_DATA", REPO / ".." / "shared" / "data"))
LABEL_HEIGHT = 26  # px under each tile for the preset's name
GAP = 4  # px between tiles


def label_strip(text: str, width: int) -> NDArray[np.uint8]:
    """A dark strip ``LABEL_HEIGHT`` px tall with ``text`` centred in light grey."""
    strip = np.full((LABEL_HEIGHT, width, 3), 24, np.uint8)
    coverage = text_coverage(text, 15)
    height, length = coverage.shape
    if height == 0:
        return strip
    if length > width - 4:  # a long name: shrink to fit, nearest-neighbour
        cols = np.linspace(0, length - 1, width - 4).round().astype(int)
        coverage, length = coverage[:, cols], width - 4
    top, left = (LABEL_HEIGHT - height) // 2, (width - length) // 2
    region = strip[top : top + height, left : left + length].astype(np.float32)
    ink = np.array([235.0, 235.0, 235.0], np.float32)
    region += coverage[..., None] * (ink - region)
    strip[top : top + height, left : left + length] = region.round().astype(np.uint8)
    return strip


def contact_sheet(tiles: list[tuple[str, NDArray[np.uint8]]], columns: int) -> NDArray[np.uint8]:
    """Tiles with their labels below, ``columns`` per row, on a black sheet."""
    tile_h, tile_w = tiles[0][1].shape[:2]
    cell_h, cell_w = tile_h + LABEL_HEIGHT, tile_w
    rows = math.ceil(len(tiles) / columns)
    sheet = np.zeros(
        (rows * cell_h + (rows + 1) * GAP, columns * cell_w + (columns + 1) * GAP, 3), np.uint8
    )
    for n, (name, rgb) in enumerate(tiles):
        row, col = divmod(n, columns)
        top, left = GAP + row * (cell_h + GAP), GAP + col * (cell_w + GAP)
        sheet[top : top + tile_h, left : left + tile_w] = rgb
        sheet[top + tile_h : top + cell_h, left : left + tile_w] = label_strip(name, tile_w)
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "presets.png")
    parser.add_argument("--tile", type=int, default=256, help="tile size in pixels")
    parser.add_argument("--columns", type=int, default=6)
    args = parser.parse_args(argv)

    series = args.data / "chest-ct" / "dicom"
    if not series.exists():
        print(f"make_preset_sheet: {series} not found; pass --data DIR", file=sys.stderr)
        return 2
    volume = medvis.load(series)
    tiles = []
    for name in PRESETS:
        start = time.perf_counter()
        rgb = render_volume(volume, preset=name, camera="anterior", size=(args.tile, args.tile))
        tiles.append((name, rgb))
        print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)
    save_png(contact_sheet(tiles, args.columns), args.output, force=True)  # atomic
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({len(tiles)} presets, {size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
