"""segment_lungs on real scans that are not a full clean chest: crops, padding, noise,
thick slices, prone, storage orders, abdominal gas.

Every variant is built here from the chest CT (``tests/lung_variants.py``) as a proper
Volume whose voxels keep their world positions. The reference is the full scan's own
segmentation carried through world coordinates onto the variant's grid
(:func:`~tests.lung_variants.map_labels`). Thresholds are the issue's: per lung holding
at least 20 mL in the reference, Dice >= 0.97 (0.999 for mere storage orders).

Timing, measured on 2 cores (the module runs in about 25-50 s in all, so it is not marked
slow): the module fixture (load 0.1 s, full segmentation 0.5-1 s, body mask 2.5 s) and
the segmentations of full-size variants dominate. Slowest: prone (4 s with the table in
front), the gas cases (3 s each, mostly building the ellipsoids), noise (2 s), the
sagittal (k<->i) storage order (1-1.5 s); crops take 0.1-0.5 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.ndimage as ndi
from numpy.typing import NDArray

import medvis
from medvis.lung import LEFT_LUNG, RIGHT_LUNG, LungNotFoundError, segment_lungs
from medvis.lung.phantom import lung_phantom
from medvis.lung.segmentation import LungSegmentation
from medvis.phantoms import world_grid
from medvis.volume import Volume
from tests import lung_variants as lv
from tests._data import shared_data

LUNGS = {RIGHT_LUNG: "right", LEFT_LUNG: "left"}
MIN_ML = 20.0  # a lung is scored where the reference holds at least this much of it
MIN_DICE = 0.97
SAME_DICE = 0.999  # storage orders: the same voxels in the world


def warnings_of(result: LungSegmentation) -> tuple[str, ...]:
    """``result.warnings`` (new with the rewrite: absent on the old code)."""
    return tuple(getattr(result, "warnings", ()))


@dataclass(frozen=True)
class Chest:
    """The full chest CT, its segmentation and what the builders need to know about it."""

    ct: Volume
    result: LungSegmentation
    body: NDArray[np.bool_]
    trachea: lv.Trachea


@pytest.fixture(scope="module")
def chest() -> Chest:
    ct = medvis.load(shared_data("chest-ct", "dicom"))
    body = lv.body_mask(ct)
    return Chest(ct=ct, result=segment_lungs(ct), body=body, trachea=lv.find_trachea(ct, body))


# ---------------------------------------------------------------------- the variants
def _midline(chest: Chest) -> int:
    """First column of the patient's left half: the trachea's column, found in the data."""
    return round(chest.trachea.column)


def _x_range(chest: Chest, half_width_mm: float) -> slice:
    """Columns whose LPS x lies in [-half_width_mm, half_width_mm] (identity direction)."""
    ct = chest.ct
    x = ct.origin[0] + ct.spacing[0] * np.arange(ct.shape_ijk[0])
    inside = np.nonzero(np.abs(x) <= half_width_mm)[0]
    return slice(int(inside[0]), int(inside[-1]) + 1)


def _clear_radius(chest: Chest) -> float:
    """A circle radius (mm) that stays clear of the body in every slice."""
    ct = chest.ct
    rows, cols = np.nonzero(chest.body.any(axis=0))
    _, nj, ni = ct.array.shape
    far = np.hypot(
        (rows - 0.5 * (nj - 1)) * ct.spacing[1], (cols - 0.5 * (ni - 1)) * ct.spacing[0]
    ).max()
    return float(far) + 3.0


#: A radius (mm) that cuts through the chest wall and both lungs (they reach 183 mm from
#: the image centre in this scan; the body 250 mm).
CUTTING_RADIUS = 160.0
THIRD = 141 // 3


@dataclass(frozen=True)
class Case:
    """A variant, and what its warnings must (``edges``) and must not (``not_edges``) say."""

    build: Callable[[Chest], Volume]
    edges: frozenset[str]
    not_edges: frozenset[str] = frozenset()
    single: bool = False  # a warning must say only one lung was found
    inside: Callable[[Chest, Volume], NDArray[np.bool_]] | None = None  # reference kept here
    notes: str = ""


def _case(build, edges, not_edges=(), **kw) -> Case:  # type: ignore[no-untyped-def]
    return Case(build, frozenset(edges), frozenset(not_edges), **kw)


CASES: dict[str, Case] = {
    "top-third": _case(
        lambda c: lv.crop(c.ct, k=slice(2 * THIRD, None)), {"bottom"}, {"top", "side"}
    ),
    "middle-third": _case(
        lambda c: lv.crop(c.ct, k=slice(THIRD, 2 * THIRD)), {"top", "bottom"}, {"side"}
    ),
    "bottom-third": _case(lambda c: lv.crop(c.ct, k=slice(0, THIRD)), {"top", "bottom"}, {"side"}),
    "bottom-20-slices": _case(lambda c: lv.crop(c.ct, k=slice(0, 20)), {"top", "bottom"}, {"side"}),
    # 5 slices hold about 5 mL of lung (posterior recesses): nothing to score by Dice;
    # either LungNotFoundError or tiny lungs with warnings, never invented lung.
    "bottom-5-slices": _case(lambda c: lv.crop(c.ct, k=slice(0, 5)), {"top", "bottom"}),
    "left-half": _case(
        lambda c: lv.crop(c.ct, i=slice(_midline(c), None)),
        {"side", "bottom"},
        {"top"},
        single=True,
    ),
    "right-half": _case(
        lambda c: lv.crop(c.ct, i=slice(0, _midline(c))), {"side", "bottom"}, {"top"}, single=True
    ),
    "back-half": _case(
        lambda c: lv.crop(c.ct, j=slice(c.ct.array.shape[1] // 2, None)),
        {"side", "bottom"},
        {"top"},
    ),
    "fov-x-130mm": _case(
        lambda c: lv.crop(c.ct, i=_x_range(c, 130.0)), {"side", "bottom"}, {"top"}
    ),
    "circle-clear-2048": _case(
        lambda c: lv.circular_fov(c.ct, _clear_radius(c), fill=-2048), {"bottom"}, {"top", "side"}
    ),
    "circle-clear-3024": _case(
        lambda c: lv.circular_fov(c.ct, _clear_radius(c), fill=-3024), {"bottom"}, {"top", "side"}
    ),
    "circle-cutting-2048": _case(
        lambda c: lv.circular_fov(c.ct, CUTTING_RADIUS, fill=-2048),
        {"side", "bottom"},
        {"top"},
        inside=lambda c, v: lv.inside_circle(v, CUTTING_RADIUS),
    ),
    # Padding that reads as air (-1024, as Philips writes it): the lungs touch air there.
    "circle-cutting-1024": _case(
        lambda c: lv.circular_fov(c.ct, CUTTING_RADIUS, fill=-1024),
        {"side", "bottom"},
        {"top"},
        inside=lambda c, v: lv.inside_circle(v, CUTTING_RADIUS),
    ),
    "noise-100HU": _case(lambda c: lv.with_noise(c.ct, 100.0, seed=7), {"bottom"}, {"top", "side"}),
    "slices-5mm": _case(lambda c: lv.thick_slices(c.ct, 5.0), {"bottom"}, {"top", "side"}),
    # Thin slices (0.5 mm: 4 x the slices, cells of 3 slices), on the bottom third.
    "slices-0.5mm": _case(
        lambda c: lv.thin_slices(lv.crop(c.ct, k=slice(0, THIRD)), 4), {"top", "bottom"}, {"side"}
    ),
    "prone": _case(lambda c: lv.prone(c.ct, c.body), {"bottom"}, {"top", "side"}),
}

#: Storage orders: (axes, flips) for :func:`~tests.lung_variants.reorder`.
ORDERS: dict[str, tuple[tuple[int, int, int], tuple[bool, bool, bool]]] = {
    "swap-ij": ((1, 0, 2), (False, False, False)),
    "swap-ik-sagittal": ((2, 1, 0), (False, False, False)),
    "flip-i": ((0, 1, 2), (True, False, False)),
    "flip-j": ((0, 1, 2), (False, True, False)),
    "flip-k": ((0, 1, 2), (False, False, True)),
}


@dataclass
class Outcome:
    variant: Volume
    reference: NDArray[np.uint8]
    result: LungSegmentation | None
    error: LungNotFoundError | None = None
    scores: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def outcomes(chest: Chest) -> dict[str, Outcome]:
    """Segmentations of the variants, made once each and shared by the tests below."""
    return {}


def _outcome(chest: Chest, outcomes: dict[str, Outcome], name: str) -> Outcome:
    if name in outcomes:
        return outcomes[name]
    case = CASES[name]
    variant = case.build(chest)
    reference = lv.map_labels(chest.result.labels, variant)
    if case.inside is not None:
        reference[~case.inside(chest, variant)] = 0
    try:
        outcome = Outcome(variant, reference, segment_lungs(variant))
    except LungNotFoundError as error:
        outcome = Outcome(variant, reference, None, error)
    outcomes[name] = outcome
    return outcome


def check_against_reference(
    result: Volume, reference: NDArray[np.uint8], *, min_dice: float = MIN_DICE
) -> dict[str, float]:
    """Dice per lung holding >= 20 mL in the reference, sides kept, no invented lung.

    Returns the Dice values and volumes (mL) found, for the report.
    """
    ml = lv.voxel_ml(result)
    found = result.array
    assert found.shape == reference.shape
    scores: dict[str, float] = {}
    for value, side in LUNGS.items():
        ref_ml = np.count_nonzero(reference == value) * ml
        got_ml = np.count_nonzero(found == value) * ml
        scores[f"{side}_ref_ml"] = ref_ml
        scores[f"{side}_ml"] = got_ml
        if ref_ml >= MIN_ML:
            score = lv.dice(found == value, reference == value)
            scores[f"{side}_dice"] = score
            assert score >= min_dice, (
                f"{side} lung: Dice {score:.4f} < {min_dice} (found {got_ml:.0f} mL, "
                f"reference {ref_ml:.0f} mL)"
            )
            other = 3 - value  # right stays right, left stays left
            swapped = np.count_nonzero((found == other) & (reference == value)) * ml
            assert swapped <= 0.01 * ref_ml, f"{swapped:.1f} mL of the {side} lung mislabelled"
        elif ref_ml < 5.0:
            assert got_ml < MIN_ML, f"{got_ml:.0f} mL of {side} lung where there is none"
    invented = np.count_nonzero((found > 0) & (reference == 0)) * ml
    total = np.count_nonzero(reference > 0) * ml
    assert invented <= max(5.0, 0.03 * total), f"{invented:.1f} mL labelled lung outside the lungs"
    return scores


# ------------------------------------------------------------------------- the tests
def test_full_scan_warnings_say_bases_cut_not_top(chest: Chest) -> None:
    """The chest CT cuts the bases (both lungs reach its bottom slice), not the apices."""
    labels = chest.result.labels.array
    assert labels[0].any() and not labels[-1].any()  # the data's premise
    warnings = warnings_of(chest.result)
    assert lv.cut_edges(warnings) == {"bottom"}, warnings
    assert not lv.says_single_lung(warnings), warnings


def test_midline_and_table_found_in_the_data(chest: Chest) -> None:
    """The builders' landmarks: trachea near the image centre, the table behind the body."""
    ni = chest.ct.shape_ijk[0]
    assert abs(chest.trachea.column - 0.5 * (ni - 1)) < 0.1 * ni
    rows = lv.table_rows(chest.ct, chest.body)
    band = chest.ct.array[:, rows, :]
    assert rows.start > 0.6 * chest.ct.array.shape[1]
    assert np.count_nonzero(band > -600) > 1000  # a dense table, not only air


