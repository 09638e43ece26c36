"""Synthetic phantoms with known geometry, for demos and exact tests.

Everything is built in LPS world millimetres first and sampled onto the grid, so the
object's world position does not depend on spacing, direction or storage order.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medvis.volume import Volume

__all__ = ["chest_phantom", "world_grid", "CHEST_HU"]

#: Hounsfield values used by :func:`chest_phantom`.
CHEST_HU = {"air": -1000, "lung": -850, "soft_tissue": 40, "bone": 700, "trachea": -1000}


def world_grid(
    shape_ijk: tuple[int, int, int], spacing: ArrayLike, origin: ArrayLike, direction: ArrayLike
) -> NDArray[np.float64]:
    """LPS coordinates of every voxel centre, shape (nk, nj, ni, 3)."""
    ni, nj, nk = shape_ijk
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    ijk = np.stack([i, j, k], axis=-1).astype(float) * np.asarray(spacing, float)
    return ijk @ np.asarray(direction, float).T + np.asarray(origin, float)


def _ellipsoid(xyz: NDArray[np.float64], centre: ArrayLike, radii: ArrayLike) -> NDArray[np.bool_]:
    d = (xyz - np.asarray(centre, float)) / np.asarray(radii, float)
    return np.einsum("...i,...i->...", d, d) <= 1.0


def chest_phantom(
    *,
    shape_ijk: tuple[int, int, int] = (128, 112, 80),
    spacing: ArrayLike = (2.5, 2.5, 3.0),
    direction: ArrayLike | None = None,
    origin: ArrayLike | None = None,
    noise: float = 0.0,
    seed: int = 0,
) -> Volume:
    """A CT-like chest in HU: body, two unequal lungs, trachea, spine, and a marker.

    The right lung (patient right, LPS -x) is larger than the left, the spine is
    posterior (+y), the trachea runs superior (+z) and a small dense marker sits at
    the patient's left-anterior-superior (known world point ``metadata["marker_lps"]``),
    so no flip or permutation maps the phantom onto itself.

    Parameters
    ----------
    shape_ijk : tuple of int
        Grid size (ni, nj, nk).
    spacing : array-like
        Voxel size in mm.
    direction : array-like, optional
        3x3 direction (identity by default); the anatomy stays put in the world.
    origin : array-like, optional
        LPS of voxel (0, 0, 0); by default the grid is centred on the world origin.
    noise : float
        Standard deviation of Gaussian noise in HU (0 for exact tests).
    seed : int
        Noise seed.

    Returns
    -------
    Volume
        int16 HU, with ``metadata["modality"] == "CT"`` and the marker position.
    """
    spacing = np.asarray(spacing, float)
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    extent = (np.asarray(shape_ijk) - 1) * spacing
    if origin is None:
        origin = -direction @ (extent / 2.0)
    xyz = world_grid(shape_ijk, spacing, origin, direction)
    hu = np.full(xyz.shape[:3], CHEST_HU["air"], np.int16)
    hu[_ellipsoid(xyz, (0, 0, 0), (140, 100, 400))] = CHEST_HU["soft_tissue"]
    right_lung = _ellipsoid(xyz, (-62, -5, 0), (50, 62, 95))
    left_lung = _ellipsoid(xyz, (58, -5, -10), (42, 58, 80))
    hu[right_lung | left_lung] = CHEST_HU["lung"]
    trachea = (np.hypot(xyz[..., 0], xyz[..., 1] + 20) <= 9) & (xyz[..., 2] > 40)
    hu[trachea] = CHEST_HU["trachea"]
    spine = np.hypot(xyz[..., 0], xyz[..., 1] - 75) <= 16
    hu[spine] = CHEST_HU["bone"]
    marker = np.array([90.0, -60.0, 80.0])
    hu[_ellipsoid(xyz, marker, (8, 8, 8))] = 1500
    if noise:
        rng = np.random.default_rng(seed)
        hu = (hu + rng.normal(0, noise, hu.shape)).round().clip(-1024, 3071).astype(np.int16)
    return Volume(
        hu,
        spacing=spacing,
        origin=np.asarray(origin, float),
        direction=direction,
        metadata={
            "format": "synthetic",
            "modality": "CT",
            "units": "HU",
            "marker_lps": marker.tolist(),
        },
        source="medvis.phantoms.chest_phantom",
    )
