"""``medvis render`` (scene files or a volume with a preset) and ``medvis presets``.

VTK's rendering modules are imported only when ``render`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run_presets", "run_render"]

_SCENE_SUFFIXES = (".toml", ".yaml", ".yml")


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"size is WIDTHxHEIGHT or N, not {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or min(values) < 1 or max(values) > 8192:
        raise argparse.ArgumentTypeError(f"size is WIDTHxHEIGHT (1..8192), not {text!r}")
    return values[0], values[1]


def _shift(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"shift is a number of data units, not {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"shift must be a finite number, not {text!r}")
    return value


def add_parser(sub: Any) -> None:
    """Register ``render`` and ``presets``."""
    render = sub.add_parser(
        "render",
        help="render a scene file, or a volume with a preset, to PNG (no display needed)",
        description="Render SCENE.toml/.yaml, or an image file/DICOM folder ('phantom:chest' "
        "for the built-in phantom), offscreen to a PNG.",
    )
    render.add_argument(
        "source", help="scene file (.toml/.yaml) or image path / DICOM folder / phantom:chest"
    )
    render.add_argument("-o", "--output", help="PNG to write (a scene's output.path by default)")
    render.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    render.add_argument(
        "--input", help="use this input instead of the scene's (path or phantom:chest)"
    )
    render.add_argument("--preset", help="volume-rendering preset (see 'medvis presets')")
    render.add_argument(
        "--shift",
        type=_shift,
        metavar="UNITS",
        help="move the preset along the data range by UNITS data units (e.g. HU), as "
        "Slicer's preset shift; relative (MR) presets are fitted to the data first",
    )
    render.add_argument(
        "--keep-table",
        action="store_true",
        help="show the CT table (left out by default: everything beyond the patient on "
        "the table's side is cropped away, nothing inside the body is touched)",
    )
    render.add_argument("--camera", help="anterior, posterior, left, right, superior, inferior")
    render.add_argument(
        "--size", type=_size, help="WIDTHxHEIGHT in pixels (panel size for --slices)"
    )
    render.add_argument("--slices", action="store_true", help="three-plane montage instead of 3-D")
    render.add_argument(
        "--window", help="slice window: lung, mediastinum, soft_tissue, bone, brain, file, auto"
    )
    render.add_argument("--blend", choices=["composite", "maximum", "minimum", "average"])
    render.add_argument("--mapper", choices=["auto", "gpu", "cpu"], default="auto")
    render.add_argument("--series", help="DICOM SeriesInstanceUID to pick in a folder")
    render.add_argument("--frame", type=int, help="frame of 4-D data")
    render.set_defaults(func=run_render)

    presets = sub.add_parser("presets", help="list volume-rendering presets, windows and cameras")
    presets.add_argument("--json", action="store_true", help="print JSON")
    presets.set_defaults(func=run_presets)


def run_presets(args: argparse.Namespace) -> int:
    """Print the preset, window and camera names."""
    from medvis.pipeline.presets import PRESETS
    from medvis.pipeline.windowing import WINDOWS

    cameras = ["anterior", "posterior", "left", "right", "superior", "inferior"]
    if args.json:
        payload = {
            "presets": {
                name: {
                    "description": p.description,
                    "blend": p.blend,
                    "shade": p.shade,
                    "value_range": list(p.value_range),
                    "source": p.source,
                }
                for name, p in PRESETS.items()
            },
            "windows": {
                name: {"width": w.width, "center": w.center} for name, w in WINDOWS.items()
            },
            "cameras": cameras,
        }
        print(json.dumps(payload, indent=2))
        return 0
    print("Volume-rendering presets (3D Slicer's presets.xml):")
    for name, preset in PRESETS.items():
        extra = "  [MIP]" if preset.blend == "maximum" else ""
        print(f"  {name:28} {preset.description}{extra}")
    print("\nSlice windows (W/L):")
    for name, window in WINDOWS.items():
        print(f"  {name:28} W{window.width:g} L{window.center:g}")
    print("  file                         the file's own WindowCenter/WindowWidth")
    print("  auto                         the file's window, else the 1st-99th percentiles")
    print("\nCameras: " + ", ".join(cameras))
    return 0


def run_render(args: argparse.Namespace) -> int:
    """Render and write the PNG; an unknown preset, window or camera name exits 2."""
    from medvis.errors import MedvisError

    try:
        return _render(args)
    except MedvisError:
        raise
    except (KeyError, ValueError) as exc:  # a bad name or value given on the command line
        message = exc.args[0] if exc.args else str(exc)
        print(f"medvis: error: {message}", file=sys.stderr)
        return 2


def _render(args: argparse.Namespace) -> int:
    from medvis import scenes

    source = str(args.source)
    is_scene = source.lower().endswith(_SCENE_SUFFIXES)
    if is_scene:
        scene = scenes.load_scene(source)
        data = dict(scene.data)
        if (
            args.preset
            or args.blend
            or args.mapper != "auto"
            or args.shift is not None
            or args.keep_table
        ):
            layers = []
            for layer in data.get("layers", []):
                layer = dict(layer)
                if layer["type"] == "volume":
                    if args.preset:
                        layer["preset"] = args.preset
                    if args.blend:
                        layer["blend"] = args.blend
                    if args.mapper != "auto":
                        layer["mapper"] = args.mapper
                    if args.shift is not None:
                        layer["shift"] = args.shift
                    if args.keep_table:
                        layer["keep_table"] = True
                layers.append(layer)
            if layers:
                data["layers"] = layers
        if args.camera:
            data["camera"] = {**data.get("camera", {}), "view": args.camera}
            for key in ("position", "focal_point", "view_up"):
                data["camera"].pop(key, None)
        if args.window and "montage" in data:
            data["montage"] = {**data["montage"], "window": args.window}
        scene = scenes.Scene(source=scene.source, data=data)
        target = Path(args.output) if args.output else scene.output_path()
        if target is None:
            print("medvis: error: the scene names no output.path; give -o OUT.png", file=sys.stderr)
            return 2
        volume = None
        if args.input:
            volume = scenes.resolve_input(args.input, frame=args.frame, series=args.series)
        rgb = scenes.render_scene(scene, volume=volume, size=args.size)
        what = f"scene {source}"
    else:
        if not args.output:
            print("medvis: error: give -o OUT.png", file=sys.stderr)
            return 2
        target = Path(args.output)
        volume = scenes.resolve_input(args.input or source, frame=args.frame, series=args.series)
        for note in volume.warnings:
            print(f"medvis: warning: {note}", file=sys.stderr)
        from medvis import render

        if args.slices:
            rgb = render.render_slices(
                volume, window=args.window or "auto", panel_size=args.size or (256, 256)
            ).rgb
            what = f"slices of {source}"
        else:
            preset = args.preset or render.volume_render.default_preset(volume)
            rgb = render.render_volume(
                volume,
                preset=preset,
                camera=args.camera or "anterior",
                size=args.size or (512, 512),
                blend=args.blend,
                mapper=args.mapper,
                shift=args.shift or 0.0,
                keep_table=args.keep_table,
            )
            name = preset if isinstance(preset, str) else preset.name
            what = f"{source} with {name}" + (f", shift {args.shift:g}" if args.shift else "")
    from medvis.render import save_png

    save_png(rgb, target, force=args.force)
    print(f"wrote {target} ({rgb.shape[1]}x{rgb.shape[0]}): {what}")
    return 0
