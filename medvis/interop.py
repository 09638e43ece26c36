"""Conversions between :class:`~medvis.volume.Volume` and nibabel / SimpleITK images.

nibabel speaks RAS and stores data Fortran-ordered ``(x, y, z[, t])``; SimpleITK speaks
LPS and hands out C-ordered ``(z, y, x)`` arrays. Both keep the storage order: nothing
here reorients, so a flipped (determinant -1) image stays flipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from medvis import geometry
from medvis.volume import Layout, Volume

__all__ = [
    "spatial_to_c_order",
    "nibabel_to_volume",
    "volume_to_nibabel",
    "sitk_to_volume",
    "volume_to_sitk",
    "volume_from_numpy",
]


def spatial_to_c_order(
    data: NDArray[Any], *, components: bool = False
) -> tuple[NDArray[Any], Layout]:
    """Turn nibabel's ``(x, y, z, ...)`` array into medvis's C-ordered layout.

    Parameters
    ----------
    data : ndarray
        Shape (X, Y), (X, Y, Z), (X, Y, Z, T) or higher; extra dimensions beyond the
        fourth are folded into frames in Fortran order (T varies fastest).
    components : bool
        Treat the 4th dimension as components per voxel (layout "kjic") rather than frames.

    Returns
    -------
    array, layout
        ``array[k, j, i]`` ("kji"), ``array[t, k, j, i]`` ("tkji") or ``array[k, j, i, c]``.
        A Fortran-contiguous input gives a view (no copy) for "kji" and "tkji".
    """
    if data.ndim < 2:
        raise ValueError(f"need at least 2 dimensions, got shape {data.shape}")
    if data.ndim == 2:
        data = data[:, :, np.newaxis]
    if data.ndim > 4:
        # (X, Y, Z, 1, C) vector images and (X, Y, Z, T, U) series: fold the tail.
        tail = int(np.prod(data.shape[3:]))
        data = data.reshape((*data.shape[:3], tail), order="F")
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 3:
        return np.ascontiguousarray(data.T), "kji"
    if components:
        return np.ascontiguousarray(data.transpose(2, 1, 0, 3)), "kjic"
    return np.ascontiguousarray(data.T), "tkji"


def nibabel_to_volume(
    image: Any, *, source: str | None = None, data: NDArray[Any] | None = None, **metadata: Any
) -> Volume:
    """Build a volume from a nibabel spatial image (RAS affine -> LPS, voxels scaled).

    Parameters
    ----------
    image : nibabel.spatialimages.SpatialImage
        Any nibabel image with ``dataobj`` and ``affine``.
    source : str, optional
        The file it came from.
    data : ndarray, optional
        The voxels in nibabel's axis order when the caller has already read (or
        reordered) them; by default ``image.dataobj``.
    **metadata
        Extra metadata entries.
    """
    if data is None:
        data = np.asanyarray(image.dataobj)
    if isinstance(data, np.memmap):
        data = np.array(data)
    data = np.asarray(data)
    array, layout = spatial_to_c_order(data)
    return Volume.from_affine(
        array, image.affine, world="RAS", layout=layout, metadata=metadata, source=source
    )


def _volume_to_xyz(volume: Volume) -> NDArray[Any]:
    """nibabel-ordered view (x, y, z[, t]) of a volume's voxels."""
    if volume.layout == "kjic":
        return volume.array.transpose(2, 1, 0, 3)
    return volume.array.T


def volume_to_nibabel(volume: Volume) -> Any:
    """A ``nibabel.Nifti1Image`` with the volume's voxels (a view) and RAS affine.

    Both sform and qform are set (code 1, scanner) when the direction is orthonormal;
    a sheared direction can only be stored in the sform.
    """
    import nibabel as nib

    affine = geometry.lps_to_ras_affine(volume.index_to_world)
    data = _volume_to_xyz(volume)
    if volume.layout == "kjic":
        data = data[:, :, :, np.newaxis, :]  # NIfTI keeps vector components in dim 5
    image = nib.Nifti1Image(data, affine)
    header = image.header
    header.set_sform(affine, code=1)
    if geometry.is_orthonormal(volume.direction):
        header.set_qform(affine, code=1)
    else:
        header.set_qform(None, code=0)
    header.set_xyzt_units("mm", "sec")
    if volume.layout == "kjic":
        header.set_intent("vector")
    return image


