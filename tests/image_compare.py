"""Compare rendered images with baselines in ``tests/baselines/`` (pytest-pyvista style).

The error is ``vtkImageDifference``'s thresholded error (per-pixel colour differences
above a small threshold, with a one-pixel shift allowed, averaged over the image):
above ``error`` the test fails, above ``warning`` it passes but the image is kept and a
note printed. Failing (and warned) images are saved to ``tests/_failed_images/`` (git
ignored) with the baseline and a difference image. A missing baseline fails with the
remedy; ``MEDVIS_REGENERATE_BASELINES=1`` writes the baselines instead of comparing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkImagingCore import vtkImageDifference

HERE = Path(__file__).resolve().parent
BASELINES = HERE / "baselines"
FAILED = HERE / "_failed_images"
REGENERATE_ENV = "MEDVIS_REGENERATE_BASELINES"
#: Thresholds on vtkImageDifference's thresholded error. pytest-pyvista uses 500/200 on
#: large images; the error is an average over pixels, and these test images are small and
#: mostly background (an all-black image scores about 120 against a 200 px phantom
#: render, a 10x10 white square about 33), so the limits here are tighter.
ERROR, WARNING = 20.0, 5.0


def _to_vtk(rgb: NDArray[np.uint8]) -> vtkImageData:
    height, width = rgb.shape[:2]
    image = vtkImageData()
    image.SetDimensions(width, height, 1)
    flat = np.ascontiguousarray(rgb[::-1, :, :3]).reshape(-1, 3)
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(flat, deep=True))
    return image


def image_error(image: NDArray[np.uint8], baseline: NDArray[np.uint8]) -> float:
    """vtkImageDifference's thresholded error between two same-size RGB images."""
    difference = vtkImageDifference()
    difference.SetInputData(_to_vtk(image))
    difference.SetImageData(_to_vtk(baseline))
    difference.AllowShiftOn()
    difference.Update()
    return float(difference.GetThresholdedError())


def _save(name: str, **images: NDArray[np.uint8]) -> list[Path]:
    from medvis.render import save_png

    FAILED.mkdir(exist_ok=True)
    written = []
    for suffix, pixels in images.items():
        path = FAILED / f"{name}-{suffix}.png"
        save_png(np.ascontiguousarray(pixels[..., :3]), path, force=True)
        written.append(path)
    return written


def check_image(
    image: NDArray[np.uint8], name: str, *, error: float = ERROR, warning: float = WARNING
) -> float:
    """Compare ``image`` with ``tests/baselines/<name>.png``; fail the test above ``error``."""
    from medvis.render import read_png, save_png

    baseline_path = BASELINES / f"{name}.png"
    if os.environ.get(REGENERATE_ENV) == "1":
        BASELINES.mkdir(exist_ok=True)
        save_png(image, baseline_path, force=True)
        return 0.0
    if not baseline_path.exists():
        saved = _save(name, new=image)
        pytest.fail(
            f"baseline {baseline_path.name} is missing (new image saved to {saved[0]}); "
            f"run with {REGENERATE_ENV}=1 to create it"
        )
    baseline = read_png(baseline_path)[..., :3]
    if baseline.shape != image.shape:
        saved = _save(name, new=image, baseline=baseline)
        pytest.fail(
            f"{name}: image shape {image.shape} != baseline {baseline.shape}; saved {saved}"
        )
    value = image_error(image, baseline)
    if value > warning:
        diff = np.abs(image.astype(np.int16) - baseline.astype(np.int16)).astype(np.uint8)
        saved = _save(
            name, new=image, baseline=baseline, diff=np.clip(diff * 4, 0, 255).astype(np.uint8)
        )
        if value > error:
            pytest.fail(
                f"{name}: image error {value:.1f} > {error} (saved {[str(p) for p in saved]})"
            )
        print(
            f"image warning: {name}: error {value:.1f} > warning {warning} (saved {saved[0]})",
            file=sys.stderr,
        )
    return value
