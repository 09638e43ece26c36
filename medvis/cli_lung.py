"""``medvis lung CT -o OUTDIR``: lung masks, surfaces, volumes and a picture in one command.

Writes into OUTDIR:

* ``right_lung.<ext>``, ``left_lung.<ext>``: closed surfaces (STL, OBJ, PLY, VTP), LPS mm
  or RAS with ``--ras``;
* ``lung_labels.nii.gz`` (or ``.nrrd``): the label map on the CT grid, 1 right, 2 left;
* ``lung_report.json`` and ``lung_report.txt``: volumes (voxels and mesh), voxel counts,
  surface areas and HU statistics per lung;
* ``lungs.png``: the surfaces seen from the front (patient's left on the image right),
  with the axial, coronal and sagittal lung-window planes beside them.

With ``--label-map`` the input is a label map instead of a CT: every label (or those
given with ``--labels``) is meshed and measured; no segmentation, no HU statistics.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np

from medvis.errors import OutputExistsError, WriteError

__all__ = ["add_parser", "lung_figure", "run"]

_OTHER = (0.85, 0.8, 0.55)  # labels other than the lungs: sand
# The parser is built for every medvis command, so it must not import medvis.lung (scipy,
# VTK); tests check these equal medvis.lung's DEFAULT_HU_RANGE and MESH_FORMATS.
_DEFAULT_HU_RANGE = (-1200.0, -400.0)
_MESH_FORMATS = (".stl", ".obj", ".ply", ".vtp")


class _HuRange(argparse.Action):
    """``--hu-range LOW HIGH`` (two numbers, LOW below HIGH)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        low, high = (float(v) for v in values)
        if not low < high:
            parser.error(f"--hu-range: LOW must be below HIGH, got {low:g} {high:g}")
        setattr(namespace, self.dest, (low, high))


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(
        f".{part.strip().lower().lstrip('.')}" for part in text.split(",") if part.strip()
    )
    bad = [f for f in chosen if f not in _MESH_FORMATS]
    if bad or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown mesh format(s) {', '.join(bad) or text!r}; choose from "
            + ", ".join(f.lstrip(".") for f in _MESH_FORMATS)
        )
    return chosen


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``medvis lung``."""
    low, high = _DEFAULT_HU_RANGE
    parser = subparsers.add_parser(
        "lung",
        help="segment the lungs of a chest CT: meshes, mask, volumes, picture",
        description=(
            "Segment the left and right lungs of a chest CT in HU and write their closed "
            "surfaces, the label map, a report (volumes in mL, areas, HU statistics) and a PNG."
        ),
    )
    parser.add_argument("input", help="CT (DICOM folder or any volume file), or a label map")
    parser.add_argument("-o", "--out", required=True, help="output folder (made if missing)")
    parser.add_argument(
        "--hu-range",
        nargs=2,
        type=float,
        action=_HuRange,
        default=_DEFAULT_HU_RANGE,
        metavar=("LOW", "HIGH"),
        help=f"lung window: aerated lung is LOW <= HU <= HIGH (default {low:g} {high:g})",
    )
    parser.add_argument(
        "--smoothing",
        type=int,
        default=15,
        metavar="N",
        help="windowed-sinc smoothing iterations, 0 for the raw marching-cubes surface (default 15)",
    )
    parser.add_argument(
        "--pass-band",
        type=float,
        default=0.1,
        help="smoothing pass band, smaller is smoother (default 0.1)",
    )
    parser.add_argument(
        "--decimate",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="remove this fraction of the triangles (vtkDecimatePro, slow: ~2 s per lung at 0.5)",
    )
    parser.add_argument(
        "--formats",
        type=_formats,
        default=(".stl", ".vtp"),
        metavar="LIST",
        help="mesh formats, comma-separated: stl, obj, ply, vtp (default stl,vtp)",
    )
    parser.add_argument(
        "--ras", action="store_true", help="write meshes in RAS (3D Slicer, most mesh tools)"
    )
    parser.add_argument(
        "--mask-format",
        choices=("nii.gz", "nrrd"),
        default="nii.gz",
        help="label map file format (default nii.gz)",
    )
    parser.add_argument("--no-png", action="store_true", help="skip the picture")
    parser.add_argument(
        "--label-map", action="store_true", help="the input is a label map: mesh its labels"
    )
    parser.add_argument(
        "--labels", help="with --label-map: comma-separated label values (default: all)"
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--series", help="DICOM SeriesInstanceUID to pick in a folder")
    parser.set_defaults(func=run)
    return parser


# --------------------------------------------------------------------------- figure
def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def _draw_outlines(
    montage: Any, labels: Any, colours: dict[int, tuple[float, float, float]]
) -> None:
    """Paint each label's outline onto the montage's panels (same planes, nearest sampling)."""
    from medvis.pipeline.reslice import reslice

    rgb = montage.rgb
    for panel in montage.panels:
        plane = reslice(labels, panel.slice.plane, point=panel.slice.point, interpolation="nearest")
        if plane.shape != panel.slice.shape:
            continue
        rows, cols = plane.shape
        row_mm, col_mm = plane.spacing
        top, left, height, width = panel.box
        scale = panel.pixels_per_mm
        for value, colour in colours.items():
            edge = _outline(plane.pixels == value)
            r, c = np.nonzero(edge)
            if not len(r):
                continue
            y = np.round(top + height / 2.0 + (r - (rows - 1) / 2.0) * row_mm * scale).astype(int)
            x = np.round(left + width / 2.0 + (c - (cols - 1) / 2.0) * col_mm * scale).astype(int)
            paint = np.array(colour) * 255
            for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):  # 2 px wide lines
                yy, xx = y + dy, x + dx
                ok = (yy >= top) & (yy < top + height) & (xx >= left) & (xx < left + width)
                rgb[yy[ok], xx[ok]] = paint


def plane_montage(
    ct: Any,
    *,
    labels: Any | None = None,
    point: Any,
    sagittal_x: float | None = None,
    height: int = 480,
) -> np.ndarray:
    """Axial, coronal and sagittal lung-window planes (W1500 L-600) with lung outlines.

    The planes go through the LPS ``point``; the sagittal one through ``sagittal_x``
    when given (a lung, rather than the mediastinum between them). Painted with numpy
    (:func:`medvis.render.paint_slices`): no OpenGL context.
    """
    from medvis.pipeline.reslice import reslice
    from medvis.render import paint_slices

    sagittal_point = np.array(point, float)
    if sagittal_x is not None:
        sagittal_point[0] = sagittal_x
    planes = [
        reslice(ct, "axial", point=point),
        reslice(ct, "coronal", point=point),
        reslice(ct, "sagittal", point=sagittal_point),
    ]
    montage = paint_slices(ct, window="lung", planes=planes, panel_size=(height, height))
    if labels is not None:
        _draw_outlines(montage, labels, {v: _lung_colours().get(v, _OTHER) for v in (1, 2)})
    return np.asarray(montage.rgb)


def _lung_colours() -> Any:
    """medvis.lung's colours (imported when a picture is made, not with the parser)."""
    from medvis.lung.segmentation import LUNG_COLOURS

    return LUNG_COLOURS


