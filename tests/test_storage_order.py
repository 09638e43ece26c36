"""Storage-order invariance and writer round trips.

An asymmetric phantom with a known LPS position is stored in all 48 axis orders (6 axis
permutations x 8 flips, each with the origin/direction change that keeps the WORLD object
where it is) and saved through every writer. Whatever the storage order, loading it back
must give the same object in world space, and exactly the geometry that was saved.

What each format can hold (measured with its own library, see the conformance suite):
NRRD, MetaImage and VTK XML write geometry as 17-digit text, so float64 survives exactly;
NIfTI stores the sform as float32, so the round trip is exact up to float32 rounding.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import medvis
from medvis import Volume
from medvis.errors import OutputExistsError

WRITE_EXTS = (".nii.gz", ".nii", ".nrrd", ".mha", ".vti")
SHAPE_IJK = (40, 32, 24)
SPACING = np.array([0.8, 1.1, 2.0])
ORIGIN = np.array([-31.5, 12.25, -80.0])


def _rotation(axis, degrees: float) -> np.ndarray:
    """Rodrigues: rotation by ``degrees`` about ``axis``."""
    u = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    t = np.radians(degrees)
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


PLACEMENTS = {"axial": np.eye(3), "oblique30": _rotation([1.0, 2.0, 3.0], 30.0)}


def _phantom_ijk() -> np.ndarray:
    """int16 phantom indexed [i, j, k]: a ramp plus boxes and an ellipsoid, all off-centre."""
    i, j, k = np.meshgrid(*(np.arange(n) for n in SHAPE_IJK), indexing="ij")
    data = (i + 3 * j + 7 * k).astype(np.int16)  # no flip or permutation leaves it unchanged
    data[3:12, 4:10, 2:8] += 1000
    data[25:37, 20:29, 15:21] += 2000
    data[((i - 20) / 6.0) ** 2 + ((j - 8) / 4.0) ** 2 + ((k - 17) / 3.0) ** 2 <= 1] += 3000
    data[1:3, 28:31, 0:2] = -500
    return data


PHANTOM = _phantom_ijk()


def _affine(direction: np.ndarray) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3] = direction * SPACING
    affine[:3, 3] = ORIGIN
    return affine


def _volume(data_ijk: np.ndarray, affine: np.ndarray) -> Volume:
    """A Volume from [i, j, k] data and its index->LPS affine (split by hand, not by medvis)."""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    return Volume(
        np.ascontiguousarray(data_ijk.T),
        spacing=spacing,
        origin=affine[:3, 3],
        direction=affine[:3, :3] / spacing,
    )


def reorder(data_ijk, affine, perm, flips):
    """Store the same world object with flipped and permuted axes.

    Flipping axis ``a`` maps new index n to old ``N_a - 1 - n``; permuting makes new axis
    ``b`` the old axis ``perm[b]``. The affine is composed with the same index maps, so
    ``affine_new @ n == affine_old @ old(n)`` for every voxel.
    """
    data, affine = data_ijk, affine.copy()
    for axis in range(3):
        if flips[axis]:
            flip = np.eye(4)
            flip[axis, axis] = -1.0
            flip[axis, 3] = data.shape[axis] - 1
            data, affine = np.flip(data, axis), affine @ flip
    move = np.zeros((4, 4))
    move[3, 3] = 1.0
    for new, old in enumerate(perm):
        move[old, new] = 1.0
    return data.transpose(perm), affine @ move


ORDERS = [
    (perm, flips)
    for perm in itertools.permutations(range(3))
    for flips in itertools.product((False, True), repeat=3)
]


def _order_id(perm, flips) -> str:
    name = "".join("ijk"[p] for p in perm)
    flipped = "".join("ijk"[a] for a in range(3) if flips[a])
    return f"{name}-flip{flipped}" if flipped else name


# A fixed set of world points: 1500 canonical voxel centres (corners included).
_RNG = np.random.default_rng(2024)
SAMPLE_IJK = np.vstack(
    [
        np.stack([_RNG.integers(0, n, 1500) for n in SHAPE_IJK], axis=1),
        [[i, j, k] for i in (0, 39) for j in (0, 31) for k in (0, 23)],
    ]
)
SAMPLE_VALUES = PHANTOM[tuple(SAMPLE_IJK.T)]


def _world_points(affine: np.ndarray) -> np.ndarray:
    return np.c_[SAMPLE_IJK, np.ones(len(SAMPLE_IJK))] @ affine.T[:, :3]


def sample(vol: Volume, points: np.ndarray) -> np.ndarray:
    """Nearest-voxel values of ``vol`` at LPS ``points`` (which must be voxel centres)."""
    idx = vol.world_to_index_points(points)
    independent = (np.c_[points, np.ones(len(points))] @ np.linalg.inv(vol.index_to_world).T)[:, :3]
    np.testing.assert_allclose(idx, independent, atol=1e-6)
    rounded = np.rint(idx).astype(int)
    assert np.abs(idx - rounded).max() < 1e-3, "world points no longer fall on voxel centres"
    assert np.all(rounded >= 0) and np.all(rounded < np.array(vol.shape_ijk))
    return vol.array[rounded[:, 2], rounded[:, 1], rounded[:, 0]]


def assert_geometry_kept(ext: str, loaded: Volume, saved: np.ndarray) -> None:
    """index_to_world after the round trip, at the tightest tolerance the format allows."""
    got = loaded.index_to_world
    if ext.startswith(".nii"):
        # The sform is float32: the result must be the float32-rounded matrix, no worse.
        np.testing.assert_allclose(got, saved, rtol=0, atol=1e-4)
        rounded = saved.astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(got, rounded, rtol=0, atol=1e-9)
    else:  # 17 significant digits of text: float64 survives, up to the split into
        np.testing.assert_allclose(got, saved, rtol=0, atol=1e-12)  # spacing x direction


# ------------------------------------------------------------------ storage-order invariance
@pytest.fixture(scope="module")
def saved_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("orders")


@pytest.mark.parametrize("ext", WRITE_EXTS, ids=lambda e: e.lstrip("."))
@pytest.mark.parametrize("placement", sorted(PLACEMENTS))
@pytest.mark.parametrize(("perm", "flips"), ORDERS, ids=[_order_id(*o) for o in ORDERS])
def test_world_object_independent_of_storage_order(saved_dir, ext, placement, perm, flips):
    canonical_affine = _affine(PLACEMENTS[placement])
    data, affine = reorder(PHANTOM, canonical_affine, perm, flips)
    vol = _volume(data, affine)
    assert vol.is_flipped == (np.linalg.det(affine[:3, :3]) < 0)
    name = f"{placement}-{_order_id(perm, flips)}{ext}"
    medvis.save(vol, saved_dir / name)
    loaded = medvis.load(saved_dir / name)
    assert loaded.shape_ijk == data.shape
    assert loaded.dtype == np.int16
    assert_geometry_kept(ext, loaded, affine)
    assert loaded.is_flipped == vol.is_flipped
    got = sample(loaded, _world_points(canonical_affine))
    np.testing.assert_array_equal(got, SAMPLE_VALUES)


def test_reorder_helper_keeps_the_world_object():
    # The helper itself, checked without any file: a different storage, the same object.
    affine = _affine(PLACEMENTS["oblique30"])
    data, moved = reorder(PHANTOM, affine, (2, 0, 1), (True, False, True))
    assert data.shape == (24, 40, 32) and not np.array_equal(moved, affine)
    np.testing.assert_array_equal(
        sample(_volume(data, moved), _world_points(affine)), SAMPLE_VALUES
    )


# ------------------------------------------------------------------ plain round trips
DTYPES = ("int16", "uint8", "float32", "int32", "float64")


def _typed(dtype: str) -> np.ndarray:
    data = PHANTOM.astype(np.float64)
    if dtype == "uint8":
        data = (data - data.min()) * (255.0 / (data.max() - data.min()))
    elif dtype.startswith("float"):
        data = data * 0.37 - 11.125
    return np.round(data).astype(dtype) if dtype[0] in "iu" else data.astype(dtype)


@pytest.mark.parametrize("ext", WRITE_EXTS, ids=lambda e: e.lstrip("."))
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_identical(tmp_path, ext, dtype):
    affine = _affine(PLACEMENTS["oblique30"])
    vol = _volume(_typed(dtype), affine)
    path = tmp_path / f"rt{ext}"
    medvis.save(vol, path)
    loaded = medvis.load(path)
    assert loaded.dtype == np.dtype(dtype), f"{ext} turned {dtype} into {loaded.dtype}"
    assert loaded.layout == "kji" and loaded.shape_ijk == SHAPE_IJK
    np.testing.assert_array_equal(loaded.array, vol.array)
    assert_geometry_kept(ext, loaded, affine)
    assert isinstance(loaded.metadata["format"], str) and loaded.metadata["format"]


# ------------------------------------------------------------------ overwrite and atomicity
def _small(value: int) -> Volume:
    return _volume(np.full((5, 4, 3), value, np.int16), _affine(np.eye(3)))


@pytest.mark.parametrize("ext", WRITE_EXTS, ids=lambda e: e.lstrip("."))
def test_save_refuses_to_overwrite_without_force(tmp_path, ext):
    path = tmp_path / f"out{ext}"
    medvis.save(_small(1), path)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError) as info:
        medvis.save(_small(2), path)
    assert isinstance(info.value, FileExistsError)
    assert path.name in str(info.value) and "force" in str(info.value)
    assert path.read_bytes() == before
    medvis.save(_small(2), path, force=True)
    assert np.all(medvis.load(path).array == 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def _fake_vtk_writer(calls):
    from vtkmodules.vtkIOXML import vtkXMLImageDataWriter

    class PartialWriter(vtkXMLImageDataWriter):  # writes half a file, reports failure as VTK does
        def Write(self):
            calls.append(self.GetFileName())
            Path(self.GetFileName()).write_bytes(b"<?xml version=" + b"\0" * 4096)
            return 0

    return PartialWriter


def _patch_library_writer(monkeypatch, ext, calls):
    """Replace the library call that writes ``ext`` by one that fails half-way."""

    def partial(*args, **kwargs):
        target = next(str(a) for a in args if isinstance(a, (str, os.PathLike)))
        calls.append(target)
        Path(target).write_bytes(b"\x1f\x8b partial" + b"\0" * 4096)
        raise OSError(28, "No space left on device (simulated)")

    if ext.startswith(".nii"):
        import nibabel

        monkeypatch.setattr(nibabel, "save", partial)
    elif ext == ".nrrd":
        import nrrd

        monkeypatch.setattr(nrrd, "write", lambda filename, *a, **k: partial(filename))
    elif ext == ".mha":
        import SimpleITK

        monkeypatch.setattr(SimpleITK, "WriteImage", lambda image, name, *a, **k: partial(name))
    else:
        import vtkmodules.vtkIOXML

        monkeypatch.setattr(vtkmodules.vtkIOXML, "vtkXMLImageDataWriter", _fake_vtk_writer(calls))


@pytest.mark.parametrize("ext", WRITE_EXTS, ids=lambda e: e.lstrip("."))
def test_interrupted_save_leaves_nothing(tmp_path, monkeypatch, ext):
    calls: list[str] = []
    _patch_library_writer(monkeypatch, ext, calls)
    path = tmp_path / f"out{ext}"
    with pytest.raises(OSError):  # medvis.errors.WriteError is an OSError too
        medvis.save(_small(1), path)
    assert calls, f"the {ext} writer no longer goes through the patched library call"
    assert not path.exists()
    assert list(tmp_path.iterdir()) == [], "a temporary or partial file was left behind"


_FILL_DISK = textwrap.dedent(
    """
    import json, resource, signal, sys
    import numpy as np
    import medvis
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    vol = medvis.Volume(np.random.default_rng(0).random((64, 64, 64), dtype=np.float32))
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.RLIM_INFINITY))
    try:
        medvis.save(vol, sys.argv[1])
        print(json.dumps({"raised": None}))
    except BaseException as exc:
        out = {"raised": type(exc).__name__, "oserror": isinstance(exc, OSError), "msg": str(exc)}
        print(json.dumps(out))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="RLIMIT_FSIZE is POSIX only")
@pytest.mark.parametrize("ext", WRITE_EXTS, ids=lambda e: e.lstrip("."))
def test_save_on_full_disk_fails_cleanly(tmp_path, ext):
    # A real failure in the middle of writing, whatever library writes: the file-size limit.
    out = tmp_path / "out"
    out.mkdir()
    path = out / f"big{ext}"
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, "-c", _FILL_DISK, str(path)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["raised"] is not None, f"{ext}: a 1 MiB save 'succeeded' under a 64 KiB limit"
    assert result["oserror"], (
        f"{ext}: raised {result['raised']}: {result['msg'][:300]}; expected an OSError/WriteError"
    )
    assert list(out.iterdir()) == [], f"left behind: {[p.name for p in out.iterdir()]}"
