"""``medvis view PATH``: open the four-up viewer window on a file or DICOM folder.

A DICOM folder holding several series asks which one to open (on a terminal) or takes
``--series ID``; without a terminal the reader's choice is opened and the others are
listed. VTK's rendering modules are imported only when the window opens.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "choose_series", "lung_surfaces", "run"]


def add_parser(sub: Any) -> None:
    """Register ``view``."""
    from medvis.cli_render import _size

    parser = sub.add_parser(
        "view",
        help="open a viewer window: 3-D view + axial, coronal, sagittal slices",
        description="Open a window with a volume rendering and the three orthogonal slices "
        "of PATH (an image file, a DICOM folder, or 'phantom:chest'), linked by one cursor. "
        "Press h in the window for the keys. Needs a display (xvfb-run works).",
    )
    parser.add_argument("path", help="image file, DICOM folder, or phantom:chest")
    parser.add_argument(
        "--series", help="DICOM series id to open (a folder holding several asks otherwise)"
    )
    parser.add_argument("--preset", help="volume-rendering preset (see 'medvis presets')")
    parser.add_argument(
        "--window",
        default="auto",
        help="slice window: lung, mediastinum, soft_tissue, bone, brain, file, auto",
    )
    parser.add_argument(
        "--camera",
        default="anterior",
        help="3-D camera: anterior, posterior, left, right, superior, inferior",
    )
    parser.add_argument(
        "--size", type=_size, default=(1200, 860), help="window WIDTHxHEIGHT (1200x860)"
    )
    parser.add_argument(
        "--lungs",
        action="store_true",
        help="segment the lungs of a CT and show their surfaces in the 3-D view",
    )
    parser.add_argument("--frame", type=int, help="frame of 4-D data (default 0)")
    parser.add_argument("--mapper", choices=["auto", "gpu", "cpu"], default="auto")
    parser.add_argument(
        "--screenshot-dir", default=".", help="where the x key writes PNGs (default: here)"
    )
    parser.add_argument(
        "--script",
        help="JSON file of scripted actions (tests, demos; see medvis.render.viewer.script)",
    )
    parser.set_defaults(func=run)


def choose_series(
    path: str | Path,
    *,
    series: str | None = None,
    interactive: bool | None = None,
    ask: Callable[[str], str] = input,
    out: Any = None,
) -> str | None:
    """Which series of a DICOM folder to open: ``series``, the user's answer, or None.

    Parameters
    ----------
    path : path
        The folder (anything else returns ``series`` unchanged).
    series : str, optional
        An id already given (``--series``): no question.
    interactive : bool, optional
        Ask on the terminal; by default when stdin is a terminal.
    ask : callable
        Reads the answer (``input``).
    out : file, optional
        Where the list is printed (stderr).

    Returns
    -------
    str or None
        The series id, or None to let the reader pick (one series, or no terminal).
    """
    folder = Path(path)
    if series is not None or not folder.is_dir():
        return series
    from medvis.io.dicom_scan import list_series

    found, _notes = list_series(folder)
    if len(found) < 2:
        return None
    out = out if out is not None else sys.stderr
    # The reader's own order: localizers last, then the most images first.
    found = sorted(found, key=lambda s: (bool(s["localizer"]), -int(s["images"]), str(s["id"])))
    print(f"{folder} holds {len(found)} series:", file=out)
    for number, item in enumerate(found, 1):
        what = item["description"] or item["part"] or "no description"
        print(
            f"  {number}. {item['modality'] or '?':3} {item['images']:5d} images "
            f"{item['columns']}x{item['rows']}  {what}  [{item['id']}]",
            file=out,
        )
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    if not interactive:
        print(f"opening 1 ({found[0]['id']}); pass --series ID for another", file=out)
        return str(found[0]["id"])
    while True:
        answer = ask(f"open which series? [1-{len(found)}, Enter = 1] ").strip()
        if not answer:
            return str(found[0]["id"])
        if answer.isdigit() and 1 <= int(answer) <= len(found):
            return str(found[int(answer) - 1]["id"])
        for item in found:
            if answer in (item["id"], item["series_instance_uid"]):
                return str(item["id"])
        print(f"no series {answer!r}; type a number from the list", file=out)


def run(args: argparse.Namespace) -> int:
    """Load the volume and run the viewer until it is closed (exit code 0)."""
    from medvis.pipeline.presets import get_preset
    from medvis.render.viewer import Script, Viewer, has_display

    if not has_display():
        print(
            "medvis: error: no display (DISPLAY is not set): 'medvis view' opens a window; run "
            "it on a desktop, over 'ssh -X' or under 'xvfb-run -a'; 'medvis render' makes "
            "pictures without a display",
            file=sys.stderr,
        )
        return 2
    if args.preset:
        try:
            get_preset(args.preset)
        except KeyError as exc:
            print(f"medvis: error: {exc.args[0]}", file=sys.stderr)
            return 2
    try:
        script = Script.load(args.script) if args.script else None
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        print(f"medvis: error: script {args.script}: {exc}", file=sys.stderr)
        return 2
    from medvis.scenes import resolve_input

    source = str(args.path)
    series = args.series
    if not source.startswith(("phantom:", "nibabel-data:")):
        series = choose_series(
            source, series=series, interactive=None if not args.script else False
        )
    volume = resolve_input(source, frame=args.frame, series=series)
    for note in volume.warnings:
        print(f"medvis: warning: {note}", file=sys.stderr)
    surfaces = lung_surfaces(volume) if args.lungs else []
    try:
        viewer = Viewer(
            volume,
            preset=args.preset,
            window=args.window,
            size=args.size,
            camera=args.camera,
            title=f"medvis view - {source}",
            screenshot_dir=args.screenshot_dir,
            mapper=args.mapper,
            surfaces=surfaces,
        )
    except ValueError as exc:  # e.g. an unknown window name
        print(f"medvis: error: {exc}", file=sys.stderr)
        return 2
    return viewer.run(script)


def lung_surfaces(volume: Any) -> list[tuple[Any, tuple[float, float, float]]]:
    """Smoothed lung surfaces of a CT, lightened for drawing, with their colours."""
    from medvis.lung import LUNG_COLOURS, display_mesh, label_surfaces, segment_lungs

    lungs = segment_lungs(volume)
    for warning in lungs.warnings:
        print(f"medvis: warning: {warning}", file=sys.stderr)
    for note in lungs.notes:
        print(f"medvis: note: {note}", file=sys.stderr)
    meshes = label_surfaces(
        lungs.labels, names=lungs.names, smoothing=15, boxes=lungs.boxes, measure=False
    )
    return [
        (display_mesh(mesh.polydata), LUNG_COLOURS.get(mesh.label, (0.8, 0.8, 0.8)))
        for mesh in meshes
    ]