@pytest.mark.parametrize("name", list(CASES))
def test_variant_matches_full_scan(chest: Chest, outcomes: dict[str, Outcome], name: str) -> None:
    outcome = _outcome(chest, outcomes, name)
    if outcome.error is not None:
        total = np.count_nonzero(outcome.reference) * lv.voxel_ml(outcome.variant)
        assert total < MIN_ML, f"LungNotFoundError with {total:.0f} mL of lung: {outcome.error}"
        assert str(chest.ct.source) in str(outcome.error)
        return
    assert outcome.result is not None
    labels = outcome.result.labels
    assert np.allclose(labels.index_to_world, outcome.variant.index_to_world)
    outcome.scores = check_against_reference(labels, outcome.reference)


@pytest.mark.parametrize("name", list(CASES))
def test_variant_warnings(chest: Chest, outcomes: dict[str, Outcome], name: str) -> None:
    case = CASES[name]
    outcome = _outcome(chest, outcomes, name)
    if outcome.result is None:
        pytest.skip(f"no lungs to warn about ({outcome.error})")
    warnings = warnings_of(outcome.result)
    edges = lv.cut_edges(warnings)
    assert case.edges <= edges, f"want cut by {sorted(case.edges)}: {warnings}"
    assert not (case.not_edges & edges), f"must not say cut by {sorted(case.not_edges)}: {warnings}"
    assert lv.says_single_lung(warnings) == case.single, warnings


