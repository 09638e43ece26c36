"""Transfer-function presets and window/level presets (pure data, no OpenGL)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medvis.cli import main
from medvis.pipeline.presets import (
    PRESETS,
    custom_preset,
    get_preset,
    preset_from_mapping,
    preset_names,
)
from medvis.pipeline.windowing import (
    WINDOWS,
    WindowLevel,
    apply_window,
    file_window,
    resolve_window,
)

REQUIRED = [
    "CT-AAA",
    "CT-Bone",
    "CT-Chest-Contrast-Enhanced",
    "CT-Lung",
    "CT-MIP",
    "CT-Soft-Tissue",
    "MR-Default",
    "MR-MIP",
]


def test_required_presets_exist_and_are_well_formed():
    names = preset_names()
    for name in REQUIRED:
        assert name in names
    assert len(names) >= 20
    for preset in PRESETS.values():
        xs = [p[0] for p in preset.scalar_opacity]
        assert xs == sorted(xs)
        assert all(0 <= a <= 1 for _, a in preset.scalar_opacity)
        assert all(0 <= c <= 1 for p in preset.color for c in p[1:])
        assert preset.source.startswith("3D Slicer")


def test_slicer_values_transcribed():
    # Spot checks against Slicer's presets.xml.
    lung = get_preset("ct-lung")
    assert lung.scalar_opacity == (
        (-1000, 0),
        (-600, 0),
        (-599, 0.15),
        (-400, 0.15),
        (-399, 0),
        (2952, 0),
    )
    assert lung.color[1] == (-600, 0, 0, 1)
    assert lung.shade and lung.ambient == 0.2 and lung.diffuse == 1.0
    bone = get_preset("CT-Bone")
    assert bone.scalar_opacity[2] == (641.385, 0.715686)
    assert bone.specular == 0.2 and bone.specular_power == 10
    assert get_preset("MR-Default").scalar_opacity[-1] == (1024, 0.5)
    assert get_preset("CT-MIP").blend == "maximum" and get_preset("MR-MIP").blend == "maximum"
    assert get_preset("CT-Soft-Tissue").shade is False


def test_unknown_preset_lists_known_names():
    with pytest.raises(KeyError, match="CT-Lung"):
        get_preset("CT-Nothing")


def test_custom_and_scene_presets():
    custom = custom_preset("x", opacity=[(0, 0), (100, 1)], blend="maximum", shade=False)
    assert custom.color == ((0, 1, 1, 1), (100, 1, 1, 1))
    assert custom.blend == "maximum"
    changed = preset_from_mapping({"base": "CT-Bone", "shade": False})
    assert changed.shade is False and changed.scalar_opacity == get_preset("CT-Bone").scalar_opacity
    built = preset_from_mapping(
        {"opacity": [[0, 0], [10, 0.5]], "color": [[0, 1, 0, 0], [10, 0, 1, 0]]}
    )
    assert built.scalar_opacity == ((0, 0), (10, 0.5))
    with pytest.raises(ValueError, match="ascend"):
        custom_preset("bad", opacity=[(10, 0), (0, 1)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        custom_preset("bad", opacity=[(0, 0), (10, 2)])
    with pytest.raises(ValueError, match="unknown preset keys"):
        preset_from_mapping({"base": "CT-Bone", "shine": 1})


def test_windows_values():
    assert (WINDOWS["lung"].width, WINDOWS["lung"].center) == (1500, -600)
    assert (WINDOWS["mediastinum"].width, WINDOWS["mediastinum"].center) == (350, 40)
    assert (WINDOWS["soft_tissue"].width, WINDOWS["soft_tissue"].center) == (400, 40)
    assert (WINDOWS["bone"].width, WINDOWS["bone"].center) == (1800, 400)
    assert (WINDOWS["brain"].width, WINDOWS["brain"].center) == (80, 40)
    assert resolve_window("Soft-Tissue") is WINDOWS["soft_tissue"]
    assert resolve_window((100, 50)) == WindowLevel(100, 50)
    assert resolve_window({"width": 10, "center": 2}) == WindowLevel(10, 2)
    with pytest.raises(ValueError, match="unknown window"):
        resolve_window("liver-ish")


def test_apply_window_is_the_dicom_linear_ramp():
    lung = WINDOWS["lung"]
    values = np.array([-2000, lung.low, -600, lung.high, 3000])
    assert apply_window(values, lung).tolist() == [0, 0, 128, 255, 255]
    assert apply_window(np.array([[40]], np.int16), WINDOWS["brain"]).dtype == np.uint8


def test_file_window_from_metadata():
    meta = {
        "window_center": [0.0, 0.0],
        "window_width": [400.0, 400.0],
    }  # as the DICOM reader stores it
    found = resolve_window("file", metadata=meta)
    assert (found.width, found.center) == (400, 0)
    assert resolve_window("auto", metadata=meta) == found
    assert file_window({"window_center": "x", "window_width": 3}) is None
    with pytest.raises(ValueError, match="stores no window"):
        resolve_window("file", metadata={})
    auto = resolve_window("auto", metadata={}, array=np.arange(1000))
    assert auto.low == pytest.approx(9.99) and auto.high == pytest.approx(989.01)


def test_cli_presets_lists_names(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in [*REQUIRED, "lung", "W1500 L-600", "anterior"]:
        assert name in out
    assert main(["presets", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["windows"]["bone"] == {"width": 1800, "center": 400}
    assert payload["presets"]["CT-MIP"]["blend"] == "maximum"
