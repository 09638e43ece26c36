"""What ``segment_lungs`` promises and says it cannot promise (phantoms and thin real crops).

Each test changes one thing a real scan can have (a short stretch of trachea, lungs close
to air, a collapsed or consolidated lung, two slices only, no lung at all) and checks the
result and the words the user gets.
"""

from __future__ import annotations

import numpy as np
import pytest

import medvis
from medvis.cli import main
from medvis.lung import LEFT_LUNG, RIGHT_LUNG, LungNotFoundError, segment_lungs
from medvis.lung.phantom import LEFT_LUNG_ELLIPSOID, lung_phantom
from medvis.lung.segmentation import _minimum_ml
from medvis.phantoms import world_grid
from tests._data import shared_data

SMALL = {"shape_ijk": (118, 98, 72), "spacing": (3.0, 3.0, 4.0)}


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / max(1, np.count_nonzero(a) + np.count_nonzero(b))


def _crop_k(volume: medvis.Volume, k0: int, k1: int) -> medvis.Volume:
    return volume.replace(
        array=np.ascontiguousarray(volume.array[k0:k1]),
        origin=volume.index_to_world_points([0, 0, k0]),
    )


def _world_z(volume: medvis.Volume) -> np.ndarray:
    return world_grid(volume.shape_ijk, volume.spacing, volume.origin, volume.direction)[..., 2]


@pytest.fixture(scope="module")
def phantom():
    return lung_phantom(**SMALL)


def test_minimum_size_follows_the_coverage() -> None:
    assert _minimum_ml(2.0, None) == pytest.approx(0.2)  # two 1 mm slices
    assert _minimum_ml(40.0, None) == pytest.approx(4.0)
    assert _minimum_ml(300.0, None) == 20.0  # a whole chest: capped
    assert _minimum_ml(300.0, 50.0) == 50.0  # the caller's choice wins


def test_a_short_tube_at_the_top_is_not_taken_for_a_trachea(phantom) -> None:
    """Only ~20 mm of trachea above the bronchi: the lungs are told apart otherwise."""
    z = _world_z(phantom.volume)[:, 0, 0]  # world z of each k
    top = int(np.searchsorted(z, 62.0))  # the scan ends just above the carina
    ct = _crop_k(phantom.volume, 0, top)
    truth = phantom.truth.array[:top]
    lungs = segment_lungs(ct)
    assert not lungs.airway_found
    assert lungs.separation in ("erosion", "midline")
    assert any("no trachea accepted" in note and "runs only" in note for note in lungs.notes)
    for value in (RIGHT_LUNG, LEFT_LUNG):  # the bronchi now count as lung: a little extra
        assert _dice(lungs.labels.array == value, truth == value) > 0.95
    assert any("top" in w for w in lungs.warnings)


def test_lungs_close_to_air_joined_to_the_trachea_are_lungs_with_a_warning(phantom) -> None:
    """Emphysema-like lungs (median ~-975 HU) score like gas but hang on the trachea."""
    array = phantom.volume.array.copy()
    lung = phantom.truth.array > 0
    array[lung & (array < -500)] -= 125
    lungs = segment_lungs(phantom.volume.replace(array=array))
    assert lungs.airway_found
    assert set(lungs.names) == {RIGHT_LUNG, LEFT_LUNG}
    for value in (RIGHT_LUNG, LEFT_LUNG):
        assert _dice(lungs.labels.array == value, phantom.truth.array == value) > 0.98
        assert lungs.median_hu[value] < -950
    assert sum("outside the usual" in w for w in lungs.warnings) == 2


def test_a_consolidated_lung_base_gives_a_ratio_warning(phantom) -> None:
    array = phantom.volume.array.copy()
    z = _world_z(phantom.volume)  # [k, j, i]
    centre_z = LEFT_LUNG_ELLIPSOID[0][2]
    array[(phantom.truth.array == LEFT_LUNG) & (z < centre_z + 20)] = 40
    lungs = segment_lungs(phantom.volume.replace(array=array))
    ratio = lungs.volumes_ml[RIGHT_LUNG] / lungs.volumes_ml[LEFT_LUNG]
    assert ratio > 1.6
    assert any("ratio" in w and f"{ratio:.2f}" in w for w in lungs.warnings)