def test_half_crops_cut_at_the_midline_hold_one_lung(chest: Chest) -> None:
    """The premise of the half crops: each keeps (almost) all of one lung."""
    mid = _midline(chest)
    ml = lv.voxel_ml(chest.ct)
    labels = chest.result.labels.array
    assert np.count_nonzero(labels[:, :, mid:] == RIGHT_LUNG) * ml < 5.0
    assert np.count_nonzero(labels[:, :, :mid] == LEFT_LUNG) * ml < 5.0


def test_cutting_circle_cuts_the_lungs(chest: Chest) -> None:
    inside = lv.inside_circle(chest.ct, CUTTING_RADIUS)
    outside_ml = np.count_nonzero((chest.result.labels.array > 0) & ~inside) * lv.voxel_ml(chest.ct)
    assert outside_ml > 20.0
    assert _clear_radius(chest) < np.hypot(*chest.ct.array.shape[1:]) * chest.ct.spacing[0] / 2


@pytest.mark.parametrize("name", list(ORDERS))
def test_storage_order_gives_the_same_lungs(chest: Chest, name: str) -> None:
    axes, flip = ORDERS[name]
    variant = lv.reorder(chest.ct, axes=axes, flip=flip)
    assert np.array_equal(lv.map_labels(variant, chest.ct), chest.ct.array)  # same voxels
    result = segment_lungs(variant)
    reference = lv.map_labels(chest.result.labels, variant)
    check_against_reference(result.labels, reference, min_dice=SAME_DICE)
    assert lv.cut_edges(warnings_of(result)) == lv.cut_edges(warnings_of(chest.result))


