"""Offscreen volume rendering of a real chest CT: medvis against pyvista, whole process.

Usage::

    python benchmarks/render_bench.py [--data DIR] [--repeats N] [--size 512] [--frames 3]
                                      [--peer-default] [--json FILE] [--keep-images DIR]

Each contender is a fresh Python process (import, DICOM load, first frame, a few
more frames after turning the camera, exit) run as a subprocess; the parent times the
whole process and the child reports, as JSON, its own load, first-frame and
subsequent-frame times and its peak memory (``ru_maxrss``). Rounds interleave the
contenders (medvis, pyvista, medvis, ...) so both see the same machine noise; medians
are reported with the ratio medvis/pyvista against the target (<= 0.8), and peak memory
against ``180 MB + 3 x the volume's bytes``.

Both draw the same transfer functions (3D Slicer's CT-Lung, shaded) at the same image
size with the same ray step (the smallest voxel spacing) and the same ray caster
(``vtkFixedPointVolumeRayCastMapper``, which medvis picks where OpenGL is software, such
as Mesa llvmpipe; for a volume alone medvis runs it without an OpenGL context, pyvista
draws through one). medvis also paints its orientation cube; pyvista draws none.
``--peer-default`` also times pyvista with its default mapper ("smart"), for
information. The exit status is 0 whatever the verdicts: this is a report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import cpu_model

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "chest-ct" / "dicom"
TARGET_RATIO = 0.8

# The child programs. They print one JSON line last. "{...}" fields are filled in below.
MEDVIS_CHILD = r"""
import json, resource, sys, time
start = time.perf_counter()
import medvis
import medvis.render as render
volume = medvis.load(DATA)
loaded = time.perf_counter()
scene = render.OffscreenScene(size=(SIZE, SIZE))
scene.add_volume(volume, "CT-Lung")
scene.set_camera("anterior")
rgb = scene.render()
first = time.perf_counter()
frames = []
camera = scene.renderer.GetActiveCamera()
for _ in range(FRAMES):
    camera.Azimuth(5.0)
    t0 = time.perf_counter()
    scene.render()
    frames.append(time.perf_counter() - t0)
if KEEP:
    render.save_png(rgb, KEEP, force=True)
print(json.dumps({
    "import_load_s": loaded - start, "first_frame_s": first - loaded, "frames_s": frames,
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "volume_bytes": volume.nbytes, "mapper": scene.resolve_mapper("auto"),
    "nonblack": float((rgb.max(axis=2) > 10).mean()),
}))
"""

PYVISTA_CHILD = r"""
import json, resource, sys, time
start = time.perf_counter()
import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
from vtkmodules.vtkRenderingCore import vtkColorTransferFunction
grid = pv.read(DATA)
loaded = time.perf_counter()
plotter = pv.Plotter(off_screen=True, window_size=(SIZE, SIZE))
actor = plotter.add_volume(grid, mapper=MAPPER, show_scalar_bar=False)
# The same transfer functions and shading as medvis's CT-Lung (3D Slicer's values).
colors = vtkColorTransferFunction()
for value, r, g, b in COLOR:
    colors.AddRGBPoint(value, r, g, b)
opacity = vtkPiecewiseFunction()
for value, alpha in OPACITY:
    opacity.AddPoint(value, alpha)
prop = actor.GetProperty()
prop.SetColor(colors)
prop.SetScalarOpacity(opacity)
prop.SetScalarOpacityUnitDistance(min(grid.spacing))
prop.SetInterpolationTypeToLinear()
prop.ShadeOn()
prop.SetAmbient(0.2); prop.SetDiffuse(1.0); prop.SetSpecular(0.0); prop.SetSpecularPower(1.0)
mapper = actor.GetMapper()
if hasattr(mapper, "SetSampleDistance"):
    mapper.SetAutoAdjustSampleDistances(False)
    mapper.SetSampleDistance(min(grid.spacing))
plotter.background_color = "black"
# vtkDICOMImageReader drops the orientation and stores rows bottom-up: anterior is +y
# and superior is -z of its grid here. Frame the box as medvis does (same fit rule), so
# both ray-cast the same number of pixels.
b = np.asarray(grid.bounds, float).reshape(3, 2)
centre = b.mean(axis=1)
towards, up = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, -1.0])
right = np.cross(towards, up)
rel = np.array([[x, y, z] for x in b[0] for y in b[1] for z in b[2]]) - centre
half = max(np.abs(rel @ up).max(), np.abs(rel @ right).max()) * 1.05
distance = np.abs(rel @ towards).max() + half / np.tan(np.radians(30.0) / 2)
plotter.camera.focal_point = tuple(centre)
plotter.camera.position = tuple(centre - towards * distance)
plotter.camera.up = tuple(up)
plotter.renderer.ResetCameraClippingRange()
rgb = plotter.screenshot(return_img=True)
first = time.perf_counter()
frames = []
for _ in range(FRAMES):
    plotter.camera.azimuth += 5.0
    t0 = time.perf_counter()
    plotter.render()
    plotter.screenshot(return_img=True)
    frames.append(time.perf_counter() - t0)
