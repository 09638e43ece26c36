"""Bad input gets a typed error naming the file and the reason, never a library traceback."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import medvis
from medvis import errors
from medvis.phantoms import chest_phantom


@pytest.fixture
def small_volume() -> medvis.Volume:
    return chest_phantom(shape_ijk=(24, 20, 16), spacing=(10.0, 10.0, 12.0))


def _assert_names_file(exc: BaseException, path: Path) -> None:
    assert str(path) in str(exc), f"message does not name the file: {exc}"
    assert isinstance(exc, errors.MedvisError)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.nii.gz"
    with pytest.raises(errors.MissingFileError) as info:
        medvis.load(path)
    _assert_names_file(info.value, path)
    assert isinstance(info.value, FileNotFoundError)
    assert "no such file" in str(info.value)


@pytest.mark.parametrize("name", ["empty.nii", "empty.nii.gz", "empty.nrrd", "empty.dcm", "empty"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(errors.EmptyFileError) as info:
        medvis.load(path)
    _assert_names_file(info.value, path)
    assert "empty" in str(info.value)


@pytest.mark.parametrize("ext", [".nii", ".nii.gz", ".nrrd", ".mha"])
def test_truncated_file(tmp_path: Path, small_volume: medvis.Volume, ext: str) -> None:
    whole = tmp_path / f"whole{ext}"
    medvis.save(
        small_volume,
        whole,
        **({"encoding": "raw"} if ext == ".nrrd" else {}),
        **({"compress": False} if ext == ".mha" else {}),
    )
    data = whole.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(errors.CorruptFileError) as info:
        medvis.load(cut)
    _assert_names_file(info.value, cut)
    if ext in (".nii", ".nrrd"):
        assert isinstance(info.value, errors.TruncatedFileError)
        assert "truncated" in str(info.value)


def test_wrong_magic(tmp_path: Path, small_volume: medvis.Volume) -> None:
    good = tmp_path / "good.nii"
    medvis.save(small_volume, good)
    data = bytearray(good.read_bytes())
    data[344:348] = b"xx1\0"  # NIfTI magic destroyed
    bad = tmp_path / "bad.nii"
    bad.write_bytes(bytes(data))
    with pytest.raises(errors.WrongMagicError) as info:
        medvis.load(bad)
    _assert_names_file(info.value, bad)
    assert "signature" in str(info.value) and "NIfTI" in str(info.value)


def test_nrrd_extension_with_other_content(tmp_path: Path) -> None:
    path = tmp_path / "scan.nrrd"
    path.write_bytes(b"PK\x03\x04 this is a zip archive, not an image" * 10)
    with pytest.raises(errors.WrongMagicError) as info:
        medvis.load(path)
    _assert_names_file(info.value, path)


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.xyz"
    path.write_text("hello, this is not an image\n" * 20)
    with pytest.raises(errors.UnsupportedFormatError) as info:
        medvis.load(path)
    _assert_names_file(info.value, path)
    assert isinstance(info.value, ValueError)
    assert "unknown format" in str(info.value)


def test_huge_nifti_header_refused_before_allocation(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "huge.nii"
    header = nib.Nifti1Header()
    header.set_data_shape((30000, 30000, 30000))
    header.set_data_dtype(np.int16)
    with open(path, "wb") as fh:
        header.write_to(fh)
        fh.write(b"\0" * 64)
    allocations: list[int] = []
    real_empty = np.empty

    def spy_empty(shape, *args, **kwargs):
        allocations.append(int(np.prod(shape)))
        return real_empty(shape, *args, **kwargs)

    monkeypatch.setattr(np, "empty", spy_empty)
    with pytest.raises(errors.ImageTooLargeError) as info:
        medvis.load(path)
    _assert_names_file(info.value, path)
    assert "30000 x 30000 x 30000" in str(info.value)
    assert not any(n > 10**6 for n in allocations)


def test_huge_nrrd_header_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.nrrd"
    path.write_bytes(
        b"NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\n"
        b"sizes: 100000 100000 100000\nspace directions: (1,0,0) (0,1,0) (0,0,1)\n"
        b"encoding: raw\nendian: little\nspace origin: (0,0,0)\n\n" + b"\0" * 100
    )
    with pytest.raises(errors.ImageTooLargeError) as info:
        medvis.load(path)
    _assert_names_file(info.value, path)


def test_memory_limit_setting(tmp_path: Path, small_volume: medvis.Volume, monkeypatch) -> None:
    path = tmp_path / "small.nii"
    medvis.save(small_volume, path)
    monkeypatch.setenv("MEDVIS_MAX_BYTES", "1000")
    with pytest.raises(errors.ImageTooLargeError):
        medvis.load(path)


def test_corrupt_gzip(tmp_path: Path, small_volume: medvis.Volume) -> None:
    good = tmp_path / "good.nii.gz"
    medvis.save(
        small_volume.replace(
            array=np.random.default_rng(1)
            .integers(-1000, 1000, small_volume.array.shape)
            .astype(np.int16)
        ),
        good,
    )
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # zero a run in the deflate stream
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(errors.CorruptFileError) as info:
        medvis.load(bad)
    _assert_names_file(info.value, bad)
    assert "gzip" in str(info.value) or "truncated" in str(info.value)


def test_truncated_gzip(tmp_path: Path, small_volume: medvis.Volume) -> None:
    good = tmp_path / "good.nii.gz"
    medvis.save(small_volume, good)
    data = good.read_bytes()
    bad = tmp_path / "short.nii.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(errors.CorruptFileError) as info:
        medvis.load(bad)
    _assert_names_file(info.value, bad)


def test_gzip_of_garbage_named_nii_gz(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.nii.gz"
    bad.write_bytes(gzip.compress(b"not a nifti header at all" * 40))
    with pytest.raises(errors.WrongMagicError):
        medvis.load(bad)


def test_missing_img_half_of_pair(tmp_path: Path, small_volume: medvis.Volume) -> None:
    image = nib.Nifti1Pair(small_volume.array.T, np.eye(4))
    nib.save(image, tmp_path / "pair.hdr")
    (tmp_path / "pair.img").unlink()
    with pytest.raises(errors.MissingFileError) as info:
        medvis.load(tmp_path / "pair.hdr")
    assert "pair.img" in str(info.value)


def test_errors_pickle_roundtrip() -> None:
    import pickle

    exc = errors.TruncatedFileError(Path("/x/y.nii"), "voxel data is truncated")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is errors.TruncatedFileError and str(back) == str(exc)


def test_inputs_never_modified(tmp_path: Path, small_volume: medvis.Volume) -> None:
    path = tmp_path / "in.nii.gz"
    medvis.save(small_volume, path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    volume = medvis.load(path)
    volume.array[0, 0, 0] = 123  # arrays are the caller's to change
    medvis.save(volume, tmp_path / "out.nrrd")
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_save_refuses_overwrite_and_unknown_extension(tmp_path: Path, small_volume) -> None:
    path = tmp_path / "x.nrrd"
    medvis.save(small_volume, path)
    with pytest.raises(errors.OutputExistsError) as info:
        medvis.save(small_volume, path)
    assert isinstance(info.value, FileExistsError) and "force=True" in str(info.value)
    medvis.save(small_volume, path, force=True)
    with pytest.raises(errors.UnsupportedFormatError):
        medvis.save(small_volume, tmp_path / "x.png")
    with pytest.raises(errors.WriteError):
        medvis.save(small_volume, tmp_path / "no" / "such" / "dir.nii")


def test_failed_write_leaves_nothing(tmp_path: Path, small_volume, monkeypatch) -> None:
    import nrrd

    def broken_write(filename, *args, **kwargs):
        Path(filename).write_bytes(b"NRRD0004\npartial")
        raise OSError("disk full")

    monkeypatch.setattr(nrrd, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        medvis.save(small_volume, tmp_path / "x.nrrd")
    assert list(tmp_path.iterdir()) == []


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(errors.UnsupportedFormatError) as info:
        medvis.load(tmp_path)
    _assert_names_file(info.value, tmp_path)


def test_copy_of_shared_file_unchanged(tmp_path: Path) -> None:
    from tests._data import shared_data

    source = shared_data("flair-oblique", "FLAIR.nii.gz")
    copy = tmp_path / "FLAIR.nii.gz"
    shutil.copy(source, copy)
    medvis.load(copy)
    assert copy.read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    "cls",
    [getattr(errors, name) for name in errors.__all__ if name != "MedvisError"],
)
def test_every_error_keeps_path_and_reason(cls: type[errors.MedvisError]) -> None:
    exc = cls(Path("/data/scan.dcm"), "the reason")
    assert exc.path == Path("/data/scan.dcm")
    assert exc.reason == "the reason"
    assert str(exc) == "/data/scan.dcm: the reason"
    assert isinstance(exc, errors.MedvisError)


def test_gzip_crc_mismatch_is_detected(tmp_path: Path, small_volume: medvis.Volume) -> None:
    good = tmp_path / "good.nii.gz"
    medvis.save(small_volume, good)
    data = bytearray(good.read_bytes())
    data[-8] ^= 0xFF  # the CRC-32 of the uncompressed data, in the gzip trailer
    bad = tmp_path / "crc.nii.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(errors.CorruptFileError) as info:
        medvis.load(bad)
    _assert_names_file(info.value, bad)
