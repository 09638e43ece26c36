"""The synthetic chest: its skeleton is where anatomy puts it and took only soft tissue."""

from __future__ import annotations

import numpy as np

from medvis.phantoms import CHEST_HU, chest_phantom, world_grid


def _lps(volume, hu):  # type: ignore[no-untyped-def]
    """LPS coordinates of the voxels equal to ``hu``."""
    xyz = world_grid(volume.shape_ijk, volume.spacing, volume.origin, volume.direction)
    return xyz[volume.array == hu]


def test_skeleton_spine_ribs_sternum() -> None:
    volume = chest_phantom()
    bone = _lps(volume, CHEST_HU["bone"])
    cancellous = _lps(volume, CHEST_HU["cancellous"])
    # Vertebral bodies: cancellous core on the midline, posterior (+y), behind the lungs.
    assert len(cancellous) > 1000
    assert np.abs(cancellous[:, 0]).max() <= 12.5 and cancellous[:, 1].min() > 60
    # Ribs on both sides, at several levels; the sternum in front on the midline.
    lateral = bone[np.abs(bone[:, 0]) > 110]
    assert (lateral[:, 0] < 0).sum() > 500 and (lateral[:, 0] > 0).sum() > 500
    assert len(np.unique(np.round(lateral[lateral[:, 0] > 0, 2] / 24))) >= 7
    front = bone[bone[:, 1] < -78]
    assert (np.abs(front[:, 0]) <= 24).sum() > 500  # the sternum
    assert not ((np.abs(front[:, 0]) > 24) & (np.abs(front[:, 0]) < 38)).any()  # rib ends apart


def test_skeleton_replaces_soft_tissue_only_and_clears_the_marker() -> None:
    volume = chest_phantom()
    xyz = world_grid(volume.shape_ijk, volume.spacing, volume.origin, volume.direction)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    spine = np.hypot(x, y - 75) <= 16
    added = (volume.array == CHEST_HU["bone"]) & ~spine  # ribs and sternum
    assert added.sum() > 10_000
    # The lungs, trachea and outside air are untouched (same ellipsoids as the phantom's).
    lungs = (((x + 62) / 50) ** 2 + ((y + 5) / 62) ** 2 + (z / 95) ** 2 <= 1) | (
        ((x - 58) / 42) ** 2 + ((y + 5) / 58) ** 2 + ((z + 10) / 80) ** 2 <= 1
    )
    assert np.isin(volume.array[lungs], [CHEST_HU["lung"], CHEST_HU["trachea"]]).all()
    body = (x / 140) ** 2 + (y / 100) ** 2 + (z / 400) ** 2 <= 1
    assert (volume.array[~body] == CHEST_HU["air"]).all()
    # The marker is whole and no bone comes within 16 mm of its centre.
    distance = np.linalg.norm(xyz - np.asarray(volume.metadata["marker_lps"]), axis=-1)
    assert (volume.array[distance <= 8] == 1500).all()
    assert not (added & (distance <= 16)).any()


def test_skeleton_keeps_the_phantom_asymmetric_and_in_place() -> None:
    straight = chest_phantom(shape_ijk=(64, 56, 40), spacing=(5.0, 5.0, 6.0))
    mirrored = chest_phantom(
        shape_ijk=(64, 56, 40), spacing=(5.0, 5.0, 6.0), direction=np.diag([-1.0, 1.0, 1.0])
    )
    # Same world anatomy whatever the storage: the mirrored array is the straight one flipped.
    np.testing.assert_array_equal(mirrored.array, straight.array[:, :, ::-1])
    # No left-right mirror maps the phantom onto itself.
    assert (straight.array != straight.array[:, :, ::-1]).sum() > 1000