def test_a_collapsed_lung_is_reported_missing_with_the_reason(phantom) -> None:
    array = phantom.volume.array.copy()
    array[phantom.truth.array == LEFT_LUNG] = 30
    lungs = segment_lungs(phantom.volume.replace(array=array))
    assert set(lungs.names) == {RIGHT_LUNG}
    (missing,) = [w for w in lungs.warnings if w.startswith("only the right lung")]
    assert "no aerated lung on that side" in missing
    assert lungs.separation == "single"


def test_two_real_slices_keep_both_small_lungs_and_say_so() -> None:
    """Two 1 mm slices at heart level: lungs of ~16 mL each, kept, flagged as partial."""
    ct = medvis.load(shared_data("ct-3slice-seg"))
    for k0, k1 in ((0, 2), (1, 3), (1, 2)):
        lungs = segment_lungs(_crop_k(ct, k0, k1))
        assert set(lungs.names) == {RIGHT_LUNG, LEFT_LUNG}, (k0, k1, lungs.notes)
        for value in (RIGHT_LUNG, LEFT_LUNG):
            assert 3.0 < lungs.volumes_ml[value] < 30.0
        text = " ".join(lungs.warnings)
        assert "under 50 mL" in text and "top" in text and "bottom" in text


def test_an_mr_is_an_error_naming_the_file() -> None:
    path = shared_data("flair-oblique", "FLAIR.nrrd")
    with pytest.raises(LungNotFoundError) as info:
        segment_lungs(medvis.load(path))
    assert str(path) in str(info.value) and "HU" in str(info.value)


