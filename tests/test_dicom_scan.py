"""DICOM folder scanning: series and sub-series, DICOMDIR, non-image and broken files, CLI.

Real files: pydicom's ``dicomdirtests`` tree (24 series of CT, CR and MR with scouts
and multi-orientation localizers, plus a DICOMDIR that lists them), its SR, RT plan and
ECG objects, and ../shared/data's CT series.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medvis.cli import main
from medvis.errors import UnsupportedFormatError
from medvis.io import dicom, dicom_scan
from tests._data import shared_data
from tests.test_dicom import wheel_file


def dicomdir_tree() -> Path:
    root = wheel_file("MR_small.dcm").parent / "dicomdirtests"
    if not (root / "DICOMDIR").is_file():
        pytest.skip("pydicom's dicomdirtests are not installed")
    return root


def test_folder_and_dicomdir_list_the_same_series():
    root = dicomdir_tree()
    walked, notes = dicom_scan.list_series(root)
    listed, _ = dicom_scan.list_series(root / "DICOMDIR")
    assert notes == []  # DICOMDIR files and the TINY_ALPHA stubs are skipped quietly
    assert len(walked) == 24
    assert [(s["id"], s["images"]) for s in walked] == [(s["id"], s["images"]) for s in listed]
    by_description = {s["description"]: s for s in walked}
    assert by_description["Routine Brain"]["modality"] == "CT"
    assert by_description["Routine Brain"]["images"] == 4
    scouts = [s for s in walked if s["description"] == "Scout"]
    assert len(scouts) == 2 and all(s["localizer"] for s in scouts)
    assert {s["part"].split(" (")[1] for s in scouts} == {"sagittal)", "coronal)"}
    pilots = [s for s in walked if s["description"] == "T/S/C RF FAST PILOT"]
    assert all(s["id"].rsplit("#", 1)[1] in "123" for s in pilots) and len(pilots) == 6


def test_dicomdir_path_loads_the_largest_series():
    vol = dicom.read(dicomdir_tree() / "DICOMDIR")
    assert vol.metadata["series_description"] == "SmartScore - Gated 0.5 sec"
    assert vol.array.shape == (5, 16, 16)
    assert any("pass series=ID" in w for w in vol.warnings)


def test_localizer_in_the_series_is_passed_over(tmp_path):
    files = sorted(shared_data("chest-ct", "dicom").iterdir())[40:46]
    for n, src in enumerate(files):
        shutil.copyfile(src, tmp_path / f"ct{n}.dcm")
    scout = pydicom.dcmread(files[0])
    scout.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    scout.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    scout.SOPInstanceUID = pydicom.uid.generate_uid()
    scout.save_as(tmp_path / "scout.dcm")
    # Objects that are not images, and a non-DICOM file, beside them.
    for name in ("test-SR.dcm", "rtplan.dcm", "waveform_ecg.dcm"):
        shutil.copyfile(wheel_file(name), tmp_path / name)
    shutil.copyfile(dicomdir_tree() / "DICOMDIR", tmp_path / "DICOMDIR")
    (tmp_path / "notes.txt").write_text("not DICOM")
    vol = dicom.read(tmp_path)
    assert vol.array.shape == (6, 512, 512)
    uid = scout.SeriesInstanceUID
    assert vol.metadata["series_id"] == f"{uid}#1"
    assert any(f"{uid}#2" in w for w in vol.warnings)  # the localizer, named
    series, notes = dicom_scan.list_series(tmp_path)
    assert [(s["part"], s["images"], s["localizer"]) for s in series] == [
        ("images", 6, False),
        ("localizer", 1, True),
    ]
    assert notes == []
    scout_vol = dicom.read(tmp_path, series=f"{uid}#2")
    assert scout_vol.array.shape == (1, 512, 512)
    with pytest.raises(UnsupportedFormatError, match=r"series present: .*#1, .*#2"):
        dicom.read(tmp_path, series="1.2.3")


def _mr_copies(folder: Path, specs: list[dict]) -> None:
    template = pydicom.dcmread(wheel_file("MR_small.dcm"))
    for n, spec in enumerate(specs):
        ds = copy.deepcopy(template)
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [0, 0, 2.0 * spec.pop("k")]
        ds.PixelData = np.full((64, 64), n, np.int16).tobytes()
        for keyword, value in spec.items():
            setattr(ds, keyword, value)
        ds.save_as(folder / f"im{n:02d}.dcm")


def test_echoes_become_sub_series(tmp_path):
    _mr_copies(tmp_path, [{"k": k % 3, "EchoNumbers": 1 + k // 3} for k in range(6)])
    series, _ = dicom_scan.list_series(tmp_path)
    assert [s["part"] for s in series] == ["echo 1", "echo 2"]
    second = dicom.read(tmp_path, series=series[1]["id"])
    assert second.layout == "kji" and second.array[:, 0, 0].tolist() == [3, 4, 5]


def test_acquisitions_split_only_when_they_repeat_positions(tmp_path):
    repeat, distinct = tmp_path / "repeat", tmp_path / "distinct"
    repeat.mkdir(), distinct.mkdir()
    _mr_copies(repeat, [{"k": k % 3, "AcquisitionNumber": 1 + k // 3} for k in range(6)])
    _mr_copies(distinct, [{"k": k, "AcquisitionNumber": k + 1} for k in range(6)])
    assert [s["part"] for s in dicom_scan.list_series(repeat)[0]] == [
        "acquisition 1",
        "acquisition 2",
    ]
    assert len(dicom_scan.list_series(distinct)[0]) == 1
    assert dicom.read(distinct).array.shape == (6, 64, 64)


def test_truncated_file_in_a_folder_is_skipped(tmp_path):
    files = sorted(shared_data("chest-ct", "dicom").iterdir())[:5]
    for n, src in enumerate(files):
        shutil.copyfile(src, tmp_path / f"ct{n}.dcm")
    (tmp_path / "ct2.dcm").write_bytes(files[2].read_bytes()[:-5000])
    vol = dicom.read(tmp_path, spacing="keep")
    assert vol.array.shape == (4, 512, 512)
    assert any("ct2.dcm (pixel data is truncated" in w for w in vol.warnings)
    assert any("1 slice(s) seem to be missing" in w for w in vol.warnings)  # the gap it leaves
    filled = dicom.read(tmp_path)  # CT: the gap is interpolated onto the regular grid
    assert filled.array.shape == (5, 512, 512) and "resampled" in filled.metadata


def test_undecodable_compressed_file_in_a_folder_is_left_out(tmp_path):
    files = sorted(shared_data("ct-jpeg2000", "dicom").iterdir())[:4]
    for n, src in enumerate(files):
        shutil.copyfile(src, tmp_path / f"ct{n}.dcm")
    data = bytearray(files[3].read_bytes())
    start = data.find(b"\xff\x4f\xff\x51")  # the J2K codestream
    data[start + 200 : start + 400] = b"\x00" * 200
    (tmp_path / "ct3.dcm").write_bytes(bytes(data))
    vol = dicom.read(tmp_path)
    assert vol.array.shape == (3, 512, 512)
    assert any("could not be decoded: ct3.dcm" in w for w in vol.warnings)
    reference = dicom.read(shared_data("ct-jpeg2000", "dicom"))
    k = np.rint(reference.world_to_index_points(vol.origin)[2]).astype(int)
    assert np.array_equal(vol.array[0], reference.array[k])


def test_cli_info_lists_the_series(tmp_path, capsys):
    root = dicomdir_tree()
    assert main(["info", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("series found:  24")
    assert "'Routine Brain'" in out and "[localizer" not in out
    assert sum(line.startswith(" * ") for line in out.splitlines()) == 1
    assert main(["info", str(root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["series"]) == 24
    assert {"id", "series_instance_uid", "description", "modality", "rows", "columns",
            "images"} <= set(summary["series"][0])  # fmt: skip
    uid = next(s["id"] for s in summary["series"] if s["description"] == "Routine Brain")
    assert main(["info", str(root), "--series", uid, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["series_description"] == "Routine Brain"
