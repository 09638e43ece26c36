"""Volume pictures without an OpenGL context: same pixels as OpenGL, no GL library loaded,
and the orientation cube painted in numpy facing the right way."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from tests._gl import run_program
from tests.test_render import PROBE, SUBSET, oblique_copy
from tests.test_reslice import _rotation, storage_variant

OBLIQUE_CAMERA = {"position": (350, -750, 300), "focal_point": (0, 0, 0), "view_up": (0, 0, 1)}


def _both_paths(gl, volume, *, preset=PROBE, camera=OBLIQUE_CAMERA, turn=None, **options):
    """The same scene drawn without and with OpenGL (two frames each when ``turn``)."""
    pictures = {}
    for opengl in (False, True):
        scene = gl.OffscreenScene(opengl=opengl, **options)
        scene.add_volume(volume, preset, mapper="cpu")
        scene.set_camera(camera)
        frames = [scene.render()]
        if turn is not None:
            camera_ = scene.renderer.GetActiveCamera()
            camera_.Azimuth(turn[0])
            camera_.Elevation(turn[1])
            camera_.OrthogonalizeViewUp()
            scene.renderer.ResetCameraClippingRange()
            frames.append(scene.render())
        assert scene.needs_opengl() is opengl
        scene.close()
        pictures[opengl] = frames
    return pictures[False], pictures[True]


def _assert_same(without, with_gl, what):
    diff = np.abs(without.astype(int) - with_gl.astype(int))
    # 8-bit rounding of the same floating-point blend: at most one level apart.
    assert diff.max() <= 1, (what, diff.max(), (diff > 1).sum())


def test_same_pixels_as_opengl(gl, phantom):
    without, with_gl = _both_paths(
        gl, phantom, size=(150, 120), background=(0.1, 0.2, 0.3), turn=(40, 25)
    )
    assert (without[0].max(axis=2) > 80).mean() > 0.05  # something was drawn
    assert np.abs(without[0].astype(int) - without[1]).mean() > 2  # the turn changed it
    for index, (a, b) in enumerate(zip(without, with_gl, strict=True)):
        _assert_same(a, b, f"frame {index}")


@pytest.mark.parametrize("index", [0, 3, 7, 10])
def test_same_pixels_as_opengl_for_mirrored_and_permuted_storage(gl, phantom, index):
    perm, flips = SUBSET[index]
    variant = storage_variant(phantom, perm, flips)
    without, with_gl = _both_paths(gl, variant, size=(96, 96), orientation_marker=False)
    _assert_same(without[0], with_gl[0], (perm, flips, np.linalg.det(variant.direction)))


def test_same_pixels_as_opengl_oblique_mip_and_crop(gl, phantom):
    oblique = oblique_copy(phantom, _rotation((1, 2, 3), 25), spacing=6.0)
    without, with_gl = _both_paths(
        gl, oblique, preset="CT-MIP", camera="left", size=(90, 110), orientation_marker=False
    )
    _assert_same(without[0], with_gl[0], "oblique MIP")
    cropped = {}
    for opengl in (False, True):
        scene = gl.OffscreenScene(size=(96, 96), opengl=opengl, orientation_marker=False)
        scene.add_volume(phantom, PROBE, mapper="cpu", crop=[-200, 60, -200, 200, -300, 300])
        scene.set_camera("anterior")
        cropped[opengl] = scene.render()
    _assert_same(cropped[False], cropped[True], "cropped")


def test_same_pixels_as_opengl_with_final_colour_window(gl, phantom):
    pictures = {}
    for opengl in (False, True):
        scene = gl.OffscreenScene(size=(80, 80), opengl=opengl, orientation_marker=False)
        prop = scene.add_volume(phantom, PROBE, mapper="cpu")
        prop.GetMapper().SetFinalColorWindow(0.6)
        prop.GetMapper().SetFinalColorLevel(0.4)
        scene.set_camera(OBLIQUE_CAMERA)
        pictures[opengl] = scene.render()
    plain = gl.render_volume(
        phantom, preset=PROBE, camera=OBLIQUE_CAMERA, size=(80, 80), orientation_marker=False
    )
    assert np.abs(pictures[False].astype(int) - plain).max() > 40  # the window did something
    _assert_same(pictures[False], pictures[True], "final colour window")


def test_opengl_only_when_a_layer_needs_it(gl, phantom):
    from medvis.pipeline.reslice import reslice
    from medvis.pipeline.windowing import WINDOWS

    scene = gl.OffscreenScene(size=(64, 64))
    prop = scene.add_volume(phantom, "CT-Lung", mapper="cpu")  # the body is see-through
    assert not scene.needs_opengl()
    alone = scene.render()
    assert prop.GetMapper().GetIntermixIntersectingGeometry()  # left as it was
    scene.add_slice(reslice(phantom, "coronal"), WINDOWS["lung"])  # faces the camera
    assert scene.needs_opengl()
    with_plane = scene.render()
    assert np.abs(with_plane.astype(int) - alone).max() > 50  # the plane shows

    refusing = gl.OffscreenScene(size=(64, 64), opengl=False)
    refusing.add_volume(phantom, "CT-Bone", mapper="cpu")
    refusing.add_volume(phantom, "CT-Lung", mapper="cpu")
    with pytest.raises(ValueError, match="one volume"):
        refusing.render()


def test_unsupported_blend_is_a_render_error(gl, phantom):
    scene = gl.OffscreenScene(size=(48, 48), orientation_marker=False)
    scene.add_volume(phantom, "CT-Bone", mapper="cpu", blend="average")
    with pytest.raises(gl.RenderError, match="composite, maximum and minimum"):
        scene.render()


NO_GL_PROGRAM = textwrap.dedent(
    """
    import medvis.render as render
    from medvis.phantoms import chest_phantom
    rgb = render.render_volume(
        chest_phantom(shape_ijk=(32, 28, 20), spacing=(10, 10, 12)), size=(64, 64), mapper="cpu"
    )
    assert rgb.shape == (64, 64, 3) and rgb.any()
    with open("/proc/self/maps") as maps:
        names = {line.split()[-1].rsplit("/", 1)[-1] for line in maps if "/" in line}
    print("GL:", sorted(n for n in names if n.startswith(("libEGL", "libGLX", "libLLVM", "swrast", "libOSMesa", "libgallium"))))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_volume_picture_loads_no_opengl_library():
    done = run_program(NO_GL_PROGRAM)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "GL: []" in done.stdout, done.stdout