@pytest.mark.parametrize("case", ["ct-jpeg2000/dicom", "flair-oblique/FLAIR.nii.gz"])
def test_cli_without_lungs_exits_1_and_writes_nothing(
    case: str, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shared_data(*case.split("/"))
    out = tmp_path / "out"
    assert main(["lung", str(source), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(source) in err and "error" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_prints_the_warnings_on_stderr_and_in_the_report(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    ct = medvis.load(shared_data("ct-3slice-seg"))
    source = tmp_path / "slab.nii.gz"
    medvis.save(_crop_k(ct, 0, 2), source)
    out = tmp_path / "out"
    assert main(["lung", str(source), "-o", str(out), "--no-png"]) == 0
    captured = capsys.readouterr()
    report = json.loads((out / "lung_report.json").read_text())
    assert report["warnings"], report
    for warning in report["warnings"]:
        assert f"medvis: warning: {warning}" in captured.err
        assert warning not in captured.out  # said once on the terminal
        assert f"WARNING: {warning}" in (out / "lung_report.txt").read_text()


def test_padding_outside_the_reconstruction_circle_is_recognised() -> None:
    """-2048 always; -1024 only when noise-free in the corners (real air is noisy)."""
    from medvis.lung._coarse import _padding_value

    rng = np.random.default_rng(0)
    shape = (8, 64, 64)
    yy, xx = np.mgrid[:64, :64]
    outside = np.hypot(yy - 31.5, xx - 31.5) > 30
    body = rng.normal(40, 20, shape)
    for fill in (-2048, -3024, -1024):
        array = body.copy()
        array[:, outside] = fill
        assert _padding_value(array.astype(np.int16)) == fill
    noisy_air = np.clip(rng.normal(-1000, 60, shape), -1024, None)  # clipped, not constant
    assert _padding_value(noisy_air.astype(np.int16)) is None
    assert _padding_value(body.astype(np.int16)) is None


def _tube_mask(volume: medvis.Volume, start, end, radius: float) -> np.ndarray:
    from medvis.lung.phantom import _tube

    grid = world_grid(volume.shape_ijk, volume.spacing, volume.origin, volume.direction)
    return _tube(grid, start, end, radius)


def test_an_air_filled_oesophagus_into_the_stomach_is_not_a_trachea(phantom) -> None:
    """Lung bases at the top, a pure-air tube near the midline opening into stomach gas."""
    z = _world_z(phantom.volume)[:, 0, 0]
    k0, k1 = 0, int(np.searchsorted(z, -20.0))  # up to 20 mm below the lungs' centres
    ct = _crop_k(phantom.volume, k0, k1)
    truth = phantom.truth.array[k0:k1]
    array = ct.array.copy()
    grid = world_grid(ct.shape_ijk, ct.spacing, ct.origin, ct.direction)
    d = (grid - np.array([35.0, -70.0, -95.0])) / np.array([35.0, 22.0, 20.0])
    stomach = np.einsum("...i,...i->...", d, d) <= 1.0
    oesophagus = _tube_mask(ct, (0.0, -30.0, 30.0), (25.0, -62.0, -85.0), 6.0)
    assert not np.any((stomach | oesophagus) & (truth > 0))  # placed in tissue only
    array[stomach | oesophagus] = -1000
    lungs = segment_lungs(ct.replace(array=array))
    assert not np.any(lungs.labels.array[stomach | oesophagus])
    for value in (RIGHT_LUNG, LEFT_LUNG):
        assert _dice(lungs.labels.array == value, truth == value) > 0.97
    assert not lungs.airway_found
    assert any("not a trachea" in note for note in lungs.notes), lungs.notes


def test_air_in_a_skin_fold_open_to_the_room_is_not_lung(phantom) -> None:
    """A lung-dense air tunnel under the skin that opens to the outside air above."""
    ct = phantom.volume
    grid = world_grid(ct.shape_ijk, ct.spacing, ct.origin, ct.direction)
    x, y, zz = grid[..., 0], grid[..., 1], grid[..., 2]
    tunnel = (x >= 136) & (x <= 144) & (np.abs(y) <= 20) & (zz >= -20) & (zz <= 40)
    opening = (x >= 136) & (np.abs(y) <= 20) & (zz > 32) & (zz <= 40)  # out through the skin
    array = ct.array.copy()
    array[tunnel | opening] = -850
    assert not np.any((tunnel | opening) & (phantom.truth.array > 0))
    lungs = segment_lungs(ct.replace(array=array))
    assert not np.any(lungs.labels.array[tunnel])
    assert any("open to the air outside the body" in note for note in lungs.notes)
    for value in (RIGHT_LUNG, LEFT_LUNG):
        assert _dice(lungs.labels.array == value, phantom.truth.array == value) > 0.99


def test_a_small_base_beside_a_found_lung_is_kept_on_a_long_scan(phantom) -> None:
    """Only the lung bases aerated on a 284 mm scan: 20 mL is the minimum for a first lung,
    but the other side's 9 mL base beside a 61 mL one is kept (and said to be small)."""
    array = phantom.volume.array.copy()
    z = _world_z(phantom.volume)
    truth = phantom.truth.array.copy()
    gone = ((truth == RIGHT_LUNG) & (z > -80)) | ((truth == LEFT_LUNG) & (z > -93))
    array[gone] = 40
    truth[gone] = 0
    lungs = segment_lungs(phantom.volume.replace(array=array))
    assert set(lungs.names) == {RIGHT_LUNG, LEFT_LUNG}, lungs.notes
    assert lungs.volumes_ml[LEFT_LUNG] < 20.0 < lungs.volumes_ml[RIGHT_LUNG]
    for value in (RIGHT_LUNG, LEFT_LUNG):
        assert _dice(lungs.labels.array == value, truth == value) > 0.9
    text = " ".join(lungs.warnings)
    assert "left lung" in text and "under 50 mL" in text and "ratio" in text


def test_pydicom_ct_small_both_lungs_either_side_of_the_spine() -> None:
    """pydicom's CT_small: one 5 mm slice, 85 mm wide, around a vertebra off the scanner's
    centre, both lungs cut by the image's corners (not taken for the room's air)."""
    from pydicom.data import get_testdata_file

    ct = medvis.load(get_testdata_file("CT_small.dcm"))
    lungs = segment_lungs(ct)
    assert lungs.midline == "spine"
    assert set(lungs.names) == {RIGHT_LUNG, LEFT_LUNG}
    centres = {}
    for value in (RIGHT_LUNG, LEFT_LUNG):
        k, j, i = np.nonzero(lungs.labels.array == value)
        centres[value] = ct.index_to_world_points([i.mean(), j.mean(), k.mean()])[0]
        assert 2.0 < lungs.volumes_ml[value] < 10.0
    spine_x = ct.index_to_world_points([63.5, 63.5, 0])[0]  # the vertebra is centred
    assert centres[RIGHT_LUNG] < spine_x - 20 < spine_x + 20 < centres[LEFT_LUNG]
    assert sum("cut by" in w for w in lungs.warnings) == 2


@pytest.mark.parametrize(
    ("quarter", "side"),
    [((slice(256, 512), slice(0, 256)), LEFT_LUNG), ((slice(0, 256), slice(0, 256)), RIGHT_LUNG)],
    ids=["left-front", "right-front"],
)
def test_a_quarter_without_trachea_trunk_or_spine_says_the_side_is_a_guess(
    quarter: tuple[slice, slice], side: int
) -> None:
    """Front quarters of the chest CT: no anatomy tells the midline; the scanner's x = 0
    is used (the patient lies centred) and the warnings say the side is a guess."""
    ct = medvis.load(shared_data("chest-ct", "dicom"))
    i, j = quarter
    crop = ct.replace(
        array=np.ascontiguousarray(ct.array[:, j, i]),
        origin=ct.index_to_world_points([i.start, j.start, 0]),
    )
    lungs = segment_lungs(crop)
    assert set(lungs.names) == {side}
    assert lungs.midline == "table centre"
    assert any("could not be told from anatomy" in w for w in lungs.warnings)


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.full((3, 40, 40), -1000, np.int16), "one constant value"),
        (np.full((2, 30, 30), -3024, np.int16), "one constant value"),
        (np.full((4, 32, 32), np.nan, np.float32), "is this a CT in HU"),
        (np.zeros((2, 2, 2), np.float32), "is this a CT in HU"),
    ],
    ids=["constant-air", "constant-padding", "all-nan", "tiny-tissue"],
)
def test_degenerate_volumes_are_a_clear_error(array: np.ndarray, words: str) -> None:
    """Typed errors with the reason, and no numpy warning on the way (warnings are errors)."""
    with pytest.raises(LungNotFoundError, match=words):
        segment_lungs(medvis.Volume(array, source="odd.nii.gz"))


def test_coarse_cells_stay_within_budget_on_large_scans() -> None:
    """Block sizes: about 2 mm, but never more than 20 million cells (4-byte label maps)."""
    from medvis.lung._coarse import _MAX_CELLS, _steps

    assert _steps(np.array([0.977, 0.977, 2.0]), (141, 512, 512)) == (1, 2, 2)
    assert _steps(np.array([0.6, 0.6, 0.625]), (600, 512, 512)) == (3, 3, 3)
    for spacing, shape in (
        ((1.37, 1.37, 3.0), (300, 512, 512)),
        ((1.37, 1.37, 1.5), (800, 512, 512)),
    ):
        step = _steps(np.array(spacing), shape)
        cells = np.prod([-(-n // s) for n, s in zip(shape, step, strict=True)])
        assert cells <= _MAX_CELLS
        assert step[1] == step[2]  # square cells in-plane


def test_the_viewer_says_the_warnings_too(phantom, capsys: pytest.CaptureFixture[str]) -> None:
    from medvis.cli_view import lung_surfaces

    z = _world_z(phantom.volume)[:, 0, 0]
    surfaces = lung_surfaces(_crop_k(phantom.volume, 0, int(np.searchsorted(z, 0.0))))
    assert len(surfaces) == 2
    err = capsys.readouterr().err
    assert "medvis: warning: right lung is cut by the top" in err
