"""Transfer-function presets and window/level presets; presets fitted to the data.

Pure data except the few tests that take the ``gl`` fixture and render 64-pixel pictures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import medvis
from medvis.cli import main
from medvis.phantoms import chest_phantom
from medvis.pipeline.preset_fit import default_preset_for, fit_preset, foreground_range
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
from medvis.volume import Volume

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


# --- presets fitted to the data (issue 12, items 3 and 4) ---------------------------------


def _opacity_xs(preset):
    return np.array([v for v, _ in preset.scalar_opacity])


def _top_of_ramp(preset):
    # The lowest value at which the opacity reaches its maximum: above it a MIP is white.
    alphas = [a for _, a in preset.scalar_opacity]
    return next(v for v, a in preset.scalar_opacity if a == max(alphas))


def test_units_absolute_for_ct_relative_for_mr():
    for name, preset in PRESETS.items():
        assert preset.units == ("absolute" if name.startswith("CT") else "relative")
    assert custom_preset("x", opacity=[(0, 0), (1, 1)]).units == "absolute"
    assert get_preset("MR-MIP").reference_range == (98.3725, 416.637)
    with pytest.raises(ValueError, match="units"):
        get_preset("MR-MIP").replace(units="percent")


def test_mr_mip_fitted_to_the_adc_map_saturates_little(data_root):
    # Saturation measured on voxels, not pixels: a MIP pixel is white when its ray meets
    # one voxel at or above the preset's top opacity point, so the share of foreground
    # voxels up there is what turns the picture into a white slab (it bounds the white
    # area from below on rays through them), and it needs no OpenGL. Foreground = nonzero:
    # the ADC map's background is exactly 0, independent of the fitting's own threshold.
    adc = medvis.load(data_root / "oblique-mr" / "pm-example.nrrd")
    foreground = adc.array[adc.array > 0].astype(float)
    raw = get_preset("MR-MIP")
    fitted = fit_preset(raw, adc)
    before = np.mean(foreground >= _top_of_ramp(raw))
    after = np.mean(foreground >= _top_of_ramp(fitted))
    assert before > 0.75  # the reported white slab (0.79 of the nonzero voxels)
    assert after < 0.20  # measured 0.003
    assert fitted.units == "absolute" and fitted.blend == "maximum"
    # The ramp lies inside the data: its foot above the background, its top below the max.
    assert 0 < fitted.reference_range[0] < fitted.reference_range[1] <= adc.array.max()


def test_mr_mip_fitted_picture_is_not_a_white_slab(gl, data_root):
    adc = medvis.load(data_root / "oblique-mr" / "pm-example.nrrd")

    def white_share(preset):
        rgb = gl.render_volume(adc, preset=preset, size=(64, 64), orientation_marker=False)
        grey = rgb.max(axis=2)
        return np.mean(grey[grey > 10] >= 250)

    assert white_share(get_preset("MR-MIP").replace(units="absolute")) > 0.75  # unfitted
    assert white_share("MR-MIP") < 0.20


def test_mr_default_fitted_to_the_epi_stays_inside_its_range():
    from nibabel.testing import data_path

    epi = medvis.load(os.path.join(data_path, "example4d.nii.gz")).frame(0)
    values = epi.array[epi.array > 0].astype(float)
    raw, fitted = get_preset("MR-Default"), fit_preset("MR-Default", epi)
    # The static: nonzero voxels far below the brain's values (13 % of them, 34..~200)
    # are the noise around the head; unfitted, MR-Default makes them partly opaque.
    noise = values[values < 0.5 * np.median(values)]

    def opacity(preset, at):
        xs, alphas = zip(*preset.scalar_opacity, strict=True)
        return np.interp(at, xs, alphas)

    assert opacity(raw, noise).mean() > 0.1
    assert opacity(fitted, noise).max() == 0.0
    # The fitted ramp lies inside the data's robust range; unfitted it ran past the max.
    low, high = fitted.reference_range
    assert np.percentile(values, 1) <= low < np.median(values) < high <= values.max()
    assert raw.reference_range[0] < np.percentile(values, 1)
    assert default_preset_for(epi).name == "MR-Default"


def test_shift_moves_every_point_by_exactly_the_shift():
    data = np.r_[np.zeros(1000), np.linspace(100.0, 3000.0, 3000)]
    for name in ("CT-Bone", "CT-Lung", "MR-MIP", "MR-Default"):
        base = fit_preset(name, data)
        moved = fit_preset(name, data, shift=100.0)
        assert np.allclose(_opacity_xs(moved) - _opacity_xs(base), 100.0, rtol=0, atol=1e-9)
        colours = np.array(moved.color)[:, 0] - np.array(base.color)[:, 0]
        assert np.allclose(colours, 100.0, rtol=0, atol=1e-9)
        assert moved.gradient_opacity == base.gradient_opacity
        assert [a for _, a in moved.scalar_opacity] == [a for _, a in base.scalar_opacity]
    # A fitted preset is absolute: fitting it again only adds the new shift.
    fitted = fit_preset("MR-MIP", data)
    assert fit_preset(fitted, data) is fitted
    assert np.allclose(_opacity_xs(fit_preset(fitted, data, shift=-5)), _opacity_xs(fitted) - 5)
    with pytest.raises(ValueError, match="finite"):
        fit_preset("CT-Bone", data, shift=float("nan"))


def test_ct_presets_unchanged_on_hu_data():
    ct = chest_phantom(shape_ijk=(24, 20, 16), spacing=(10.0, 10.0, 12.0))
    for name, preset in PRESETS.items():
        if preset.units == "absolute":
            assert fit_preset(name, ct) is preset


def test_same_default_preset_for_dicom_and_nifti(data_root, tmp_path):
    dicom = medvis.load(data_root / "chest-ct" / "dicom")
    path = tmp_path / "chest.nii.gz"
    medvis.save(dicom, path)
    nifti = medvis.load(path)
    assert not nifti.metadata.get("modality")  # NIfTI keeps no modality: content decides
    assert default_preset_for(dicom).name == default_preset_for(nifti).name == "CT-Bone"
    from medvis.render.volume_render import default_preset

    assert default_preset(nifti) is PRESETS["CT-Bone"]


def test_default_preset_from_content_without_metadata():
    rng = np.random.default_rng(0)
    # HU-like: air at -1024 around a body of soft tissue (integers).
    hu = np.full((20, 30, 30), -1024, np.int16)
    hu[4:16, 5:25, 5:25] = rng.integers(0, 80, (12, 20, 20))
    assert default_preset_for(Volume(hu)).name == "CT-Bone"
    # MR-like: zero background, positive tissue with noise.
    mr = np.zeros((20, 30, 30), np.float32)
    mr[4:16, 5:25, 5:25] = rng.normal(600, 80, (12, 20, 20))
    assert default_preset_for(Volume(mr)).name == "MR-Default"
    # An MR whose metadata says so stays MR even when its numbers happen to look like HU.
    assert default_preset_for(Volume(hu, metadata={"modality": "MR"})).name == "MR-Default"


def test_label_map_default_shows_each_label_in_colour():
    labels = np.zeros((10, 12, 14), np.uint8)
    labels[2:5, 2:6, 2:6], labels[5:8, 6:10, 6:12], labels[1:3, 8:11, 1:4] = 1, 2, 7
    preset = default_preset_for(Volume(labels))
    assert preset.name == "Labels" and preset.units == "absolute"
    opacity = dict(preset.scalar_opacity)
    assert opacity[0.0] == 0.0 and opacity[1.0] > 0.5 and opacity[7.0] > 0.5
    colour_at = {round(v): (r, g, b) for v, r, g, b in preset.color}
    assert len({colour_at[1], colour_at[2], colour_at[7]}) == 3


def test_real_segmentation_gets_the_label_preset(data_root):
    seg = medvis.load(data_root / "ct-jpeg2000" / "example_seg_dicom.nii.gz")
    assert default_preset_for(seg).name == "Labels"


def test_foreground_range_leaves_the_background_out():
    values = np.r_[np.zeros(5000), np.linspace(500, 900, 5000)]
    low, high = foreground_range(values)
    assert 500 <= low < 510 and 895 < high <= 900
    assert foreground_range(np.full(100, 7.0)) == (7.0, 8.0)  # constant: one unit wide


def test_cli_render_with_shift(gl, tmp_path: Path, capsys):
    source = tmp_path / "mr.nii.gz"
    rng = np.random.default_rng(1)
    mr = np.zeros((16, 20, 20), np.int16)
    mr[3:13, 4:16, 4:16] = rng.integers(400, 900, (10, 12, 12))
    medvis.save(Volume(mr, spacing=(4.0, 4.0, 4.0)), source)
    out = tmp_path / "x.png"
    args = ["render", str(source), "--preset", "MR-MIP", "--size", "64"]
    assert main([*args, "--shift", "100", "-o", str(out)]) == 0
    assert "MR-MIP, shift 100" in capsys.readouterr().out
    shifted = np.asarray(gl.read_png(out))
    plain = tmp_path / "plain.png"
    assert main([*args, "-o", str(plain)]) == 0
    # Moving the MIP's ramp up by 100 makes the same voxels darker.
    assert shifted.astype(float).mean() < np.asarray(gl.read_png(plain)).astype(float).mean()


def test_cli_shift_must_be_a_number(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["render", "phantom:chest", "--shift", "abc", "-o", str(tmp_path / "x.png")])
    assert exited.value.code == 2
    assert "shift is a number" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_viewer_starts_with_the_content_default():
    """The viewer's first preset follows the content too (a HU volume with no modality)."""
    from medvis.phantoms import chest_phantom
    from medvis.render.viewer.logic import ViewerLogic

    ct = chest_phantom()
    anonymous = ct.replace(metadata={})
    assert ViewerLogic(anonymous).preset.name == ViewerLogic(ct).preset.name == "CT-Bone"
