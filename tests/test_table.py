"""The CT table is found beyond the patient, on the right side, whatever the storage order."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

import medvis
from medvis.phantoms import chest_phantom
from medvis.pipeline.table import find_table
from tests import lung_variants as lv
from tests._data import shared_data


@pytest.fixture(scope="module")
def chest() -> medvis.Volume:
    return medvis.load(shared_data("chest-ct", "dicom"))


def _world_y(volume: medvis.Volume) -> np.ndarray:
    """LPS y of every voxel (axis-aligned volumes), shape of the array."""
    j = np.arange(volume.shape_ijk[1])
    points = volume.index_to_world_points(np.stack([0 * j, j, 0 * j], axis=1).astype(float))
    return np.broadcast_to(points[:, 1][None, :, None], volume.array.shape)


def test_chest_ct_table_is_cut_behind_the_patient_and_only_the_table(chest) -> None:
    cut = find_table(chest)
    assert cut is not None and cut.side == "posterior"
    y = _world_y(chest)
    dense = chest.array > -500
    # The patient (largest dense region) lies wholly on the kept side ...
    labels, _ = ndi.label(dense[::2, ::2, ::2])
    patient = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    assert y[::2, ::2, ::2][patient].max() <= cut.y_mm
    # ... and what is cut away is the table: dense, flat, the whole scan long.
    beyond = dense & (y > cut.y_mm)
    ml = np.count_nonzero(beyond) * float(np.prod(chest.spacing)) / 1000
    assert ml > 10
    k, j, _ = np.nonzero(beyond)
    assert np.ptp(k) >= 0.9 * chest.array.shape[0]
    assert np.ptp(y[0, :, 0][np.unique(j)]) < 100  # top, rails: a flat stack
    assert cut.box[3] == pytest.approx(cut.y_mm)


def test_prone_table_in_front_and_storage_order(chest) -> None:
    body = lv.body_mask(chest)
    cut = find_table(lv.prone(chest, body))
    assert cut is not None and cut.side == "anterior"
    flipped = chest.replace(
        array=np.ascontiguousarray(chest.array[:, ::-1, ::-1]),
        origin=chest.index_to_world_points([chest.shape_ijk[0] - 1, chest.shape_ijk[1] - 1, 0]),
        direction=chest.direction @ np.diag([-1.0, -1.0, 1.0]),
    )
    again = find_table(flipped)
    plain = find_table(chest)
    assert again is not None and plain is not None
    assert again.y_mm == pytest.approx(plain.y_mm, abs=1.0)


def test_no_table_no_cut() -> None:
    assert find_table(chest_phantom()) is None  # a phantom without a table
    assert find_table(medvis.Volume(np.full((4, 8, 8), -1000, np.int16))) is None


def test_rendering_leaves_the_table_out_and_nothing_else(chest, tmp_path) -> None:
    """The default CT rendering equals one of the scan with the table's side emptied, and
    differs from --keep-table (the posterior view showed the table, now the back)."""
    from medvis.cli import main
    from medvis.render import read_png, render_volume

    cut = find_table(chest)
    assert cut is not None
    crop = chest.replace(array=np.ascontiguousarray(chest.array[::2, ::2, ::2]))
    crop = crop.replace(spacing=np.array(chest.spacing) * 2)
    emptied = crop.array.copy()
    emptied[_world_y(crop) > cut.y_mm] = -1024
    options = {
        "preset": "CT-Soft-Tissue",
        "camera": "posterior",
        "size": (96, 96),
        "mapper": "cpu",
        "orientation_marker": False,
    }
    default = render_volume(crop, **options).astype(int)
    reference = render_volume(crop.replace(array=emptied), keep_table=True, **options).astype(int)
    with_table = render_volume(crop, keep_table=True, **options).astype(int)
    assert np.abs(default - reference).mean() < 1.0
    assert np.abs(default - with_table).mean() > 2.0  # over the whole picture
    out = tmp_path / "table.png"
    source = str(shared_data("chest-ct", "dicom"))
    args = ["render", source, "--preset", "CT-Bone", "--size", "48", "--keep-table", "-o", str(out)]
    assert main(args) == 0
    assert read_png(out).shape == (48, 48, 3)