# ------------------------------------------------------------------------------- gas
#: Stomach (anterior, patient left) and transverse colon (anterior, across the
#: midline) in the bottom 20 slices: below the domes, in front of the posterior recesses
#: that hold the lung bases there.
CHEST_GAS = [
    lv.GasPocket("stomach", (60.0, -25.0, -146.0), (55.0, 38.0, 20.0)),
    lv.GasPocket("colon", (-15.0, -80.0, -148.0), (90.0, 20.0, 22.0)),
]
#: Below the phantom's lung ellipsoids (they end at z = -105 mm).
PHANTOM_GAS = [
    lv.GasPocket("stomach", (55.0, -35.0, -150.0), (45.0, 40.0, 30.0)),
    lv.GasPocket("colon", (-10.0, -55.0, -205.0), (80.0, 25.0, 20.0)),
]


def _check_pockets(
    grid: Volume,
    pockets: list[lv.GasPocket],
    reference: NDArray[np.uint8],
    body: NDArray[np.bool_],
    *,
    bigger_than_lungs: bool,
) -> None:
    """The premise: 150-300 mL each, in soft tissue away from lung and skin, and (for a
    crop of lung bases) bigger than each lung there."""
    ml = lv.voxel_ml(grid)
    near_lung = ndi.binary_dilation(reference > 0, iterations=5)
    reach = [round(10.0 / float(s)) for s in grid.spacing[1::-1]]  # 10 mm in, in-plane
    deep = ndi.binary_erosion(body, np.ones((1, 2 * reach[0] + 1, 2 * reach[1] + 1), bool))
    for pocket in pockets:
        mask = lv.ellipsoid_mask(grid, pocket)
        volume = np.count_nonzero(mask) * ml
        assert 150.0 <= volume <= 300.0, f"{pocket.name}: {volume:.0f} mL"
        for value in LUNGS:
            lung_ml = np.count_nonzero(reference == value) * ml
            assert volume > lung_ml or not bigger_than_lungs, f"{pocket.name}: {volume:.0f} mL"
        assert not np.any(mask & near_lung), pocket.name
        assert not np.any(mask & ~deep), pocket.name
        hu = grid.array[mask]
        assert -150 < np.median(hu) < 150 and np.mean(hu < -400) < 0.01, pocket.name


