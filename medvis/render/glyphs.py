"""Text as a coverage mask, drawn by VTK's FreeType renderer (no OpenGL)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import vtkmodules.vtkRenderingFreeType  # noqa: F401  # the FreeType text renderer
from numpy.typing import NDArray
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkRenderingCore import vtkTextProperty, vtkTextRenderer

__all__ = ["text_coverage"]


@lru_cache(maxsize=64)
def text_coverage(text: str, size: int) -> NDArray[np.float32]:
    """Coverage (row 0 on top, 0..1) of ``text`` in bold sans-serif at ``size`` px, cropped.

    Raises
    ------
    RuntimeError
        VTK's FreeType renderer could not draw the text.
    """
    prop = vtkTextProperty()
    prop.SetFontFamilyToArial()
    prop.SetBold(True)
    prop.SetFontSize(size)
    prop.SetColor(1.0, 1.0, 1.0)
    image = vtkImageData()
    if not vtkTextRenderer.GetInstance().RenderString(prop, text, image, [0, 0], 72):
        raise RuntimeError(f"VTK's FreeType renderer could not draw {text!r}")
    width, height, _ = image.GetDimensions()
    rgba = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)
    alpha = rgba[::-1, :, -1].astype(np.float32) / 255.0
    rows, cols = np.nonzero(alpha > 0.02)
    if not len(rows):
        return np.zeros((0, 0), np.float32)
    return np.ascontiguousarray(alpha[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1])
