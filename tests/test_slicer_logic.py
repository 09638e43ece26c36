"""MedvisLoader's Logic, run under pytest against a STAND-IN for 3D Slicer.

The stand-in (``tests/slicer_standin``) imitates the few slicer/MRML calls the Logic makes,
on real VTK objects; it is injected into ``sys.modules`` as ``slicer``, ``qt`` and ``ctk``.
These tests prove the Logic's arithmetic and its use of that API, not that the module
runs inside a real Slicer (no Slicer binary is reachable here; ``MedvisLoaderTest`` in the
module is what a Slicer user runs).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import vtk
from nibabel.testing import data_path
from vtkmodules.util import numpy_support

import medvis
from medvis.phantoms import chest_phantom
from medvis.pipeline.presets import get_preset
from medvis.pipeline.surfaces import isosurface
from medvis.volume import Volume
from tests import slicer_standin

ROOT = Path(__file__).resolve().parents[1]
MODULE_FILE = ROOT / "slicer_extension" / "MedvisLoader" / "MedvisLoader.py"
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> slicer_standin.StandIn:
    monkeypatch.delenv("MEDVIS_PIP_SPEC", raising=False)
    return slicer_standin.install(monkeypatch)


@pytest.fixture
def module(standin: slicer_standin.StandIn, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """MedvisLoader.py imported with the stand-in in place."""
    spec = importlib.util.spec_from_file_location("MedvisLoader", MODULE_FILE)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "MedvisLoader", loaded)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture
def logic(module: ModuleType) -> Any:
    return module.MedvisLoaderLogic()


def _ijk_to_ras(node: Any) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _rotation(degrees: float, axis: int) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    a, b = [i for i in range(3) if i != axis]
    m = np.eye(3)
    m[a, a], m[a, b], m[b, a], m[b, b] = c, -s, s, c
    return m


DIRECTIONS = {
    "identity": np.eye(3),
    "flipped-LAS": np.diag([-1.0, 1.0, 1.0]),
    "permuted-PIL": np.array([[0.0, 0, 1], [1, 0, 0], [0, -1, 0]]),
    "oblique": _rotation(25, 2) @ _rotation(-10, 0),
    "oblique-flipped": _rotation(30, 1) @ np.diag([1.0, -1.0, 1.0]),
}


# ------------------------------------------------------------------------ volumes
@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_volume_lands_in_node_with_exact_ras_geometry(logic: Any, standin: Any, name: str) -> None:
    array = (np.arange(5 * 6 * 7) - 100).astype(np.int16).reshape(5, 6, 7)
    vol = Volume(
        array, spacing=(0.8, 1.1, 2.5), origin=(10.0, -20.0, 30.0), direction=DIRECTIONS[name]
    )
    node = logic.addVolumeNode(vol, name=name, show=True)

    assert node.GetClassName() == "vtkMRMLScalarVolumeNode"
    assert node.scene is standin.slicer.mrmlScene
    np.testing.assert_allclose(_ijk_to_ras(node), LPS_TO_RAS @ vol.index_to_world, atol=1e-12)
    # Slicer's rule (the stand-in enforces it): image data at origin 0, spacing 1, no direction.
    image = node.GetImageData()
    assert image.GetOrigin() == (0.0, 0.0, 0.0) and image.GetSpacing() == (1.0, 1.0, 1.0)
    assert image.GetDimensions() == vol.shape_ijk
    voxels = standin.slicer.util.arrayFromVolume(node)
    np.testing.assert_array_equal(voxels, vol.array)
    assert voxels.dtype == np.int16
    assert not np.shares_memory(voxels, vol.array)  # Slicer owns its copy
    # Any voxel: RAS from the node == LPS from medvis with x and y negated.
    ijk = np.array([6.0, 0.0, 4.0, 1.0])
    ras = _ijk_to_ras(node) @ ijk
    np.testing.assert_allclose(ras[:3], vol.index_to_world_points(ijk[:3]) * [-1, -1, 1], atol=1e-9)
    # Mirrored storage stays mirrored (Slicer allows a left-handed IJK-to-RAS).
    assert np.sign(np.linalg.det(_ijk_to_ras(node)[:3, :3])) == np.sign(
        np.linalg.det(vol.direction)
    )
    assert standin.slice_layers[-1] == {"background": node, "fit": True}


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_volume_from_node_round_trips(logic: Any, name: str) -> None:
    vol = Volume(
        np.random.default_rng(0).normal(size=(4, 5, 6)).astype(np.float32),
        spacing=(1.5, 0.5, 3.0),
        origin=(-7.0, 3.0, 11.0),
        direction=DIRECTIONS[name],
        metadata={"modality": "MR"},
    )
    back = logic.volumeFromNode(logic.addVolumeNode(vol, name="v"))
    np.testing.assert_allclose(back.index_to_world, vol.index_to_world, atol=1e-12)
    np.testing.assert_array_equal(back.array, vol.array)
    assert back.metadata["modality"] == "MR"


NIBABEL_FILES = [
    ("example4d.nii.gz", 1),  # NIfTI stored LAS (determinant -1), 4-D: frame 1
    ("phantom_EPI_asc_CLEAR_2_1.PAR", 0),  # Philips PAR/REC
    ("minc1_1_scale.mnc", 0),  # MINC1 (netCDF), which Slicer does not read
    ("minc2_1_scale.mnc", 0),
]


@pytest.mark.parametrize(("filename", "frame"), NIBABEL_FILES)
def test_load_real_files_matches_nibabel_ras_affine(
    logic: Any, standin: Any, filename: str, frame: int
) -> None:
    path = Path(data_path) / filename
    if not path.exists():
        pytest.skip(f"{path} is not shipped with this nibabel")
    node = logic.loadVolume(path, frame=frame)
    image = nib.load(str(path))
    # nibabel's affine maps (i, j, k) to RAS, independently of medvis: Slicer's IJK-to-RAS.
    np.testing.assert_allclose(_ijk_to_ras(node), image.affine, atol=1e-4)
    expected = np.asarray(image.dataobj, dtype=float)
    if expected.ndim == 4:
        expected = expected[..., frame]
    voxels = standin.slicer.util.arrayFromVolume(node)
    np.testing.assert_allclose(voxels, np.transpose(expected, (2, 1, 0)), rtol=1e-5, atol=1e-4)
    assert node.GetAttribute("medvis.source") == str(path)
    assert node.GetName() == filename.split(".")[0]


def test_voxel_types_slicer_can_display(logic: Any, standin: Any) -> None:
    as_array = standin.slicer.util.arrayFromVolume
    mask = Volume(np.zeros((2, 3, 4), bool))
    assert as_array(logic.addVolumeNode(mask)).dtype == np.uint8
    big = Volume(np.arange(24, dtype=np.int64).reshape(2, 3, 4))
    assert as_array(logic.addVolumeNode(big)).dtype == np.int32
    swapped = Volume(np.arange(24, dtype=">i2").reshape(2, 3, 4))
    np.testing.assert_array_equal(
        as_array(logic.addVolumeNode(swapped)), np.arange(24).reshape(2, 3, 4)
    )


def test_rgb_volume_gives_vector_node(logic: Any, standin: Any) -> None:
    rgb = Volume(np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3), layout="kjic")
    node = logic.addVolumeNode(rgb)
    assert node.GetClassName() == "vtkMRMLVectorVolumeNode"
    assert node.GetImageData().GetNumberOfScalarComponents() == 3
    np.testing.assert_array_equal(standin.slicer.util.arrayFromVolume(node), rgb.array)


def test_file_window_goes_to_display_node(logic: Any) -> None:
    vol = Volume(
        np.zeros((2, 2, 2), np.int16), metadata={"window_center": -600, "window_width": 1500}
    )
    display = logic.addVolumeNode(vol).GetDisplayNode()
    assert not display.GetAutoWindowLevel()
    assert (display.GetWindow(), display.GetLevel()) == (1500.0, -600.0)
    plain = logic.addVolumeNode(Volume(np.zeros((2, 2, 2), np.int16))).GetDisplayNode()
    assert plain.GetAutoWindowLevel()


def test_load_refuses_empty_path_and_names_the_missing_file(logic: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose a file"):
        logic.loadVolume(Path())
    with pytest.raises(medvis.errors.MissingFileError, match=r"nothing\.nii"):
        logic.loadVolume(tmp_path / "nothing.nii")


# ---------------------------------------------------------------- volume rendering
def _function_points(function: Any, width: int) -> list[tuple[float, ...]]:
    values = [0.0] * (width + 2)
    points = []
    for index in range(function.GetSize()):
        function.GetNodeValue(index, values)
        points.append(tuple(values[:width]))
    return points


def test_apply_preset_copies_the_transfer_functions(logic: Any, standin: Any) -> None:
    node = logic.addVolumeNode(chest_phantom(shape_ijk=(24, 20, 16)), name="chest")
    display = logic.applyPreset(node, "CT-Lung")
    preset = get_preset("CT-Lung")
    assert display.GetVisibility()
    prop_node = display.GetVolumePropertyNode()
    prop = prop_node.GetVolumeProperty()
    np.testing.assert_allclose(_function_points(prop.GetScalarOpacity(), 2), preset.scalar_opacity)
    np.testing.assert_allclose(_function_points(prop.GetRGBTransferFunction(), 4), preset.color)
    assert prop.GetShade() == int(preset.shade)
    assert prop.GetAmbient() == pytest.approx(preset.ambient)
    assert prop_node.effective_range == preset.value_range
    assert prop_node.GetAttribute("medvis.preset") == "CT-Lung"
    view = standin.slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLViewNode")
    assert view.GetRaycastTechnique() == view.Composite
    # The same display node is reused; a MIP preset switches the views' ray casting.
    assert logic.applyPreset(node, "CT-MIP") is display
    assert view.GetRaycastTechnique() == view.MaximumIntensityProjection
    logic.applyPreset(node, get_preset("CT-Bone"), blend="composite", shade=False)
    assert view.GetRaycastTechnique() == view.Composite
    assert prop.GetShade() == 0
    with pytest.raises(KeyError, match="known"):
        logic.applyPreset(node, "no-such-preset")
    with pytest.raises(ValueError, match="blends"):
        logic.applyPreset(node, "CT-Bone", blend="average")


def test_preset_names_come_from_medvis(logic: Any) -> None:
    assert logic.presetNames() == medvis.pipeline.preset_names()


# -------------------------------------------------------------------------- models
def test_model_node_is_in_ras(logic: Any, standin: Any) -> None:
    ct = chest_phantom(
        shape_ijk=(32, 28, 20), spacing=(10.0, 8.0, 15.0), direction=np.diag([-1.0, 1.0, 1.0])
    )
    surface = isosurface(ct, -500.0)  # skin and lung surfaces
    assert surface.GetNumberOfPoints() > 100
    lps = numpy_support.vtk_to_numpy(surface.GetPoints().GetData()).copy()
    normals_lps = numpy_support.vtk_to_numpy(surface.GetPointData().GetNormals()).copy()
    node = logic.addModelNode(surface, "bone", color=(1.0, 0.9, 0.8), opacity=0.5)
    ras = standin.slicer.util.arrayFromModelPoints(node)
    np.testing.assert_allclose(ras, lps * [-1, -1, 1])
    normals = numpy_support.vtk_to_numpy(node.GetPolyData().GetPointData().GetNormals())
    np.testing.assert_allclose(normals, normals_lps * [-1, -1, 1], atol=1e-6)
    # The input surface is untouched.
    np.testing.assert_array_equal(numpy_support.vtk_to_numpy(surface.GetPoints().GetData()), lps)
    assert node.GetDisplayNode().GetColor() == (1.0, 0.9, 0.8)
    assert node.GetDisplayNode().GetOpacity() == 0.5


# --------------------------------------------------------------------------- lungs
@pytest.mark.parametrize("name", ["identity", "flipped-LAS", "oblique"])
def test_lung_extraction_gives_ras_models_and_volumes(logic: Any, standin: Any, name: str) -> None:
    from medvis.lung.phantom import lung_phantom

    phantom = lung_phantom(
        shape_ijk=(88, 72, 56), spacing=(4.0, 4.0, 5.0), direction=DIRECTIONS[name]
    )
    node = logic.addVolumeNode(phantom.volume, name="chest")
    result = logic.extractLungs(node, smoothing=0)

    assert set(result.models) == {"Right lung", "Left lung"}
    centres_ras = {"Right lung": 72.0, "Left lung": -68.0}  # phantom centres: LPS x -72 / +68
    for lung, model in result.models.items():
        points = standin.slicer.util.arrayFromModelPoints(model)
        assert abs(points[:, 0].mean() - centres_ras[lung]) < 6.0
        assert model.GetDisplayNode().GetVisibility()
        key = "right_lung" if lung == "Right lung" else "left_lung"
        assert result.volumesMl[lung] == pytest.approx(phantom.volumes_ml[key], rel=0.03)
        assert result.meshVolumesMl[lung] == pytest.approx(result.volumesMl[lung], rel=0.02)
    # The label map sits on the CT's grid, voxel for voxel.
    labelmap = result.labelmap
    assert labelmap.GetClassName() == "vtkMRMLLabelMapVolumeNode"
    np.testing.assert_allclose(_ijk_to_ras(labelmap), _ijk_to_ras(node), atol=1e-12)
    labels = standin.slicer.util.arrayFromVolume(labelmap)
    truth = phantom.truth.array
    agreement = np.count_nonzero((labels > 0) & (labels == truth)) / np.count_nonzero(truth)
    assert agreement > 0.95
    report = result.report()
    assert "Right lung:" in report and "Left lung:" in report and "Both lungs:" in report


def test_lung_extraction_report_says_what_it_cannot_promise(logic: Any) -> None:
    """A phantom cut just above its lung bases: the panel says both lungs are cut."""
    from medvis.lung.phantom import lung_phantom

    volume = lung_phantom(shape_ijk=(88, 72, 56), spacing=(4.0, 4.0, 5.0)).volume
    low = volume.replace(array=np.ascontiguousarray(volume.array[:12]))
    result = logic.extractLungs(logic.addVolumeNode(low, name="bases"), smoothing=0)
    warnings = [n for n in result.notes if n.startswith("Warning: ")]
    assert any("right lung is cut by the top" in w for w in warnings), result.notes
    assert any("left lung is cut by the top" in w for w in warnings), result.notes
    assert all(w in result.report() for w in warnings)


def test_lung_extraction_reports_missing_medvis_lung(
    logic: Any, module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "medvis.lung.surfaces", None)  # import fails
    node = logic.addVolumeNode(chest_phantom(shape_ijk=(8, 8, 8)), name="chest")
    with pytest.raises(NotImplementedError, match=r"medvis\.lung\.surfaces\.label_surfaces"):
        logic.extractLungs(node)


# -------------------------------------------------------------------------- scenes
def test_show_scene_3d(logic: Any, standin: Any, tmp_path: Path) -> None:
    scene_file = tmp_path / "chest.toml"
    scene_file.write_text(
        textwrap.dedent(
            """
            medvis_scene = 1
            title = "phantom"
            [input]
            path = "phantom:chest"
            [camera]
            view = "anterior"
            [[layers]]
            type = "volume"
            preset = "CT-Bone"
            crop = [-50, 50, -50, 50, -50, 50]
            [[layers]]
            type = "surface"
            level = 300
            color = [1.0, 1.0, 0.9]
            """
        ),
        encoding="utf-8",
    )
    result = logic.showScene(scene_file)
    assert result.volumeNode.GetName() == "phantom"
    assert len(result.renderings) == 1 and result.renderings[0].GetVisibility()
    assert len(result.models) == 1
    assert any("crop" in note for note in result.notes)
    camera = standin.slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLCameraNode")
    focal, position = np.array(camera.GetFocalPoint()), np.array(camera.GetPosition())
    # Anterior view: the camera stands in front of the patient, i.e. at larger RAS y (A).
    offset = position - focal
    assert offset[1] > 0 and abs(offset[0]) < 1e-6 and abs(offset[2]) < 1e-6
    np.testing.assert_allclose(camera.GetViewUp(), (0.0, 0.0, 1.0), atol=1e-9)  # superior


def test_show_scene_montage_sets_window(logic: Any, tmp_path: Path) -> None:
    scene_file = tmp_path / "montage.toml"
    scene_file.write_text(
        'medvis_scene = 1\n[input]\npath = "phantom:chest"\n[montage]\nwindow = "lung"\n',
        encoding="utf-8",
    )
    result = logic.showScene(scene_file)
    display = result.volumeNode.GetDisplayNode()
    assert (display.GetWindow(), display.GetLevel()) == (1500.0, -600.0)


def test_camera_azimuth_turns_about_superior(logic: Any, standin: Any) -> None:
    vol = chest_phantom(shape_ijk=(16, 16, 16))
    logic.setCamera({"view": "anterior", "azimuth": 90}, vol)
    camera = standin.slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLCameraNode")
    offset = np.array(camera.GetPosition()) - np.array(camera.GetFocalPoint())
    # A quarter turn about S from the front lands on one side: RAS x dominates, y ~ 0.
    assert abs(offset[0]) > 100 * abs(offset[1])
    with pytest.raises(ValueError, match="unknown camera view"):
        logic.setCamera("sideways", vol)


# ------------------------------------------------------- installing medvis on demand
def test_install_asks_first_and_respects_no(
    logic: Any, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(type(logic), "isMedvisInstalled", staticmethod(lambda: False))
    standin.consent = False
    with pytest.raises(RuntimeError, match="cancelled"):
        logic.ensureMedvis()
    assert len(standin.questions) == 1 and "medvis" in standin.questions[0]
    assert standin.pip_calls == []


def test_install_with_consent_uses_pip_without_replacing_slicers_vtk(
    logic: Any, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(type(logic), "isMedvisInstalled", staticmethod(lambda: False))
    assert logic.ensureMedvis() is medvis
    requirements = MODULE_FILE.parent / "Resources" / "requirements.txt"
    assert standin.pip_calls == [["-r", str(requirements)], ["--no-deps", str(ROOT)]]
    monkeypatch.setenv("MEDVIS_PIP_SPEC", "git+https://example.invalid/medvis.git")
    logic.ensureMedvis()
    assert standin.pip_calls[-1] == ["--no-deps", "git+https://example.invalid/medvis.git"]


def test_requirements_cover_medvis_dependencies_except_slicers_own() -> None:
    import tomllib
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    slicer_python = {"python_version": "3.12", "python_full_version": "3.12.10"}  # Slicer 5.10+
    wanted = set()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        if requirement.marker is None or requirement.marker.evaluate(slicer_python):
            wanted.add(requirement.name.lower())
    wanted -= {"vtk", "numpy", "simpleitk"}  # Slicer's own; pip must not replace them
    lines = (
        (MODULE_FILE.parent / "Resources" / "requirements.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    )
    listed = {
        Requirement(line.split("#")[0]).name.lower() for line in lines if line.split("#")[0].strip()
    }
    assert wanted <= listed, f"add to Resources/requirements.txt: {sorted(wanted - listed)}"
    assert not listed & {"vtk", "numpy", "simpleitk"}


def test_importing_the_module_does_not_import_medvis() -> None:
    code = textwrap.dedent(
        f"""
        import sys, importlib.util
        sys.path.insert(0, {str(ROOT)!r})
        from tests.slicer_standin import StandIn
        sys.modules.update(StandIn().modules())
        spec = importlib.util.spec_from_file_location("MedvisLoader", {str(MODULE_FILE)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.MedvisLoaderLogic()
        assert not any(name == "medvis" or name.startswith("medvis.") for name in sys.modules), sorted(
            n for n in sys.modules if n.startswith("medvis"))
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_parameter_node_defaults(logic: Any) -> None:
    params = logic.getParameterNode()
    assert params.frame == 0 and params.presetName == "CT-Lung" and params.lungReport == ""
    params.frame = 2
    assert logic.getParameterNode().frame == 2  # one singleton node per scene


def test_the_modules_own_slicer_test_passes_on_the_standin(
    module: ModuleType, standin: Any
) -> None:
    # MedvisLoaderTest is what runs inside Slicer; here it runs on the stand-in, which at
    # least proves its own code and expectations are consistent with the Logic.
    case = module.MedvisLoaderTest()
    case.runTest()
    assert standin.slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLModelNode") == 2
