"""Whether offscreen OpenGL works here, asked in a subprocess (VTK segfaults instead of
raising when no OpenGL library can be loaded)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Draws through OpenGL on purpose: a volume alone would be ray cast without it.
SMOKE = textwrap.dedent(
    """
    import medvis.render as render
    from medvis.phantoms import chest_phantom
    scene = render.OffscreenScene(size=(48, 40), opengl=True)
    scene.add_volume(chest_phantom(shape_ijk=(32, 28, 20), spacing=(10, 10, 12)), "CT-Bone")
    rgb = scene.render()
    assert rgb.shape == (40, 48, 3) and rgb.any()
    print("rendered", rgb.shape, "through", scene.window.GetClassName())
    """
)


def run_smoke() -> subprocess.CompletedProcess[str]:
    """Run :data:`SMOKE` in a fresh interpreter."""
    return run_program(SMOKE)


def run_program(source: str) -> subprocess.CompletedProcess[str]:
    """Run Python ``source`` in a fresh interpreter in the repository root."""
    return subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
