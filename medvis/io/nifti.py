"""NIfTI-1 and NIfTI-2: ``.nii``, ``.nii.gz`` and ``.hdr``/``.img`` pairs.

The header is parsed by nibabel (its sform/qform choice, its scaling rules); the voxel
bytes are read by medvis straight into one array (ISA-L gunzip for ``.nii.gz``), then
viewed in C order ``(k, j, i)`` without a copy. The RAS affine becomes LPS here.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from medvis.errors import HeaderError, MissingFileError, WrongMagicError
from medvis.interop import spatial_to_c_order, volume_to_nibabel
from medvis.io._files import (
    GZIP_MAGIC,
    atomic_output,
    check_allocation,
    gunzip_into,
    read_head,
    read_raw_checked,
    split_name,
)
from medvis.io.registry import Reader, Writer
from medvis.volume import Layout, Volume

__all__ = ["READER", "WRITER", "nifti_version", "read_nifti", "write_nifti"]

_SINGLE_MAGIC = {b"n+1\0": 1, b"n+2\0": 2}
_PAIR_MAGIC = {b"ni1\0": 1, b"ni2\0": 2}
_INTENT_VECTOR = 1007
_XFORM_NAMES = {0: "unknown", 1: "scanner", 2: "aligned", 3: "talairach", 4: "mni", 5: "template"}


def nifti_version(head: bytes) -> tuple[int, bool] | None:
    """NIfTI version and whether it is a pair (``.hdr``/``.img``), from header bytes.

    Returns None when the bytes are not a NIfTI header.
    """
    if len(head) >= 348:
        for order in ("<", ">"):
            if int.from_bytes(head[:4], "little" if order == "<" else "big") == 348:
                magic = head[344:348]
                if magic in _SINGLE_MAGIC:
                    return 1, False
                if magic in _PAIR_MAGIC:
                    return 1, True
    if len(head) >= 12:
        for byteorder in ("little", "big"):
            if int.from_bytes(head[:4], byteorder) == 540:
                magic = head[4:8]
                if magic in _SINGLE_MAGIC:
                    return 2, False
                if magic in _PAIR_MAGIC:
                    return 2, True
    return None


def _pair_paths(path: Path) -> tuple[Path, Path]:
    """Header and image paths of a ``.hdr``/``.img`` pair given either half."""
    stem, ext = split_name(path)
    gz = ".gz" if ext.endswith(".gz") else ""
    is_upper = path.suffix.isupper()
    hdr_ext, img_ext = (".HDR", ".IMG") if is_upper else (".hdr", ".img")
    base = path.with_name(stem)
    hdr = Path(f"{base}{hdr_ext}{gz}")
    img = Path(f"{base}{img_ext}{gz}")
    if not hdr.exists():
        hdr = Path(f"{base}{hdr_ext}")
    if not img.exists():
        for candidate in (Path(f"{base}{img_ext}"), Path(f"{base}{img_ext}.gz")):
            if candidate.exists():
                img = candidate
                break
    return hdr, img


def header_path(path: Path) -> Path:
    """The file that holds the header: ``path`` itself or the ``.hdr`` of an ``.img``."""
    _, ext = split_name(path)
    if ext in (".img", ".img.gz"):
        return _pair_paths(path)[0]
    return path


def _can_read(path: Path, head: bytes) -> bool:
    hdr = header_path(path)
    if hdr != path:
        if not hdr.exists():
            return False
        head = read_head(hdr)
    found = nifti_version(head)
    return found is not None


def _parse_header(path: Path, head: bytes, version: int) -> Any:
    import nibabel as nib

    header_class = nib.Nifti1Header if version == 1 else nib.Nifti2Header
    size = 348 if version == 1 else 540
    try:
        return header_class.from_fileobj(io.BytesIO(head[:size]), check=False)
    except Exception as exc:  # nibabel raises several types for bad headers
        raise HeaderError(path, f"unreadable NIfTI-{version} header ({exc})") from None


def _affine_source(header: Any) -> str:
    if header["sform_code"] > 0:
        return "sform"
    if header["qform_code"] > 0:
        return "qform"
    return "fallback (pixdim only)"


def _scale(path: Path, raw: np.ndarray, header: Any) -> np.ndarray:
    """Apply scl_slope/scl_inter as nibabel does (no-op when unset or identity)."""
    slope, inter = header.get_slope_inter()
    if slope is None or (slope == 1.0 and (inter is None or inter == 0.0)):
        return raw
    inter = 0.0 if inter is None else inter
    out_dtype = np.float64 if raw.dtype.itemsize > 2 or raw.dtype.kind == "f" else np.float32
    if raw.dtype == out_dtype and raw.flags.writeable:
        out = raw
    else:
        out = raw.astype(out_dtype)
    out *= out_dtype(slope)
    out += out_dtype(inter)
    return out


def read_nifti(path: Path, **_options: Any) -> Volume:
    """Read a NIfTI-1/2 single file or pair into a volume.

    Raises
    ------
    HeaderError, TruncatedFileError, CorruptFileError, ImageTooLargeError
        With the file named and the reason.
    """
    hdr_path = header_path(path)
    if not hdr_path.exists():
        raise MissingFileError(hdr_path, f"header of the image {path.name} is missing")
    head = read_head(hdr_path, 1024)
    found = nifti_version(head)
    if found is None:
        raise WrongMagicError(hdr_path, "not a NIfTI header (sizeof_hdr / magic do not match)")
    version, is_pair = found
    header = _parse_header(hdr_path, head, version)
    img_path = _pair_paths(path)[1] if is_pair else hdr_path
    if is_pair and not img_path.exists():
        raise MissingFileError(img_path, f"image data of the header {hdr_path.name} is missing")
    try:
        shape = tuple(int(n) for n in header.get_data_shape())
        dtype = header.get_data_dtype()
        offset = 0 if is_pair else int(header.get_data_offset())
    except Exception as exc:
        raise HeaderError(hdr_path, f"inconsistent NIfTI header ({exc})") from None
    if not shape or any(n <= 0 for n in shape):
        raise HeaderError(hdr_path, f"header declares an empty or invalid shape {shape}")
    check_allocation(img_path, shape, dtype)
    count = int(np.prod(shape, dtype=np.int64))
    data = _read_voxels(img_path, dtype, count, offset)
    if dtype.fields is None and not dtype.isnative:
        data = data.byteswap(inplace=True).view(dtype.newbyteorder("="))
    data = _scale(img_path, data, header)
    if dtype.fields is not None and set(dtype.names or ()) >= {"R", "G", "B"}:
        # Interleaved colour: memory runs c fastest, then x, y, z, so the C-ordered
        # view (z, y, x, c) is exactly medvis's "kjic" layout.
        channels = len(dtype.names or ())
        flat = np.ascontiguousarray(data).view(np.uint8)
        spatial = shape[:3] + (1,) * (3 - len(shape[:3]))
        if count != int(np.prod(spatial)):
            raise HeaderError(hdr_path, f"colour NIfTI with more than 3 dimensions {shape}")
        array = flat.reshape((*spatial[::-1], channels))
        layout: Layout = "kjic"
    else:
        vector = int(header["intent_code"]) == _INTENT_VECTOR and len(shape) == 5
        array, layout = spatial_to_c_order(data.reshape(shape, order="F"), components=vector)
    metadata = _metadata(header, version, is_pair, path)
    try:
        affine_ras = np.asarray(header.get_best_affine(), float)
    except Exception as exc:  # nibabel raises several types for bad q/sform fields
        raise HeaderError(hdr_path, f"NIfTI header has no usable affine ({exc})") from None
    try:
        return Volume.from_affine(
            array, affine_ras, world="RAS", layout=layout, metadata=metadata, source=str(path)
        )
    except ValueError as exc:  # a zero-length or non-finite axis
        raise HeaderError(hdr_path, f"NIfTI header has no usable affine ({exc})") from None


def _read_voxels(path: Path, dtype: np.dtype[Any], count: int, offset: int) -> np.ndarray:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == GZIP_MAGIC:
        out = np.empty(count, dtype=dtype)
        gunzip_into(path, out, skip=offset)
        return out
    return read_raw_checked(path, dtype, count, offset)


def _metadata(header: Any, version: int, is_pair: bool, path: Path) -> dict[str, Any]:
    def text(field: str) -> str:
        return bytes(header[field]).split(b"\0", 1)[0].decode("latin-1").strip()

    slope, inter = header.get_slope_inter()
    units = header.get_xyzt_units()
    return {
        "format": f"NIfTI-{version}" + (" pair" if is_pair else ""),
        "datatype": str(header.get_data_dtype()),
        "bits_allocated": int(header["bitpix"]),
        "affine_source": _affine_source(header),
        "sform_code": _XFORM_NAMES.get(int(header["sform_code"]), str(int(header["sform_code"]))),
        "qform_code": _XFORM_NAMES.get(int(header["qform_code"]), str(int(header["qform_code"]))),
        "scl_slope": None if slope is None else float(slope),
        "scl_inter": None if inter is None else float(inter),
        "cal_min": float(header["cal_min"]),
        "cal_max": float(header["cal_max"]),
        "intent_code": int(header["intent_code"]),
        "description": text("descrip"),
        "spatial_units": units[0],
        "time_units": units[1],
        "frame_interval": float(header["pixdim"][4]) if header["dim"][0] >= 4 else None,
        "compressed": split_name(path)[1].endswith(".gz"),
    }


def write_nifti(volume: Volume, path: Path, *, force: bool = False, **_options: Any) -> None:
    """Write a volume as ``.nii`` or ``.nii.gz`` (sform and qform set, RAS as NIfTI requires).

    NIfTI stores the affine as float32: geometry round-trips to about 1e-5 relative.
    """
    import nibabel as nib

    image = volume_to_nibabel(volume)
    with atomic_output(path, force=force) as tmp:
        nib.save(image, str(tmp))


READER = Reader(
    name="NIfTI",
    extensions=(".nii", ".nii.gz", ".hdr", ".img", ".img.gz", ".hdr.gz"),
    can_read=_can_read,
    read=read_nifti,
)
WRITER = Writer(name="NIfTI-1", extensions=(".nii", ".nii.gz"), write=write_nifti)
