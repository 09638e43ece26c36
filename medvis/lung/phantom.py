"""A synthetic chest CT whose lung volumes are known exactly (ellipsoids).

Built in LPS world millimetres and sampled onto any grid (spacing, direction, storage
order), like :func:`medvis.phantoms.chest_phantom`, with what makes lung segmentation
hard: a trachea that splits into two main bronchi opening into the lungs (so the lungs
are one air region until the airways are removed), vessels and airway walls inside the
lungs (holes to fill), a hollow table whose inside is enclosed air as large as a lung,
a reconstruction circle outside which the scanner writes -1024, and optionally the two
lungs touching at the anterior junction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from medvis.phantoms import world_grid
from medvis.volume import Volume

__all__ = ["LungPhantom", "lung_phantom", "RIGHT_LUNG_ELLIPSOID", "LEFT_LUNG_ELLIPSOID"]

#: (centre, radii) in LPS mm. The right lung (patient right, -x) is the larger.
RIGHT_LUNG_ELLIPSOID = ((-72.0, 0.0, 0.0), (52.0, 68.0, 105.0))
LEFT_LUNG_ELLIPSOID = ((68.0, 0.0, -8.0), (46.0, 64.0, 95.0))
_CARINA = np.array([0.0, -10.0, 62.0])


@dataclass(frozen=True)
class LungPhantom:
    """The phantom CT and its truth.

    Attributes
    ----------
    volume : Volume
        int16 HU.
    truth : Volume
        uint8 labels on the same grid: 1 right lung, 2 left lung (the ellipsoids as
        sampled, vessels included).
    volumes_ml : dict
        Analytic lung volumes, ``{"right_lung": ..., "left_lung": ...}`` (the
        ellipsoids; with ``touching`` the junction slab, about 6 mL, comes on top and is
        shared half and half in ``truth``).
    """

    volume: Volume
    truth: Volume
    volumes_ml: dict[str, float]


def _ellipsoid(xyz: NDArray[np.float64], centre: ArrayLike, radii: ArrayLike) -> NDArray[np.bool_]:
    d = (xyz - np.asarray(centre, float)) / np.asarray(radii, float)
    return np.einsum("...i,...i->...", d, d) <= 1.0


def _tube(
    xyz: NDArray[np.float64], start: ArrayLike, end: ArrayLike, radius: float
) -> NDArray[np.bool_]:
    """Voxels within ``radius`` of the segment start-end."""
    a = np.asarray(start, float)
    axis = np.asarray(end, float) - a
    length2 = float(axis @ axis)
    rel = xyz - a
    t = np.clip((rel @ axis) / length2, 0.0, 1.0)
    nearest = rel - t[..., None] * axis
    return np.einsum("...i,...i->...", nearest, nearest) <= radius * radius


def lung_phantom(
    *,
    shape_ijk: tuple[int, int, int] = (176, 144, 112),
    spacing: ArrayLike = (2.0, 2.0, 2.5),
    direction: ArrayLike | None = None,
    origin: ArrayLike | None = None,
    touching: bool = False,
    noise: float = 20.0,
    seed: int = 0,
) -> LungPhantom:
    """A chest CT (HU) with two ellipsoid lungs of known volume.

    Parameters
    ----------
    shape_ijk : tuple of int
        Grid size (ni, nj, nk). The default covers 352 x 288 x 280 mm.
    spacing : array-like
        Voxel size in mm.
    direction : array-like, optional
        3x3 direction; the anatomy stays put in the world whatever the storage order.
    origin : array-like, optional
        LPS of voxel (0, 0, 0); by default the grid is centred at (0, 0, 20) mm.
    touching : bool
        Join the lungs with a thin slab of lung in front of the heart (the anterior
        junction), so that no air gap separates them.
    noise : float
        Gaussian noise in HU (the lungs sit at -850, the airways at -1000).
    seed : int
        Noise seed.

    Returns
    -------
    LungPhantom
        The CT, the true labels and the analytic volumes.
    """
    spacing = np.asarray(spacing, float)
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    extent = (np.asarray(shape_ijk) - 1) * spacing
    origin = (
        np.array([0.0, 0.0, 20.0]) - direction @ (extent / 2.0)
        if origin is None
        else np.asarray(origin, float)
    )
    xyz = world_grid(shape_ijk, spacing, origin, direction)
    x, y = xyz[..., 0], xyz[..., 1]

    hu = np.full(xyz.shape[:3], -1000.0, np.float32)
    fov = np.hypot(x, y - 10.0) > 175.0  # outside the reconstruction circle
    body = ((x / 150.0) ** 2 + (y / 105.0) ** 2) <= 1.0
    hu[body] = 40.0
    # A hollow table under the patient: 3 mm shell, air inside, narrower than the image.
    table = (np.abs(x) <= 115.0) & (y >= 112.0) & (y <= 134.0)
    table_air = (np.abs(x) <= 112.0) & (y >= 115.0) & (y <= 131.0)
    hu[table] = 300.0
    hu[table_air] = -1000.0

    right = _ellipsoid(xyz, *RIGHT_LUNG_ELLIPSOID)
    left = _ellipsoid(xyz, *LEFT_LUNG_ELLIPSOID)
    lungs = right | left
    bridge = np.zeros_like(lungs)
    if touching:
        # Anterior junction: a 6 mm slab of lung joining the two lungs in front.
        bridge = (
            (np.abs(x) <= 56.0) & (np.abs(y + 52.0) <= 3.0) & (np.abs(xyz[..., 2] - 10.0) <= 30.0)
        )
        bridge &= body & ~lungs
    hu[lungs | bridge] = -850.0

    # Airways: trachea down to the carina, main bronchi into each lung (the lumen opens
    # into the lung; walls 2 mm).
    trachea_top = np.array([0.0, -10.0, 400.0])
    right_end = np.array([-55.0, -5.0, 30.0])
    left_end = np.array([50.0, -5.0, 22.0])
    wall = (
        _tube(xyz, trachea_top, _CARINA, 11.0)
        | _tube(xyz, _CARINA, _CARINA + 0.7 * (right_end - _CARINA), 8.0)
        | _tube(xyz, _CARINA, _CARINA + 0.7 * (left_end - _CARINA), 8.0)
    )
    lumen = (
        _tube(xyz, trachea_top, _CARINA, 9.0)
        | _tube(xyz, _CARINA, right_end, 6.0)
        | _tube(xyz, _CARINA, left_end, 6.0)
    )
    hu[wall & body] = 40.0
    hu[lumen & body] = -1000.0

    # Vessels inside the lungs (holes to fill), well inside the ellipsoids.
    for centre, radii in (RIGHT_LUNG_ELLIPSOID, LEFT_LUNG_ELLIPSOID):
        c = np.asarray(centre)
        r = np.asarray(radii)
        for dx, dy in ((-0.35, -0.3), (0.2, 0.35), (-0.1, 0.1)):
            top = c + np.array([dx * r[0], dy * r[1], 0.55 * r[2]])
            bottom = c + np.array([dx * r[0] * 0.8, dy * r[1] * 0.8, -0.55 * r[2]])
            hu[_tube(xyz, top, bottom, 3.5)] = 40.0
        hu[
            _tube(
                xyz,
                c + np.array([-0.4 * r[0], 0.0, -0.2 * r[2]]),
                c + np.array([0.4 * r[0], 0.1 * r[1], -0.3 * r[2]]),
                3.0,
            )
        ] = 40.0
    # Spine behind, as in the other phantom.
    hu[np.hypot(x, y - 80.0) <= 16.0] = 700.0
    hu[fov] = -1024.0

    if noise:
        rng = np.random.default_rng(seed)
        hu += rng.normal(0.0, noise, hu.shape).astype(np.float32)
    volume = Volume(
        np.clip(np.round(hu), -1024, 3071).astype(np.int16),
        spacing=spacing,
        origin=origin,
        direction=direction,
        metadata={"format": "synthetic", "modality": "CT", "units": "HU"},
        source="medvis.lung.phantom.lung_phantom",
    )
    truth = np.zeros(hu.shape, np.uint8)
    truth[right] = 1
    truth[left] = 2
    half = bridge & (x < 0)
    truth[half] = 1
    truth[bridge & ~half] = 2
    volumes = {
        "right_lung": 4.0 / 3.0 * np.pi * float(np.prod(RIGHT_LUNG_ELLIPSOID[1])) / 1000.0,
        "left_lung": 4.0 / 3.0 * np.pi * float(np.prod(LEFT_LUNG_ELLIPSOID[1])) / 1000.0,
    }
    return LungPhantom(
        volume=volume,
        truth=volume.replace(array=truth, metadata={"labels": {1: "right_lung", 2: "left_lung"}}),
        volumes_ml=volumes,
    )