def sitk_to_volume(image: Any, *, source: str | None = None, **metadata: Any) -> Volume:
    """Build a volume from a ``SimpleITK.Image`` (2-D or 3-D; vector pixels become components)."""
    import SimpleITK as sitk

    dim = image.GetDimension()
    if dim not in (2, 3, 4):
        raise ValueError(f"SimpleITK image of dimension {dim} is not supported")
    array = sitk.GetArrayFromImage(image)  # a copy, so the Volume outlives the image
    components = image.GetNumberOfComponentsPerPixel() > 1
    spacing = list(image.GetSpacing())
    origin = list(image.GetOrigin())
    direction = np.asarray(image.GetDirection(), float).reshape(dim, dim)
    layout: Layout = "kji"
    if dim == 2:
        array = array[np.newaxis]
        spacing, origin = [*spacing, 1.0], [*origin, 0.0]
        full = np.eye(3)
        full[:2, :2] = direction
        direction = full
    elif dim == 4:
        if components:
            raise ValueError("4-D vector images are not supported")
        layout = "tkji"
        spacing, origin = spacing[:3], origin[:3]
        direction = direction[:3, :3]
    if components and dim != 4:
        if array.ndim == 3:  # 2-D vector image promoted above
            array = array[..., np.newaxis]
        layout = "kjic"
    return Volume(
        np.ascontiguousarray(array),
        spacing=np.asarray(spacing, float),
        origin=np.asarray(origin, float),
        direction=direction,
        layout=layout,
        metadata=metadata,
        source=source,
    )


def volume_to_sitk(volume: Volume) -> Any:
    """A ``SimpleITK.Image`` (copy) with the volume's voxels and LPS geometry.

    Frames ("tkji") become a 4-D image whose fourth spacing is 1.
    """
    import SimpleITK as sitk

    if volume.layout == "tkji":
        image = sitk.GetImageFromArray(volume.array, isVector=False)
        direction = np.eye(4)
        direction[:3, :3] = volume.direction
        image.SetSpacing([*volume.spacing.tolist(), 1.0])
        image.SetOrigin([*volume.origin.tolist(), 0.0])
        image.SetDirection(direction.ravel().tolist())
        return image
    image = sitk.GetImageFromArray(volume.array, isVector=volume.layout == "kjic")
    image.SetSpacing(volume.spacing.tolist())
    image.SetOrigin(volume.origin.tolist())
    image.SetDirection(volume.direction.ravel().tolist())
    return image


def volume_from_numpy(
    array: NDArray[Any],
    *,
    spacing: Any = (1.0, 1.0, 1.0),
    origin: Any = (0.0, 0.0, 0.0),
    direction: Any = None,
    axis_order: str = "kji",
) -> Volume:
    """Wrap a numpy array as a volume.

    Parameters
    ----------
    array : ndarray
        3-D voxels.
    spacing, origin, direction
        Geometry in LPS (direction defaults to identity).
    axis_order : {"kji", "ijk"}
        "kji" for C-ordered ``array[k, j, i]`` (SimpleITK, VTK); "ijk" for
        ``array[i, j, k]`` (nibabel, MATLAB), which is transposed (a view).
    """
    arr = np.asarray(array)
    if axis_order == "ijk":
        arr = arr.T
    elif axis_order != "kji":
        raise ValueError(f"axis_order must be 'kji' or 'ijk', not {axis_order!r}")
    return Volume(
        arr,
        spacing=spacing,
        origin=origin,
        direction=np.eye(3) if direction is None else direction,
    )