def _colour(label: int, name: str | None = None) -> tuple[float, float, float]:
    """Right lung coral, left lung blue (only for lung-named surfaces), others sand."""
    if name is not None and "lung" not in name:
        return _OTHER
    return _lung_colours().get(label, _OTHER)


def _label_view(
    labels: Any,
    *,
    values: Sequence[int] | None,
    names: Mapping[int, str] | None,
    boxes: Any = None,
    height: int = 480,
) -> np.ndarray:
    """Shaded surface display of the label map (no OpenGL), coloured as the meshes are."""
    from medvis.render import shade_labels

    if names:
        colours = {v: _colour(v, name) for v, name in names.items()}
    else:
        colours = dict(_lung_colours())
    return shade_labels(
        labels, size=height, colours=colours, default_colour=_OTHER, values=values, boxes=boxes
    )


def surface_view(
    surfaces: Sequence[Any], *, height: int = 480, labels: Any | None = None
) -> np.ndarray:
    """The surfaces seen from the front (patient's left on the image right), square.

    With ``labels`` (the label map the surfaces were made from) the picture is a shaded
    surface display of the label map (:func:`medvis.render.shade_labels`), made with
    numpy and no OpenGL context; only the labels of ``surfaces`` are drawn (every
    label when ``surfaces`` is empty). Without it the meshes are drawn through an
    offscreen OpenGL window (:class:`medvis.render.OffscreenScene`, about 100-170 MiB
    more memory on Mesa llvmpipe).
    """
    if labels is not None:
        names = {s.label: s.name for s in surfaces}
        return _label_view(labels, values=list(names) or None, names=names, height=height)

    from medvis.lung.meshes import display_mesh
    from medvis.render import OffscreenScene

    with OffscreenScene(size=(height, height), background=(0.08, 0.08, 0.1)) as scene:
        for surface in surfaces:
            scene.add_surface(
                display_mesh(surface.polydata), color=_colour(surface.label, surface.name)
            )
        scene.set_camera("anterior", zoom=0.95)
        return scene.render()


