"""Shared fixtures: where the real test data lives, and skipping when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: One setting for the shared real data (README of ../shared/data).
DATA_ROOT = Path(
    os.environ.get(
        "MEDVIS_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
).resolve()


def shared_data(*parts: str) -> Path:
    """Path inside the shared data folder; skips the test when it is absent."""
    path = DATA_ROOT.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (set MEDVIS_TEST_DATA)")
    return path
