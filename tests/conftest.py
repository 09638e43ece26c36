"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._data import shared_data


@pytest.fixture
def data_root() -> Path:
    """The shared data folder (skips when absent)."""
    return shared_data()
