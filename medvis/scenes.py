"""Scene files: what to render, written down (TOML or YAML, parsed safely).

A scene file is a table with a format version, an input, and either 3-D ``layers``
(volume renderings, slice planes, isosurfaces, meshes) seen from a ``camera``, or a
``montage`` of windowed slice planes. Paths inside it are relative to the scene file.
The format is documented in ``scenes/README.md``; :data:`FORMAT_VERSION` is the version
this code writes and reads (files declare ``medvis_scene = 1``).

Rendering imports :mod:`medvis.render` (OpenGL); loading and validating do not.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis.errors import MedvisError, MissingFileError
from medvis.pipeline.camera_keys import CAMERA_KEYS
from medvis.volume import Volume

__all__ = [
    "FORMAT_VERSION",
    "Scene",
    "SceneError",
    "load_scene",
    "parse_scene",
    "render_scene",
    "resolve_input",
]

FORMAT_VERSION = 1

_TOP = {"medvis_scene", "title", "description", "input", "output", "camera", "layers", "montage"}
_INPUT = {"path", "frame", "series"}
_OUTPUT = {"path", "size", "background", "orientation_marker"}
_CAMERA = CAMERA_KEYS
_LAYERS: dict[str, set[str]] = {
    "volume": {
        "type",
        "preset",
        "blend",
        "shade",
        "crop",
        "mapper",
        "sample_distance",
        "shift",
        "keep_table",
    },
    "slice": {"type", "plane", "normal", "point", "window", "opacity", "interpolation"},
    "surface": {"type", "level", "color", "opacity"},
    "mesh": {"type", "path", "space", "color", "opacity"},
}
_MONTAGE = {"planes", "window", "point", "interpolation", "panel_size", "labels", "titles"}


class SceneError(MedvisError, ValueError):
    """A scene file is unreadable or does not follow the format."""


@dataclass(frozen=True)
class Scene:
    """A validated scene.

    Attributes
    ----------
    source : Path or None
        The scene file (paths are relative to its folder).
    data : mapping
        The parsed, validated table.
    """

    source: Path | None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> Path:
        """Folder that relative paths start from."""
        return self.source.parent if self.source is not None else Path.cwd()

    @property
    def is_montage(self) -> bool:
        """True for a slice montage, False for a 3-D scene."""
        return "montage" in self.data

    @property
    def input(self) -> str:
        """The input as written (a path, "phantom:chest" or "nibabel-data:NAME")."""
        return str(self.data["input"]["path"])

    def output_path(self) -> Path | None:
        """The output file of the scene (relative to the scene file), if it names one."""
        path = self.data.get("output", {}).get("path")
        return None if path is None else self.base / path


def _fail(source: Path | None, reason: str) -> SceneError:
    return SceneError(source, reason)


def _check_keys(
    source: Path | None, where: str, table: Any, allowed: frozenset[str] | set[str]
) -> None:
    if not isinstance(table, Mapping):
        raise _fail(source, f"{where} must be a table, not {type(table).__name__}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(source, f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}")


def _numbers(source: Path | None, where: str, value: Any, count: int) -> None:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != count
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise _fail(source, f"{where} must be a list of {count} numbers, got {value!r}")


def parse_scene(data: Mapping[str, Any], *, source: Path | None = None) -> Scene:
    """Validate a parsed scene table (from TOML, YAML or Python).

    Raises
    ------
    SceneError
        Wrong version, unknown keys, missing input, both or neither of layers/montage,
        malformed numbers; the message names the file and the key.
    """
    _check_keys(source, "the scene", data, _TOP)
    version = data.get("medvis_scene")
    if version != FORMAT_VERSION:
        raise _fail(
            source,
            f"medvis_scene = {version!r}: this medvis reads scene format {FORMAT_VERSION} "
            "(add 'medvis_scene = 1' at the top)",
        )
    if "input" not in data:
        raise _fail(source, "the scene has no [input] table (input.path)")
    inp = data["input"]
    if isinstance(inp, str):
        inp = {"path": inp}
    _check_keys(source, "[input]", inp, _INPUT)
    if "path" not in inp:
        raise _fail(source, "[input] needs a path")
    output = data.get("output", {})
    _check_keys(source, "[output]", output, _OUTPUT)
    if "size" in output:
        _numbers(source, "output.size", output["size"], 2)
    if "background" in output:
        _numbers(source, "output.background", output["background"], 3)
    camera = data.get("camera", {})
    if isinstance(camera, str):
        camera = {"view": camera}
    _check_keys(source, "[camera]", camera, _CAMERA)
    for key in ("position", "focal_point", "view_up"):
        if key in camera:
            _numbers(source, f"camera.{key}", camera[key], 3)
    has_layers, has_montage = "layers" in data, "montage" in data
    if has_layers == has_montage:
        raise _fail(source, "a scene needs exactly one of [[layers]] (3-D) or [montage] (slices)")
    if has_layers:
        layers = data["layers"]
        if not isinstance(layers, Sequence) or isinstance(layers, str) or not layers:
            raise _fail(source, "layers must be a non-empty list of tables")
        for number, layer in enumerate(layers, 1):
            if not isinstance(layer, Mapping) or layer.get("type") not in _LAYERS:
                raise _fail(source, f"layer {number} needs type = one of {sorted(_LAYERS)}")
            _check_keys(source, f"layer {number} ({layer['type']})", layer, _LAYERS[layer["type"]])
            for key, count in (("point", 3), ("normal", 3), ("color", 3), ("crop", 6)):
                if key in layer:
                    _numbers(source, f"layer {number} {key}", layer[key], count)
            shift = layer.get("shift", 0.0)
            if not isinstance(shift, (int, float)) or isinstance(shift, bool):
                raise _fail(
                    source, f"layer {number} shift must be a number (data units), got {shift!r}"
                )
            if not isinstance(layer.get("keep_table", False), bool):
                raise _fail(source, f"layer {number} keep_table must be true or false")
            if layer["type"] == "surface" and "level" not in layer:
                raise _fail(source, f"layer {number} (surface) needs a level")
            if layer["type"] == "mesh" and "path" not in layer:
                raise _fail(source, f"layer {number} (mesh) needs a path")
    else:
        montage = data["montage"]
        _check_keys(source, "[montage]", montage, _MONTAGE)
        if "panel_size" in montage:
            _numbers(source, "montage.panel_size", montage["panel_size"], 2)
        if "point" in montage:
            _numbers(source, "montage.point", montage["point"], 3)
    table = dict(data)
    table["input"], table["output"], table["camera"] = dict(inp), dict(output), dict(camera)
    return Scene(source=source, data=table)


def load_scene(path: str | os.PathLike[str]) -> Scene:
    """Read and validate a ``.toml``, ``.yaml`` or ``.yml`` scene file.

    TOML is read with the standard library (``tomllib``, or ``tomli`` before Python
    3.11); YAML with PyYAML's ``safe_load`` (no arbitrary objects).
    """
    source = Path(path)
    if not source.is_file():
        raise MissingFileError(source, "scene file not found")
    suffix = source.suffix.lower()
    try:
        if suffix == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover - Python 3.10
                import tomli as tomllib
            with source.open("rb") as stream:
                data = tomllib.load(stream)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise _fail(source, "YAML scenes need PyYAML: pip install pyyaml") from exc
            with source.open("r", encoding="utf-8") as stream:
                data = yaml.safe_load(stream)
        else:
            raise _fail(source, "scene files end in .toml, .yaml or .yml")
    except SceneError:
        raise
    except Exception as exc:  # a syntax error of either parser
        raise _fail(source, f"cannot parse scene: {exc}") from exc
    if not isinstance(data, Mapping):
        raise _fail(source, "a scene file must hold a table at the top level")
    return parse_scene(data, source=source)


def resolve_input(
    spec: str, *, base: Path | None = None, frame: int | None = None, series: str | None = None
) -> Volume:
    """Load a scene input.

    ``"phantom:chest"`` is the built-in synthetic chest CT; ``"nibabel-data:NAME"`` a file
    of the test data that ships inside nibabel (e.g. ``example4d.nii.gz``, an EPI head);
    anything else a path (relative to ``base``) that :func:`medvis.load` reads.
    """
    import medvis

    if spec.startswith("phantom:"):
        name = spec.split(":", 1)[1]
        if name != "chest":
            raise SceneError(None, f"unknown phantom {name!r}; known: chest")
        from medvis.phantoms import chest_phantom

        return chest_phantom(noise=10.0)
    if spec.startswith("nibabel-data:"):
        from nibabel.testing import data_path

        path = Path(str(data_path)) / spec.split(":", 1)[1]
    else:
        path = Path(os.path.expandvars(os.path.expanduser(spec)))
        if not path.is_absolute() and base is not None:
            path = base / path
    options: dict[str, Any] = {}
    if frame is not None:
        options["frame"] = frame
    if series is not None:
        options["series"] = series
    return medvis.load(path, **options)


def render_scene(
    scene: Scene,
    *,
    volume: Volume | None = None,
    size: Sequence[int] | None = None,
) -> NDArray[np.uint8]:
    """Render a scene to an RGB array (imports :mod:`medvis.render`).

    Parameters
    ----------
    scene : Scene
        From :func:`load_scene` or :func:`parse_scene`.
    volume : Volume, optional
        Use this instead of loading the scene's input.
    size : (width, height), optional
        Overrides ``output.size`` (or ``montage.panel_size`` for a montage).
    """
    from medvis import render
    from medvis.pipeline.presets import preset_from_mapping
    from medvis.pipeline.reslice import reslice
    from medvis.pipeline.surfaces import isosurface, read_mesh
    from medvis.pipeline.windowing import resolve_window

    data = scene.data
    if volume is None:
        inp = data["input"]
        volume = resolve_input(
            inp["path"], base=scene.base, frame=inp.get("frame"), series=inp.get("series")
        )
    if volume.layout == "tkji":
        volume = volume.frame(int(data["input"].get("frame", 0)))
    output = data["output"]
    if scene.is_montage:
        montage = data["montage"]
        result = render.render_slices(
            volume,
            window=montage.get("window", "auto"),
            point=montage.get("point"),
            planes=montage.get("planes", ("axial", "coronal", "sagittal")),
            panel_size=size or montage.get("panel_size", (256, 256)),
            interpolation=montage.get("interpolation", "linear"),
            labels=bool(montage.get("labels", True)),
            titles=bool(montage.get("titles", True)),
            background=output.get("background", (0.0, 0.0, 0.0)),
        )
        return result.rgb
    with render.OffscreenScene(
        size=size or output.get("size", (512, 512)),
        background=output.get("background", (0.0, 0.0, 0.0)),
        orientation_marker=bool(output.get("orientation_marker", True)),
    ) as view:
        for layer in data["layers"]:
            kind = layer["type"]
            if kind == "volume":
                view.add_volume(
                    volume,
                    preset_from_mapping(layer["preset"])
                    if layer.get("preset")
                    else render.volume_render.default_preset(volume),
                    mapper=layer.get("mapper", "auto"),
                    blend=layer.get("blend"),
                    shade=layer.get("shade"),
                    crop=layer.get("crop"),
                    sample_distance=layer.get("sample_distance"),
                    shift=float(layer.get("shift", 0.0)),
                    keep_table=bool(layer.get("keep_table", False)),
                )
            elif kind == "slice":
                plane = reslice(
                    volume,
                    layer.get("plane", "axial"),
                    point=layer.get("point"),
                    normal=layer.get("normal"),
                    interpolation=layer.get("interpolation", "linear"),
                )
                window = resolve_window(
                    layer.get("window", "auto"), metadata=volume.metadata, array=volume.array
                )
                view.add_slice(plane, window, opacity=float(layer.get("opacity", 1.0)))
            elif kind == "surface":
                view.add_surface(
                    isosurface(volume, float(layer["level"])),
                    color=layer.get("color", (0.9, 0.85, 0.75)),
                    opacity=float(layer.get("opacity", 1.0)),
                )
            else:
                mesh = read_mesh(scene.base / layer["path"], space=layer.get("space", "LPS"))
                view.add_surface(
                    mesh,
                    color=layer.get("color", (0.8, 0.8, 0.9)),
                    opacity=float(layer.get("opacity", 1.0)),
                )
        view.set_camera(data["camera"] or "anterior")
        return view.render()
