"""Folder scan benchmark: 2,000 DICOM files holding 10 series, headers only.

Usage::

    python benchmarks/dicom_scan_bench.py [--repeats N] [--cache DIR] [--regenerate]

medvis: ``medvis.io.dicom_scan.list_series(folder)`` (walk, header of every file,
series and sub-series grouping). Peer: what a SimpleITK user runs to find the series
and their files, ``sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder)`` then
``GetGDCMSeriesFileNames(folder, uid)`` for every series. Both run in this process, in
interleaved rounds after an untimed warm-up that also checks they find the same 10
series with the same files; the report gives median, min and max and the ratio of the
medians. Exit status 0 whatever the result: a report, not a test.

The data (about 130 MiB) is written once into ``<cache>/dicom-scan-v1/``: 10 CT/MR
series of 200 slices of 128 x 128 int16, explicit VR little endian, each with the usual
type-1/2 elements and a private block, file names random (series mixed in one folder).
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N_SERIES, PER_SERIES, SIZE = 10, 200, 128
TARGET = 0.5  # "well under" SimpleITK: at most half its time


def _write(folder: Path) -> None:
    from datagen import new_image_dataset
    from pydicom.uid import CTImageStorage, MRImageStorage, generate_uid

    rng = np.random.default_rng(2024)
    tmp = folder.with_name(folder.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = [
        f"{n:08X}" for n in rng.permutation(N_SERIES * PER_SERIES * 7)[: N_SERIES * PER_SERIES]
    ]
    study = generate_uid()
    pixels = rng.integers(0, 4096, (SIZE, SIZE), dtype=np.uint16)
    for s in range(N_SERIES):
        ct = s % 2 == 0
        series, frame = generate_uid(), generate_uid()
        for k in range(PER_SERIES):
            ds = new_image_dataset(CTImageStorage if ct else MRImageStorage, generate_uid())
            ds.StudyDate, ds.StudyTime = "20240611", "101500"
            ds.Modality = "CT" if ct else "MR"
            ds.Manufacturer = "medvis benchmark"
            ds.SeriesDescription = f"series {s + 1}"
            ds.PatientName, ds.PatientID = "Bench^Mark", "BENCH01"
            ds.SliceThickness = "1.0"
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.FrameOfReferenceUID = frame
            ds.SeriesNumber, ds.InstanceNumber = s + 1, k + 1
            ds.ImagePositionPatient = [-100.0, -100.0, float(k)]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.SliceLocation = float(k)
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.Rows = ds.Columns = SIZE
            ds.PixelSpacing = [0.8, 0.8]
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.WindowCenter, ds.WindowWidth = 40, 400
            ds.RescaleIntercept, ds.RescaleSlope = (-1024, 1) if ct else (0, 1)
            block = ds.private_block(0x0029, "medvis bench", create=True)
            block.add_new(0x01, "LO", "private value")
            ds.PixelData = pixels.tobytes()
            ds.save_as(tmp / names[s * PER_SERIES + k], enforce_file_format=True)
    tmp.rename(folder)


def _medvis(folder: Path) -> Callable[[], dict[str, list[str]]]:
    def run() -> dict[str, list[str]]:
        from medvis.io import dicom_scan

        notes: list[str] = []
        found = dicom_scan.scan(folder, notes)
        return {sub.uid: sorted(str(s.path) for s in sub.images) for sub in found}

    return run


def _sitk(folder: Path) -> Callable[[], dict[str, list[str]]]:
    def run() -> dict[str, list[str]]:
        import SimpleITK as sitk

        reader = sitk.ImageSeriesReader
        ids = reader.GetGDCMSeriesIDs(str(folder))
        return {uid: sorted(reader.GetGDCMSeriesFileNames(str(folder), uid)) for uid in ids}

    return run


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    """Generate the folder if needed, check both contenders, time them interleaved."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--cache", type=Path, default=HERE / "_cache")
    parser.add_argument("--regenerate", action="store_true", help="write the data again")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))  # benchmark the working tree's medvis
    sys.path.insert(0, str(HERE))
    from run import machine_info

    folder = args.cache / "dicom-scan-v1"
    if args.regenerate:
        shutil.rmtree(folder, ignore_errors=True)
    if not folder.is_dir():
        print(f"writing {N_SERIES * PER_SERIES} files into {folder} ...")
        _write(folder)
    print("DICOM folder scan benchmark (headers only)")
    for key, value in machine_info().items():
        print(f"  {key + ':':<16}{value}")
    print(f"  data:           {folder} ({N_SERIES} series x {PER_SERIES} files, {SIZE}x{SIZE})")
    for path in folder.iterdir():  # warm the page cache
        path.read_bytes()
    contenders = [
        ("medvis dicom_scan.scan", _medvis(folder)),
        ("SimpleITK GetGDCMSeriesIDs + GetGDCMSeriesFileNames x10 (peer)", _sitk(folder)),
    ]
    results = {label: run() for label, run in contenders}  # untimed warm-up and check
    mine, theirs = results.values()
    same = mine == theirs
    print(f"  check: medvis found {len(mine)} series, SimpleITK {len(theirs)}; "
          f"same series and files: {'yes' if same else 'NO'}")  # fmt: skip
    times: dict[str, list[float]] = {label: [] for label, _ in contenders}
    for _ in range(args.repeats):
        for label, run in contenders:
            gc.collect()
            start = time.perf_counter()
            run()
            times[label].append(time.perf_counter() - start)
    width = max(len(label) for label in times) + 2
    print(f"  {'contender':<{width}} {'median':>9} {'min':>9} {'max':>9}  runs")
    for label, values in times.items():
        print(
            f"  {label:<{width}} {_fmt(statistics.median(values)):>9} {_fmt(min(values)):>9} "
            f"{_fmt(max(values)):>9}  {len(values)}"
        )
    medians = [statistics.median(v) for v in times.values()]
    ratio = medians[0] / medians[1]
    verdict = "PASS" if ratio <= TARGET and same else "FAIL"
    print(f"  ratio medvis/SimpleITK (medians) = {ratio:.3f}; target <= {TARGET}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
