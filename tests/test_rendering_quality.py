"""Aliasing rings: the default ray step against one 8 times finer, on real scans.

The measure of issue 12: mean absolute difference (grey levels, over the foreground of
either picture) between the default picture and the same preset and camera ray cast with
an 8 times finer step. Thin opacity bands sampled once per voxel give wood-grain rings
(the measure is far above 2.5); :func:`medvis.pipeline.sampling.ray_step` samples them
2 or 4 times per voxel.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

import medvis
from medvis.render import render_volume
from tests._data import shared_data

SIZE = (128, 128)


@lru_cache(maxsize=1)
def _chest_crop() -> medvis.Volume:
    """The chest CT's middle third, every other voxel in-plane (small, still real)."""
    ct = medvis.load(shared_data("chest-ct", "dicom"))
    k0 = ct.array.shape[0] // 3
    array = np.ascontiguousarray(ct.array[k0 : 2 * k0, ::2, ::2])
    return ct.replace(
        array=array,
        spacing=np.array(ct.spacing) * [2, 2, 1],
        origin=ct.index_to_world_points([0, 0, k0]),
    )


def _ring_measure(volume: medvis.Volume, preset: str, camera: str, step: float | None) -> float:
    options = {"preset": preset, "camera": camera, "size": SIZE, "mapper": "cpu"}
    picture = render_volume(volume, orientation_marker=False, sample_distance=step, **options)
    fine = render_volume(
        volume,
        orientation_marker=False,
        sample_distance=float(min(volume.spacing)) / 8,
        **options,
    )
    foreground = (picture.max(axis=2) > 5) | (fine.max(axis=2) > 5)
    difference = np.abs(picture.astype(float) - fine.astype(float)).mean(axis=2)
    return float(difference[foreground].mean())


@pytest.mark.parametrize(
    ("preset", "camera"),
    [("CT-Lung", "anterior"), ("CT-Bone", "anterior"), ("CT-Chest-Contrast-Enhanced", "left")],
)
def test_no_rings_on_the_chest_ct(preset: str, camera: str) -> None:
    assert _ring_measure(_chest_crop(), preset, camera, None) <= 2.5


def test_the_back_under_a_hard_surface_preset() -> None:
    """CT-Soft-Tissue from behind (its opacity jumps to 1 at -167 HU; the table is cut away
    by default): 52 grey levels from the 8x-finer picture with one sample per voxel."""
    crop = _chest_crop()
    assert _ring_measure(crop, "CT-Soft-Tissue", "posterior", None) <= 2.5
    assert _ring_measure(crop, "CT-Soft-Tissue", "posterior", float(min(crop.spacing))) > 10


def test_one_sample_per_voxel_does_ring() -> None:
    """The measure can fail: CT-Lung sampled once per voxel is well above the bound."""
    crop = _chest_crop()
    assert _ring_measure(crop, "CT-Lung", "anterior", float(min(crop.spacing))) > 2.5


def test_no_rings_on_an_mr() -> None:
    mr = medvis.load(shared_data("flair-oblique", "FLAIR.nrrd"))
    assert _ring_measure(mr, "MR-Default", "anterior", None) <= 2.5


def _mean_brightness(volume: medvis.Volume, preset: str, mapper: str) -> float:
    picture = render_volume(
        volume,
        preset=preset,
        camera="anterior",
        size=(96, 96),
        mapper=mapper,
        orientation_marker=False,
    )
    return float(picture[picture.max(axis=2) > 5].mean())


@pytest.mark.parametrize("preset", ["CT-Bone", "CT-Lung", "CT-Muscle"])
def test_cpu_and_gpu_pictures_equally_bright(preset: str) -> None:
    """The CPU ray caster's ambient term (lost with VTK's default headlight) is back."""
    cpu = _mean_brightness(_chest_crop(), preset, "cpu")
    gpu = _mean_brightness(_chest_crop(), preset, "gpu")
    assert abs(cpu / gpu - 1.0) <= 0.10, (cpu, gpu)


def test_mip_needs_no_gradients() -> None:
    """Slicer's MIP presets carry shading; MIP ignores it, so it is switched off (the CPU
    ray caster would compute every voxel's gradient for nothing), also when a MIP preset
    replaces a composite one."""
    from medvis.render.scene3d import OffscreenScene
    from medvis.render.volume_render import apply_preset

    crop = _chest_crop()
    with OffscreenScene(size=(64, 64)) as scene:
        prop = scene.add_volume(crop, "CT-MIP", mapper="cpu")
        assert not prop.GetProperty().GetShade()
        apply_preset(prop, "CT-Bone")
        assert prop.GetProperty().GetShade()
        apply_preset(prop, "MR-MIP")
        assert not prop.GetProperty().GetShade()