def lung_figure(
    surfaces: Sequence[Any],
    *,
    ct: Any | None = None,
    labels: Any | None = None,
    point: Sequence[float] | None = None,
    height: int = 480,
) -> np.ndarray:
    """The picture ``medvis lung`` writes: surfaces from the front, lung-window planes beside.

    Parameters
    ----------
    surfaces : sequence of Surface
        Meshes in LPS mm (right lung coral, left lung blue, others sand).
    ct : Volume, optional
        The CT; when given, its axial, coronal and sagittal planes through ``point`` are
        shown in the lung window (W1500 L-600), with the lung outlines if ``labels`` is given.
    labels : Volume, optional
        The label map: the 3-D view is drawn from it without OpenGL (see
        :func:`surface_view`), and its outlines are drawn on the planes.
    point : sequence of 3 floats, optional
        LPS point the planes go through (default: centre of the surfaces).
    height : int
        Height of the picture in pixels; the 3-D view is square.

    Returns
    -------
    ndarray
        (height, width, 3) uint8.
    """
    view = surface_view(surfaces, height=height, labels=labels)
    if ct is None:
        return view
    bounds = np.array([s.polydata.GetBounds() for s in surfaces]).reshape(-1, 3, 2)
    if point is None:
        point = 0.5 * (bounds[:, :, 0].min(axis=0) + bounds[:, :, 1].max(axis=0))
    montage = plane_montage(
        ct, labels=labels, point=point, sagittal_x=float(bounds[0, 0].mean()), height=height
    )
    return np.concatenate([view, montage], axis=1)


def _lung_centre(labels: Any, boxes: Any) -> tuple[np.ndarray, float | None]:
    """Centre of the lungs' boxes (LPS) and the x of the right lung's box centre."""
    corners = []
    right_x = None
    for value, box in sorted(boxes.items()):
        ijk = np.array(
            [
                [box[2].start, box[1].start, box[0].start],
                [box[2].stop - 1, box[1].stop - 1, box[0].stop - 1],
            ],
            float,
        )
        world = labels.index_to_world_points(ijk)
        corners.append(world)
        if value == 1:
            right_x = float(world[:, 0].mean())
    stacked = np.concatenate(corners)
    return 0.5 * (stacked.min(axis=0) + stacked.max(axis=0)), right_x


# ---------------------------------------------------------------------------- run
def _save_labels(labels: Any, path: Path) -> None:
    """Write the label map; NIfTI through SimpleITK, already loaded (nibabel's import
    alone takes 0.3-0.5 s), to a temporary name renamed into place."""
    import medvis

    if not path.name.endswith(".nii.gz"):
        medvis.save(labels, path, force=True)
        return
    import SimpleITK as sitk

    from medvis.io._files import atomic_output

    with atomic_output(path, force=True) as tmp:
        sitk.WriteImage(labels.to_sitk(), str(tmp), True)


def _planned_names(labels: Any, values: Any, names: Any) -> list[str]:
    """File stems of the meshes ``label_surfaces`` will make (checked before any work)."""
    if values is None:
        from medvis.lung.surfaces import present_labels

        values = present_labels(labels.array)
    names = dict(names or {})
    return [names.get(v, f"label_{v}") for v in sorted(set(values))]


