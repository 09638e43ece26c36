"""The Volume value object, geometry helpers, the VTK bridge and nibabel/SimpleITK interop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import medvis
from medvis import geometry
from medvis.interop import volume_from_numpy
from medvis.phantoms import chest_phantom


def _rotated(flip: bool = False) -> np.ndarray:
    rot = Rotation.from_euler("xyz", [20, -35, 50], degrees=True).as_matrix()
    if flip:
        rot[:, 1] *= -1
    return rot


def test_index_to_world_matches_definition() -> None:
    direction = _rotated(flip=True)
    vol = medvis.Volume(
        np.zeros((4, 5, 6), np.int16),
        spacing=(0.5, 1.5, 3.0),
        origin=(10, -20, 30),
        direction=direction,
    )
    ijk = np.array([2.0, 3.0, 1.0])
    expected = np.array([10, -20, 30]) + direction @ (np.array([0.5, 1.5, 3.0]) * ijk)
    assert np.allclose(vol.index_to_world @ [*ijk, 1], [*expected, 1])
    assert np.allclose(vol.index_to_world_points(ijk), expected)
    assert np.allclose(vol.world_to_index_points(expected), ijk)
    assert vol.is_flipped
    assert vol.shape_ijk == (6, 5, 4)


@pytest.mark.parametrize(
    ("direction", "codes"),
    [
        (np.eye(3), "LPS"),
        (np.diag([-1.0, -1.0, 1.0]), "RAS"),
        (np.diag([-1.0, 1.0, 1.0]), "RPS"),
        (np.diag([1.0, -1.0, 1.0]), "LAS"),
        (np.array([[0, 0, 1], [1, 0, 0], [0, -1, 0]], float), "PIL"),
    ],
)
def test_axis_codes(direction: np.ndarray, codes: str) -> None:
    assert geometry.axis_codes(direction) == codes


def test_axis_codes_agree_with_nibabel() -> None:
    import nibabel as nib

    rng = np.random.default_rng(3)
    for _ in range(50):
        rot = Rotation.random(random_state=rng).as_matrix() * rng.choice([-1, 1], 3)
        ras = geometry.LPS_TO_RAS[:3, :3] @ rot
        affine = np.eye(4)
        affine[:3, :3] = ras
        # nibabel answers in RAS-world letters, which name the same anatomy.
        assert geometry.axis_codes(rot) == "".join(nib.aff2axcodes(affine))


def test_geometry_affine_roundtrip_with_shear() -> None:
    affine = np.array([[0.9, 0.1, 0.0, 5], [0.0, 1.1, 0.2, -3], [0.0, 0.0, 2.5, 7], [0, 0, 0, 1]])
    spacing, origin, direction = geometry.geometry_from_affine(affine)
    assert np.allclose(geometry.affine_from_geometry(spacing, origin, direction), affine)
    assert not geometry.is_orthonormal(direction)
    with pytest.raises(ValueError):
        geometry.geometry_from_affine(np.diag([1.0, 0.0, 1.0, 1.0]))


def test_volume_validation() -> None:
    with pytest.raises(ValueError, match="spacing"):
        medvis.Volume(np.zeros((2, 2, 2)), spacing=(1, 0, 1))
    with pytest.raises(ValueError, match="singular"):
        medvis.Volume(np.zeros((2, 2, 2)), direction=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="layout"):
        medvis.Volume(np.zeros((2, 2, 2)), layout="tkji")
    fortran = np.asfortranarray(np.arange(24).reshape(2, 3, 4))
    vol = medvis.Volume(fortran)
    assert vol.array.flags.c_contiguous and np.array_equal(vol.array, fortran)
    with pytest.raises(ValueError):
        vol.spacing[0] = 3.0  # geometry is read-only


def test_frames_and_components() -> None:
    frames = medvis.Volume(np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5), layout="tkji")
    assert frames.n_frames == 2 and frames.shape_ijk == (5, 4, 3)
    second = frames.frame(1)
    assert second.layout == "kji" and np.shares_memory(second.array, frames.array)
    assert np.array_equal(second.array, frames.array[1])
    rgb = medvis.Volume(np.zeros((3, 4, 5, 3), np.uint8), layout="kjic")
    assert rgb.n_components == 3 and rgb.shape_ijk == (5, 4, 3)
    with pytest.raises(IndexError):
        frames.frame(2)


def test_from_affine_ras() -> None:
    ras = np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])
    vol = medvis.Volume.from_affine(np.zeros((3, 4, 5)), ras, world="RAS")
    assert np.allclose(vol.index_to_world, np.diag([-1, -1, 1, 1]) @ ras)
    # i runs along RAS -x (patient left), j along RAS +y (anterior): the usual NIfTI "LAS".
    assert vol.axis_codes == "LAS"
    assert vol.is_flipped


def test_to_vtk_shares_memory_and_geometry() -> None:
    from vtkmodules.util.numpy_support import vtk_to_numpy

    vol = chest_phantom(shape_ijk=(20, 16, 12), spacing=(3, 4, 5), direction=_rotated(True))
    image = vol.to_vtk()
    scalars = vtk_to_numpy(image.GetPointData().GetScalars())
    assert np.shares_memory(scalars, vol.array)
    assert image.GetDimensions() == vol.shape_ijk
    assert np.allclose(image.GetSpacing(), vol.spacing)
    assert np.allclose(image.GetOrigin(), vol.origin)
    matrix = image.GetDirectionMatrix()
    got = np.array([[matrix.GetElement(r, c) for c in range(3)] for r in range(3)])
    assert np.allclose(got, vol.direction)
    # VTK's own index->physical agrees with ours at an arbitrary voxel.
    point = [0.0, 0.0, 0.0]
    image.TransformIndexToPhysicalPoint(7, 3, 9, point)
    assert np.allclose(point, vol.index_to_world_points([7, 3, 9]))
    # The voxel VTK sees at (i, j, k) is array[k, j, i].
    assert image.GetScalarComponentAsDouble(7, 3, 9, 0) == vol.array[9, 3, 7]
    vol.array[9, 3, 7] = 1234
    assert image.GetScalarComponentAsDouble(7, 3, 9, 0) == 1234


def test_from_vtk_roundtrip_and_extent_offset() -> None:
    vol = chest_phantom(shape_ijk=(20, 16, 12), spacing=(3, 4, 5), direction=_rotated())
    back = medvis.Volume.from_vtk(vol.to_vtk())
    assert np.array_equal(back.array, vol.array)
    assert np.allclose(back.index_to_world, vol.index_to_world)
    # An image whose extent does not start at 0 (as filters produce) keeps its world place.
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData

    sub = np.ascontiguousarray(vol.array[3:9, 2:10, 4:11])
    image = vtkImageData()
    image.SetExtent(4, 10, 2, 9, 3, 8)
    image.SetSpacing(*vol.spacing)
    image.SetOrigin(*vol.origin)
    image.SetDirectionMatrix(*vol.direction.ravel())
    image.GetPointData().SetScalars(numpy_to_vtk(sub.ravel(), deep=True))
    cropped = medvis.Volume.from_vtk(image)
    assert np.array_equal(cropped.array, sub)
    assert np.allclose(cropped.origin, vol.index_to_world_points([4, 2, 3]))
    assert np.allclose(
        cropped.index_to_world_points([1, 1, 1]), vol.index_to_world_points([5, 3, 4])
    )


def test_rgb_to_vtk_components() -> None:
    rgb = medvis.Volume(np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3), layout="kjic")
    image = rgb.to_vtk()
    assert image.GetPointData().GetScalars().GetNumberOfComponents() == 3
    assert image.GetScalarComponentAsDouble(3, 2, 1, 2) == rgb.array[1, 2, 3, 2]


def test_sitk_roundtrip() -> None:
    import SimpleITK as sitk

    vol = chest_phantom(shape_ijk=(20, 16, 12), spacing=(3, 4, 5), direction=_rotated(True))
    image = vol.to_sitk()
    assert image.GetSize() == vol.shape_ijk
    index = (7, 3, 9)
    assert np.allclose(image.TransformIndexToPhysicalPoint(index), vol.index_to_world_points(index))
    assert image[index] == vol.array[9, 3, 7]
    back = medvis.Volume.from_sitk(image)
    assert np.array_equal(back.array, vol.array)
    assert np.allclose(back.index_to_world, vol.index_to_world)
    assert sitk.GetArrayViewFromImage(image).shape == vol.array.shape


def test_nibabel_roundtrip() -> None:
    vol = chest_phantom(shape_ijk=(20, 16, 12), spacing=(3, 4, 5), direction=_rotated(True))
    image = vol.to_nibabel()
    assert np.allclose(image.affine, geometry.LPS_TO_RAS @ vol.index_to_world)
    assert np.asanyarray(image.dataobj)[7, 3, 9] == vol.array[9, 3, 7]
    back = medvis.Volume.from_nibabel(image)
    assert np.array_equal(back.array, vol.array)
    assert np.allclose(back.index_to_world, vol.index_to_world)


def test_volume_from_numpy_ijk_order() -> None:
    data = np.arange(24).reshape(2, 3, 4)  # [i, j, k]
    vol = volume_from_numpy(data, axis_order="ijk", spacing=(1, 2, 3))
    assert vol.shape_ijk == (2, 3, 4)
    assert vol.array[3, 2, 1] == data[1, 2, 3]