def test_chest_gas_below_the_diaphragm_is_not_lung(chest: Chest) -> None:
    bottom = lv.crop(chest.ct, k=slice(0, 20))
    reference = lv.map_labels(chest.result.labels, bottom)
    _check_pockets(bottom, CHEST_GAS, reference, chest.body[:20], bigger_than_lungs=True)
    gassy, gas = lv.with_gas(bottom, CHEST_GAS, air_sd=chest.trachea.air_sd, seed=3)
    result = segment_lungs(gassy)
    assert not np.any(result.labels.array[gas] > 0), "lung label on gas"
    check_against_reference(result.labels, reference)


def test_phantom_gas_below_the_lungs_is_not_lung() -> None:
    phantom = lung_phantom(shape_ijk=(176, 144, 140), origin=(-175.0, -143.0, -230.0))
    truth = phantom.truth.array
    grid = phantom.volume
    xyz = world_grid(grid.shape_ijk, grid.spacing, grid.origin, grid.direction)
    body = (xyz[..., 0] / 150.0) ** 2 + (xyz[..., 1] / 105.0) ** 2 <= 1.0  # the phantom's
    _check_pockets(grid, PHANTOM_GAS, truth, body, bigger_than_lungs=False)
    gassy, gas = lv.with_gas(phantom.volume, PHANTOM_GAS, air_sd=20.0, seed=3)
    result = segment_lungs(gassy)
    assert not np.any(result.labels.array[gas] > 0), "lung label on gas"
    check_against_reference(result.labels, truth)


# ------------------------------------------------------------------- other real scans
def test_three_slice_ct_lung_bases_beside_liver_heart_spine() -> None:
    folder = shared_data("ct-3slice-seg")
    ct = medvis.load(folder)
    result = segment_lungs(ct)
    ml = lv.voxel_ml(ct)
    found = {side: np.count_nonzero(result.labels.array == v) * ml for v, side in LUNGS.items()}
    assert sum(found.values()) > 10.0, found
    for organ in ("liver", "heart", "spine"):
        organ_labels = medvis.load(folder / f"{organ}_seg.nrrd")
        assert np.allclose(organ_labels.index_to_world, ct.index_to_world, atol=1e-3)
        mapped = lv.map_labels(organ_labels.replace(array=organ_labels.array > 0), ct)
        assert np.count_nonzero(mapped), organ
        # The hand-drawn labels' outer voxels overlap aerated lung (-750..-400 HU next to
        # the liver dome and the heart, up to 3 voxels = 2.4 mm in): nothing lies deeper
        # inside them, whatever of them is labelled lung is aerated (no organ tissue,
        # which sits above -400 HU), and it is under 0.5 mL.
        lung = result.labels.array > 0
        core = ndi.binary_erosion(mapped, np.ones((1, 9, 9), bool))
        assert not np.any(core & lung), f"lung inside the {organ}"
        assert np.all(ct.array[mapped & lung] <= -400), f"{organ} tissue labelled lung"
        rim_ml = np.count_nonzero(mapped & lung) * ml
        assert rim_ml < 0.5, f"{rim_ml:.2f} mL of lung on the {organ}'s border"
    assert {"top", "bottom"} <= lv.cut_edges(warnings_of(result)), warnings_of(result)


def test_abdomen_without_lungs_raises_naming_the_file() -> None:
    ct = medvis.load(shared_data("ct-jpeg2000", "dicom"))
    with pytest.raises(LungNotFoundError) as caught:
        segment_lungs(ct)
    assert ct.source and ct.source in str(caught.value)