def _check_outputs(paths: Sequence[Path], force: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise OutputExistsError(
            existing[0],
            f"output exists ({len(existing)} of the outputs do); use --force to overwrite",
        )


def run(args: argparse.Namespace) -> int:
    """Run ``medvis lung``; returns the exit code."""
    import medvis
    from medvis.lung.mesh_files import write_surfaces
    from medvis.lung.report import build_report, format_report, report_json
    from medvis.lung.segmentation import segment_lungs
    from medvis.lung.surfaces import label_surfaces

    timings: dict[str, float] = {}
    start = clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise WriteError(out, "output path exists and is not a folder")
    options = {"series": args.series} if args.series else {}
    volume = medvis.load(args.input, **options)
    if volume.layout != "kji":
        volume = volume.frame(0)
    for note in volume.warnings:
        print(f"medvis: warning: {note}", file=sys.stderr)
    lap("load")

    segmentation = None
    if args.label_map:
        if not np.issubdtype(volume.dtype, np.integer):
            rounded = np.round(volume.array)
            if not np.array_equal(rounded, volume.array):
                raise WriteError(None, f"{args.input}: --label-map needs integer labels")
            volume = volume.replace(array=rounded.astype(np.int32))
        labels = volume
        ct = None
        values = [int(v) for v in args.labels.split(",")] if args.labels else None
        names = None
        stem = "label_map"
    else:
        ct = volume
        segmentation = segment_lungs(ct, hu_range=args.hu_range)
        for warning in segmentation.warnings:
            print(f"medvis: warning: {warning}", file=sys.stderr)
        labels = segmentation.labels
        values, names = list(segmentation.names), segmentation.names
        stem = "lung_labels"
    lap("segment")

    surface_options = {
        "values": values,
        "names": names,
        "smoothing": args.smoothing,
        "pass_band": args.pass_band,
        "decimation": args.decimate,
        "boxes": segmentation.boxes if segmentation is not None else None,
    }
    mesh_paths = [
        out / f"{name}{ext}"
        for name in _planned_names(labels, values, names)
        for ext in args.formats
    ]
    mask_path = out / f"{stem}.{args.mask_format}"
    report_paths = [out / "lung_report.json", out / "lung_report.txt"]
    png_path = out / "lungs.png"
    planned = [*mesh_paths, *report_paths, *([] if args.label_map else [mask_path])]
    if not args.no_png:
        planned.append(png_path)
    _check_outputs(planned, args.force)
    out.mkdir(parents=True, exist_ok=True)

    # The label map file is written in the background (SimpleITK's writer and zlib
    # release the GIL) while this thread draws the picture (from the label map, no
    # OpenGL); then the meshes, whose files are written in the background while this
    # thread measures. Meshing runs alone: it is the step with the most memory.
    world: Literal["LPS", "RAS"] = "RAS" if args.ras else "LPS"
    with ThreadPoolExecutor(max_workers=1) as pool:
        saving = None if args.label_map else pool.submit(_save_labels, labels, mask_path)
        if not args.no_png:
            from medvis.render import save_png

            boxes = segmentation.boxes if segmentation is not None else None
            view = _label_view(labels, values=values, names=names, boxes=boxes)
            if ct is not None and segmentation is not None and segmentation.boxes:
                centre, right_x = _lung_centre(labels, segmentation.boxes)
                montage = plane_montage(ct, labels=labels, point=centre, sagittal_x=right_x)
                view = np.concatenate([view, montage], axis=1)
                del montage
            save_png(view, png_path, force=True)
            del view
            lap("png")
        if saving is not None:
            saving.result()
            lap("label_map")
    surfaces = label_surfaces(labels, **surface_options)
    lap("surfaces")
    with ThreadPoolExecutor(max_workers=1) as pool:
        writing = pool.submit(
            write_surfaces, surfaces, out, formats=args.formats, world=world, force=True
        )
        report = build_report(ct, labels, surfaces, segmentation=segmentation)
        lap("measure")
        writing.result()
    lap("write")

    report["parameters"] = {
        "hu_range": list(args.hu_range) if not args.label_map else None,
        "smoothing_iterations": args.smoothing,
        "pass_band": args.pass_band,
        "decimation": args.decimate,
        "mesh_world": world,
    }
    report["files"] = {
        "meshes": [f"{s.name}{ext}" for s in surfaces for ext in args.formats],
        "labels": None if args.label_map else mask_path.name,
        "png": None if args.no_png else png_path.name,
    }
    timings["total"] = round(time.perf_counter() - start, 3)
    report["timings_s"] = timings
    from medvis.io._files import atomic_output

    for path, text in zip(report_paths, (report_json(report), format_report(report)), strict=True):
        with atomic_output(path, force=True) as tmp:
            tmp.write_text(text)
    if args.json:
        print(report_json(report), end="")
    else:
        print(format_report(report, warnings=False), end="")
        print(f"\nwrote {len(planned)} files to {out}/ in {timings['total']:.2f} s")
    return 0
