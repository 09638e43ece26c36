"""The ``medvis`` command line: ``info``, ``convert`` and ``demo``.

``main(argv) -> int`` so tests call it directly. Loading and converting never import
VTK's rendering modules; ``info`` does not import VTK at all (except for ``.vti`` input).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from medvis.errors import MedvisError

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

#: Extra sub-commands, one module each, exposing ``add_parser(subparsers)`` (which sets
#: ``func=run`` on its parser) and ``run(args) -> int``. Imported lazily, so a command's
#: heavy dependencies (VTK rendering) load only when that command runs.
COMMAND_MODULES: tuple[str, ...] = ("medvis.cli_render", "medvis.cli_lung", "medvis.cli_view")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    from medvis import __version__

    parser = argparse.ArgumentParser(
        prog="medvis",
        description="Open any medical image format with its true geometry (LPS world).",
    )
    parser.add_argument("--version", action="version", version=f"medvis {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="summarise a file or DICOM folder")
    info.add_argument("path", help="image file, .hdr/.img pair, .nhdr, or DICOM folder")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.add_argument("--tags", action="store_true", help="dump every DICOM element")
    info.add_argument("--phi", action="store_true", help="show patient-identifying fields")
    info.add_argument("--series", help="DICOM SeriesInstanceUID to pick in a folder")
    info.add_argument("--frame", type=int, help="keep one frame of 4-D data")

    convert = sub.add_parser(
        "convert", help="convert any readable input to .nii(.gz)/.nrrd/.mha/.vti"
    )
    convert.add_argument("input")
    convert.add_argument("output")
    convert.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    convert.add_argument("--series", help="DICOM SeriesInstanceUID to pick in a folder")
    convert.add_argument("--frame", type=int, help="write one frame of 4-D data")

    demo = sub.add_parser(
        "demo", help="make a synthetic chest phantom, show info/convert on it, render it to PNGs"
    )
    demo.add_argument("--out", default="medvis-demo", help="output folder (default: medvis-demo)")

    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code (0 ok, 1 error, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            from medvis.cli_info import run_info

            return run_info(args)
        if args.command == "convert":
            return _run_convert(args)
        if args.command == "demo":
            return _run_demo(args)
        if getattr(args, "func", None) is not None:
            return int(args.func(args))
    except MedvisError as exc:
        print(f"medvis: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return 130
    except BrokenPipeError:  # output piped into `head`: stop quietly, as Unix tools do
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2  # pragma: no cover


def _load_options(args: argparse.Namespace) -> dict[str, object]:
    options: dict[str, object] = {}
    if getattr(args, "series", None):
        options["series"] = args.series
    if getattr(args, "frame", None) is not None:
        options["frame"] = args.frame
    return options


def _run_convert(args: argparse.Namespace) -> int:
    import medvis
    from medvis.io import find_writer

    find_writer(args.output)  # refuse an unknown output before reading a large input
    volume = medvis.load(args.input, **_load_options(args))
    for note in volume.warnings:
        print(f"medvis: warning: {note}", file=sys.stderr)
    medvis.save(volume, args.output, force=args.force)
    ni, nj, nk = volume.shape_ijk
    print(f"wrote {args.output} ({ni}x{nj}x{nk}, {volume.dtype}, {volume.axis_codes})")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    import medvis
    from medvis.cli_info import run_info
    from medvis.phantoms import chest_phantom

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    phantom = chest_phantom(noise=15.0)
    source = out / "chest-phantom.nii.gz"
    medvis.save(phantom, source, force=True)
    print(f"wrote {source}: a synthetic chest CT (HU) with known anatomy\n")
    run_info(
        argparse.Namespace(
            path=str(source), json=False, tags=False, phi=False, series=None, frame=None
        )
    )
    for ext in (".nrrd", ".mha", ".vti"):
        target = out / f"chest-phantom{ext}"
        medvis.save(medvis.load(source), target, force=True)
        back = medvis.load(target)
        same = bool((back.array == phantom.array).all())
        print(f"\nconverted to {target}: voxels identical: {same}, axis codes {back.axis_codes}")
    # Pictures, offscreen (imports VTK's rendering only here).
    from medvis.render import render_slices, render_volume, save_png

    for preset in ("CT-Bone", "CT-MIP"):
        picture = out / f"chest-phantom-{preset.lower()}.png"
        save_png(
            render_volume(phantom, preset=preset, camera="anterior", size=(512, 512)),
            picture,
            force=True,
        )
        print(f"\nrendered {picture}: volume rendering, preset {preset}, anterior view")
    montage = out / "chest-phantom-lung-window.png"
    save_png(render_slices(phantom, window="lung", panel_size=(320, 320)), montage, force=True)
    print(f"rendered {montage}: axial, coronal and sagittal planes, lung window W1500/L-600")
    return 0
