"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from medvis.phantoms import chest_phantom
from medvis.volume import Volume
from tests._data import shared_data
from tests._gl import run_smoke


@pytest.fixture
def data_root() -> Path:
    """The shared data folder (skips when absent)."""
    return shared_data()


@pytest.fixture(scope="session")
def gl() -> ModuleType:
    """``medvis.render``; skips when the subprocess smoke test cannot draw (it fails)."""
    done = run_smoke()
    if done.returncode != 0:
        pytest.skip(
            f"offscreen OpenGL unavailable (exit {done.returncode}); see test_render_smoke_in_subprocess"
        )
    import medvis.render

    return medvis.render


@pytest.fixture(scope="module")
def phantom() -> Volume:
    """An asymmetric chest for rendering tests."""
    # Noise gives the uniform regions gradients to shade (zero gradients shade dark on the CPU mapper).
    return chest_phantom(shape_ijk=(56, 48, 40), spacing=(5.0, 5.0, 6.0), noise=20.0)
