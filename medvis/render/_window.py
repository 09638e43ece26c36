"""Offscreen render windows, frame capture, and VTK errors turned into exceptions."""

from __future__ import annotations

import glob
import os
import sys
from typing import Any

import numpy as np
from numpy.typing import NDArray
from vtkmodules.util import numpy_support

# Registers the OpenGL implementations of the rendering classes (object factories).
import vtkmodules.vtkRenderingOpenGL2  # isort: skip
import vtkmodules.vtkRenderingVolumeOpenGL2  # isort: skip
import vtkmodules.vtkRenderingFreeType  # noqa: F401  # isort: skip
from vtkmodules.vtkCommonCore import vtkCommand
from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkWindowToImageFilter

from medvis.errors import MedvisError
from medvis.vtk_bridge import use_all_cores

__all__ = [
    "RenderError",
    "ErrorCatcher",
    "capture",
    "gpu_device_present",
    "is_software_gl",
    "new_window",
    "use_all_cores",
]


class RenderError(MedvisError, RuntimeError):
    """VTK reported an error while building or drawing a picture."""


class ErrorCatcher:
    """Collects VTK ``ErrorEvent`` messages of the objects it watches; :meth:`check` raises."""

    #: Tells VTK's Python command to pass the message (VTK_STRING) as ``calldata``.
    CallDataType = 13

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, caller: Any, event: str, calldata: Any = None) -> None:
        self.messages.append(str(calldata) if calldata is not None else f"{event} in {caller}")

    def watch(self, *objects: Any) -> None:
        for obj in objects:
            tag = obj.AddObserver(vtkCommand.ErrorEvent, self)
            del tag

    def check(self, what: str) -> None:
        if self.messages:
            text = "; ".join(m.strip() for m in self.messages)
            self.messages.clear()
            raise RenderError(None, f"{what}: VTK reported: {text}")


def new_window(width: int, height: int) -> vtkRenderWindow:
    """An offscreen render window of ``width`` x ``height`` pixels.

    With no display (Linux, no DISPLAY/WAYLAND_DISPLAY) an EGL window is made directly,
    which avoids VTK trying X first; ``VTK_DEFAULT_OPENGL_WINDOW`` still wins when set.
    """
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    use_all_cores()
    window: vtkRenderWindow
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if (
        sys.platform.startswith("linux")
        and headless
        and not os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
    ):
        from vtkmodules.vtkRenderingOpenGL2 import vtkEGLRenderWindow

        window = vtkEGLRenderWindow()
    else:
        window = vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetMultiSamples(0)
    window.SetSize(int(width), int(height))
    return window


def capture(window: vtkRenderWindow) -> NDArray[np.uint8]:
    """The pixels of the frame just rendered in ``window``: (height, width, 3) uint8, row 0 on top."""
    grabber = vtkWindowToImageFilter()
    grabber.SetInput(window)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()
    grabber.ShouldRerenderOff()  # the caller has just rendered; do not draw twice
    grabber.Update()
    image = grabber.GetOutput()
    width, height, _ = image.GetDimensions()
    flat = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    rgb = flat.reshape(height, width, -1)[::-1, :, :3]
    return np.ascontiguousarray(rgb)


_SOFTWARE: dict[str, bool] = {}

#: Device nodes of GPUs on Linux: DRM render nodes (Intel, AMD, Nouveau, virtio), the
#: NVIDIA driver's, and WSL's GPU paravirtualisation.
_GPU_DEVICE_PATTERNS = ("/dev/dri/renderD*", "/dev/nvidia[0-9]*", "/dev/dxg")


def gpu_device_present() -> bool:
    """False when this Linux machine has no GPU device node, so OpenGL can only be software.

    Answers without making an OpenGL context (which costs about 100 MiB on Mesa
    llvmpipe). Other systems are assumed to have a GPU; :func:`is_software_gl` tells for
    sure.
    """
    if not sys.platform.startswith("linux"):
        return True
    return any(glob.glob(pattern) for pattern in _GPU_DEVICE_PATTERNS)


def is_software_gl(window: vtkRenderWindow) -> bool:
    """True when OpenGL is a CPU rasteriser (Mesa llvmpipe/softpipe, swrast)."""
    if "answer" not in _SOFTWARE:
        window.Render()  # makes the GL context; nothing is drawn yet
        report = window.ReportCapabilities().lower()
        _SOFTWARE["answer"] = any(
            name in report for name in ("llvmpipe", "softpipe", "swrast", "software rasterizer")
        )
    return _SOFTWARE["answer"]