# ------------------------------------------------------------ the orientation cube
def _cube(gl, camera, *, size=200):
    """The marker alone on black: (picture, marker box of side 40 px at the lower left)."""
    from vtkmodules.vtkRenderingCore import vtkCamera

    from medvis.render.marker import draw_orientation_cube

    vtk_camera = vtkCamera()
    vtk_camera.SetPosition(*camera[0])
    vtk_camera.SetFocalPoint(0, 0, 0)
    vtk_camera.SetViewUp(*camera[1])
    rgb = np.zeros((size, size, 3), np.uint8)
    draw_orientation_cube(rgb, vtk_camera)
    side = size // 5
    return rgb, rgb[size - side :, :side].astype(int)


def _dominant(pixel) -> str:
    return "RGB"[int(np.argmax(pixel))]


@pytest.mark.parametrize(
    ("position", "up", "face_color"),
    [
        ((0, -1, 0), (0, 0, 1), "G"),  # anterior view: the A face (y axis: green)
        ((0, 1, 0), (0, 0, 1), "G"),  # posterior: P
        ((1, 0, 0), (0, 0, 1), "R"),  # from the patient's left: L (x axis: red)
        ((0, 0, 1), (0, -1, 0), "B"),  # from above: S (z axis: blue)
    ],
)
def test_cube_shows_the_face_towards_the_camera(gl, position, up, face_color):
    rgb, box = _cube(gl, (position, up))
    assert rgb[: 200 - 40].max() == 0 and rgb[:, 40:].max() == 0  # only the corner is painted
    ring = box[8:32, 8:32]
    edge_colors = [box[12, 12], box[12, 27], box[27, 12], box[27, 27]]  # face, off the letter
    assert all(_dominant(p) == face_color for p in edge_colors), edge_colors
    assert (ring.min(axis=2) > 200).sum() > 20  # a light letter in the middle


def test_cube_sides_are_where_the_patient_is(gl):
    # Viewer in front, to the patient's left and above: A faces the viewer, L is on the
    # right of the picture (the patient's left is the viewer's right), S on top.
    _, box = _cube(gl, ((0.8, -1.0, 0.7), (0, 0, 1)), size=400)
    side = box.shape[0]
    left_half = box[side // 2 :, side // 5 : side // 2 - 4].reshape(-1, 3)
    right_half = box[side // 2 :, side // 2 + 4 : 4 * side // 5].reshape(-1, 3)
    top = box[side // 8 : side // 3, side // 3 : 2 * side // 3].reshape(-1, 3)

    def share(pixels, channel):
        lit = pixels[pixels.max(axis=1) > 60]
        return (np.argmax(lit, axis=1) == channel).mean()

    assert share(left_half, 1) > 0.6  # green: the A face
    assert share(right_half, 0) > 0.6  # red: the L face
    assert share(top, 2) > 0.6  # blue: the S face
    # Mirror the viewer to the patient's right: the red face moves to the other side.
    _, mirrored = _cube(gl, ((-0.8, -1.0, 0.7), (0, 0, 1)), size=400)
    left_half = mirrored[side // 2 :, side // 5 : side // 2 - 4].reshape(-1, 3)
    assert share(left_half, 0) > 0.6  # the R face (x axis, red) is now on the left


def test_volume_out_of_view_leaves_the_background(gl, phantom):
    scene = gl.OffscreenScene(size=(64, 48), background=(0.2, 0.4, 0.6), orientation_marker=False)
    scene.add_volume(phantom, "CT-Bone", mapper="cpu")
    scene.set_camera("anterior")
    assert scene.render().std() > 5  # in view: something drawn
    camera = scene.renderer.GetActiveCamera()
    # Slide the camera sideways: the volume is in front of it but outside the picture.
    aside = np.array([3000.0, 0.0, 0.0])
    camera.SetPosition(*(np.array(camera.GetPosition()) + aside))
    camera.SetFocalPoint(*(np.array(camera.GetFocalPoint()) + aside))
    picture = scene.render()
    np.testing.assert_array_equal(picture, np.broadcast_to([51, 102, 153], picture.shape))
    # Out of view from the first frame (the ray caster's image was never filled).
    fresh = gl.OffscreenScene(size=(64, 48), background=(0.2, 0.4, 0.6), orientation_marker=False)
    fresh.add_volume(phantom, "CT-Bone", mapper="cpu")
    fresh.set_camera(
        {"position": tuple(camera.GetPosition()), "focal_point": tuple(camera.GetFocalPoint())}
    )
    np.testing.assert_array_equal(fresh.render(), picture)
