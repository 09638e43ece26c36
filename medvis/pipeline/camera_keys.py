"""The keys a camera description may use (shared by scene validation and the renderer)."""

from __future__ import annotations

__all__ = ["CAMERA_KEYS"]

#: ``view`` names an anatomical camera (anterior, left, ...); the rest adjust or replace it.
CAMERA_KEYS: frozenset[str] = frozenset(
    {
        "view",
        "position",
        "focal_point",
        "view_up",
        "azimuth",
        "elevation",
        "roll",
        "zoom",
        "parallel",
    }
)