if KEEP:
    from medvis.render.png import save_png
    save_png(np.ascontiguousarray(rgb[..., :3]), KEEP, force=True)
print(json.dumps({
    "import_load_s": loaded - start, "first_frame_s": first - loaded, "frames_s": frames,
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "volume_bytes": int(grid.active_scalars.nbytes), "mapper": MAPPER,
    "nonblack": float((rgb[..., :3].max(axis=2) > 10).mean()),
}))
"""


def _program(template: str, **values: Any) -> str:
    header = "".join(f"{name} = {value!r}\n" for name, value in values.items())
    return header + template


def _run_child(label: str, program: str, timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{label} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = wall
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _subsequent(runs: list[dict[str, Any]]) -> float:
    return statistics.median(t for r in runs for t in r["frames_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="DICOM folder (chest CT)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=3, help="frames after the first")
    parser.add_argument(
        "--peer-default", action="store_true", help="also time pyvista's default mapper"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--keep-images", type=Path, help="save each contender's first frame here")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)

    if not args.data.is_dir():
        print(f"no data at {args.data} (pass --data)", file=sys.stderr)
        return 0
    from medvis.pipeline.presets import get_preset

    lung = get_preset("CT-Lung")
    if args.keep_images:
        args.keep_images.mkdir(parents=True, exist_ok=True)

    def keep(name: str) -> str:
        return str(args.keep_images / f"{name}.png") if args.keep_images else ""

    def pyvista(mapper: str) -> str:
        return _program(
            PYVISTA_CHILD,
            DATA=str(args.data),
            SIZE=args.size,
            FRAMES=args.frames,
            MAPPER=mapper,
            COLOR=[list(p) for p in lung.color],
            OPACITY=[list(p) for p in lung.scalar_opacity],
            KEEP=keep(f"pyvista-{mapper}"),
        )

    contenders = {
        "medvis": _program(
            MEDVIS_CHILD,
            DATA=str(args.data),
            SIZE=args.size,
            FRAMES=args.frames,
            KEEP=keep("medvis"),
        ),
        "pyvista fixed_point": pyvista("fixed_point"),
    }
    if args.peer_default:
        contenders["pyvista default (smart)"] = pyvista("smart")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
    errors: dict[str, str] = {}
    # One untimed warm-up of each (page cache, .pyc files), then interleaved rounds.
    for name, program in contenders.items():
        try:
            _run_child(name, program, args.timeout)
        except Exception as exc:  # report, never crash the whole run
            errors[name] = str(exc)
    for _ in range(args.repeats):
        for name, program in contenders.items():
            if name in errors:
                continue
            try:
                runs[name].append(_run_child(name, program, args.timeout))
            except Exception as exc:
                errors[name] = str(exc)

    print(
        f"render benchmark {dt.date.today()} on {platform.node()}: {cpu_model()}, {os.cpu_count()} cores"
    )
    print(
        f"data {args.data}, {args.size}x{args.size}, CT-Lung, {args.repeats} interleaved rounds, medians\n"
    )
    print(
        f"{'contender':26} {'process':>9} {'import+load':>12} {'first frame':>12} {'next frames':>12} {'peak RSS':>10}"
    )
    for name, results in runs.items():
        if name in errors or not results:
            print(f"{name:26} failed: {errors.get(name, 'no runs')}")
            continue
        print(
            f"{name:26} {_median(results, 'process_s'):8.2f}s {_median(results, 'import_load_s'):11.2f}s"
            f" {_median(results, 'first_frame_s'):11.2f}s {_subsequent(results):11.3f}s"
            f" {_median(results, 'maxrss_mb'):8.0f}MB"
        )
    summary: dict[str, Any] = {"runs": runs, "errors": errors}
    ours, peer = runs.get("medvis"), runs.get("pyvista fixed_point")
    if ours and peer:
        ratios = [a["process_s"] / b["process_s"] for a, b in zip(ours, peer, strict=False)]
        ratio = _median(ours, "process_s") / _median(peer, "process_s")
        budget = 180 + 3 * ours[0]["volume_bytes"] / 2**20
        rss = _median(ours, "maxrss_mb")
        print(
            f"\nratio medvis/pyvista (whole process): {ratio:.2f} (per round {min(ratios):.2f}-{max(ratios):.2f}),"
            f" target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'}"
        )
        print(
            f"medvis peak memory {rss:.0f} MB, target <= {budget:.0f} MB: {'met' if rss <= budget else 'NOT met'}"
        )
        summary.update(ratio=ratio, memory_budget_mb=budget, medvis_maxrss_mb=rss)
    default = runs.get("pyvista default (smart)")
    if ours and default:
        ratio = _median(ours, "process_s") / _median(default, "process_s")
        print(f"ratio medvis/pyvista default mapper: {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
