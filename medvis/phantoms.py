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
CHEST_HU = {
    "air": -1000,
    "lung": -850,
    "soft_tissue": 40,
    "bone": 700,
    "cancellous": 250,
    "trachea": -1000,
}

#: The spine's axis (x, y) in LPS mm and the radius of its cortical and cancellous bone.
_SPINE_XY, _SPINE_RADIUS, _CANCELLOUS_RADIUS = (0.0, 75.0), 16.0, 12.0
#: Rib levels: the top rib leaves the spine at z = 100 mm, one rib every 24 mm below it,
#: each falling 45 mm from the spine to its front end (ribs slope down anteriorly).
_RIB_TOP_Z, _RIB_PITCH, _RIB_COUNT, _RIB_DROP, _RIB_RADIUS = 100.0, 24.0, 9, 45.0, 5.0
#: The rib cage's axial ellipse (centre x, y and radii in mm): outside both lungs, inside the body.
_RIB_CENTRE, _RIB_RADII = (0.0, -2.0), (124.0, 86.0)
#: Bone keeps this far (mm) from the marker's centre so the marker stays an isolated landmark.
_MARKER_CLEARANCE = 16.0


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


def _rib_cage(xyz: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Curved bone tubes on an ellipse around the lungs, both sides, several levels.

    A point's rib is found arithmetically (no loop over ribs): the angle around the
    cage gives the height of every rib there, and the nearest level is the only one
    that can contain the point. Ribs stop 40 mm either side of the midline in front,
    where cartilage (not modelled) would join them to the sternum.
    """
    x = xyz[..., 0] - _RIB_CENTRE[0]
    y = xyz[..., 1] - _RIB_CENTRE[1]
    radial = np.hypot(x, y)
    rho = np.hypot(x / _RIB_RADII[0], y / _RIB_RADII[1])  # 1 on the cage's centre line
    with np.errstate(divide="ignore", invalid="ignore"):
        in_plane = radial * (1.0 - 1.0 / rho)  # distance from the ellipse along the ray
        posterior = np.where(rho > 0, y / _RIB_RADII[1] / rho, 0.0)  # +1 at the back
    centre_z = _RIB_TOP_Z - _RIB_DROP * (1.0 - posterior) / 2.0  # the top rib's height here
    level = np.clip(np.round((centre_z - xyz[..., 2]) / _RIB_PITCH), 0, _RIB_COUNT - 1)
    dz = centre_z - level * _RIB_PITCH - xyz[..., 2]
    tube = in_plane**2 + dz**2 <= _RIB_RADIUS**2
    return tube & ~((y < 0) & (np.abs(x) < 40.0))


def _sternum(xyz: NDArray[np.float64]) -> NDArray[np.bool_]:
    """A flat bar on the anterior midline (body), with a wider manubrium on top."""
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    body = (np.hypot(x / 14.0, (y + 88.0) / 6.0) <= 1.0) & (z >= -80.0) & (z <= 75.0)
    return body | _ellipsoid(xyz, (0.0, -87.0, 78.0), (24.0, 7.0, 14.0))


def _cancellous_spine(xyz: NDArray[np.float64]) -> NDArray[np.bool_]:
    """The spine's core, less a cortical endplate at each vertebra's top and bottom.

    Vertebrae are one rib pitch tall, with boundaries half-way between rib levels, so
    a sagittal slice shows a stack of vertebral bodies (cortex 700 HU, core 250 HU).
    """
    core = np.hypot(xyz[..., 0] - _SPINE_XY[0], xyz[..., 1] - _SPINE_XY[1]) <= _CANCELLOUS_RADIUS
    phase = (xyz[..., 2] - _RIB_TOP_Z - _RIB_PITCH / 2.0) % _RIB_PITCH  # 0 at a boundary
    endplate = np.minimum(phase, _RIB_PITCH - phase) <= 2.5
    return core & ~endplate


def chest_phantom(
    *,
    shape_ijk: tuple[int, int, int] = (128, 112, 80),
    spacing: ArrayLike = (2.5, 2.5, 3.0),
    direction: ArrayLike | None = None,
    origin: ArrayLike | None = None,
    noise: float = 0.0,
    seed: int = 0,
) -> Volume:
    """A CT-like chest in HU: body, two unequal lungs, trachea, skeleton, and a marker.

    The right lung (patient right, LPS -x) is larger than the left, the spine is
    posterior (+y), the trachea runs superior (+z) and a small dense marker sits at
    the patient's left-anterior-superior (known world point ``metadata["marker_lps"]``),
    so no flip or permutation maps the phantom onto itself.

    The skeleton (values in :data:`CHEST_HU`) is there so bone presets show anatomy:
    the spine is a column of vertebral bodies on the midline behind the lungs (cortex
    and endplates ``"bone"``, core ``"cancellous"``); nine ribs a side curve around the
    lungs from the spine, sloping down to the front; the sternum lies on the anterior
    midline. Ribs and sternum replace soft tissue only (never lung, trachea or the
    marker, from which bone keeps 16 mm away).

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
    spine = np.hypot(xyz[..., 0] - _SPINE_XY[0], xyz[..., 1] - _SPINE_XY[1]) <= _SPINE_RADIUS
    hu[spine] = CHEST_HU["bone"]
    hu[_cancellous_spine(xyz)] = CHEST_HU["cancellous"]
    marker = np.array([90.0, -60.0, 80.0])
    clear = np.linalg.norm(xyz - marker, axis=-1) > _MARKER_CLEARANCE
    soft = (hu == CHEST_HU["soft_tissue"]) & clear
    hu[soft & (_rib_cage(xyz) | _sternum(xyz))] = CHEST_HU["bone"]
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
