"""MedvisLoader: medvis inside 3D Slicer.

Load any file medvis reads (DICOM, NIfTI, ANALYZE, NRRD, MINC1/2, PAR/REC, MetaImage, VTI)
into a scalar volume node with its exact geometry, apply medvis's volume-rendering
presets, show a medvis scene file, and extract the lungs of a chest CT as model nodes.

The four classes follow Slicer's scripted-module pattern: ``MedvisLoader`` (metadata),
``MedvisLoaderWidget`` (binds ``Resources/UI/MedvisLoader.ui`` to the parameter node and
calls the Logic), ``MedvisLoaderLogic`` (all the work, through medvis; usable from
Slicer's Python console or ``PythonSlicer`` without the GUI) and ``MedvisLoaderTest``.

medvis is not imported when Slicer loads this file: the first Logic call that needs it
asks the user before installing it into Slicer's Python (``slicer.util.pip_install``).

World coordinates: medvis works in LPS, Slicer in RAS; the conversion is
``medvis.slicer_geometry`` (IJK-to-RAS = diag(-1, -1, 1, 1) @ index-to-LPS).
"""

import importlib
import importlib.util
import logging
import os
import pathlib

import numpy as np
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin
from vtk.util import numpy_support

#: Distribution installed on first use; ``MEDVIS_PIP_SPEC`` overrides where it comes from.
MEDVIS_DISTRIBUTION = "medvis"
#: Label value -> (model name, colour) for the lung models (medvis labels: 1 right, 2 left).
LUNG_DISPLAY = {1: ("Right lung", (0.85, 0.45, 0.40)), 2: ("Left lung", (0.40, 0.60, 0.85))}


#
# MedvisLoader
#


class MedvisLoader(ScriptedLoadableModule):
    """Module metadata (title, category, help)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "Medvis Loader"
        self.parent.categories = ["Utilities"]
        self.parent.dependencies = []
        self.parent.contributors = ["medvis developers"]
        self.parent.helpText = (
            "Load medical images with medvis (PAR/REC, MINC1/2, ANALYZE, NIfTI, NRRD, DICOM "
            "series, MetaImage, VTI) with their exact geometry, apply medvis volume-rendering "
            "presets, show medvis scene files, and extract left/right lung surfaces from a "
            "chest CT. medvis is installed into Slicer's Python on first use, after you agree."
        )
        self.parent.acknowledgementText = "medvis is BSD-3-Clause licensed."


#
# MedvisLoaderParameterNode
#


@parameterNodeWrapper
class MedvisLoaderParameterNode:
    """What the panel shows, saved with the scene.

    inputPath - file or DICOM folder to load.
    frame - frame of a 4-D file to load.
    volume - the volume that presets, scenes and lung extraction act on.
    presetName - medvis volume-rendering preset (the combo box is filled from medvis).
    scenePath - medvis scene file (.toml / .yaml).
    lungReport - lung volumes of the last extraction, shown in the panel.
    """

    inputPath: pathlib.Path
    frame: int = 0
    volume: vtkMRMLScalarVolumeNode
    presetName: str = "CT-Lung"
    scenePath: pathlib.Path
    lungReport: str = ""


#
# MedvisLoaderWidget
#


class MedvisLoaderWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Binds the .ui to the parameter node and calls the Logic; no computation here."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MedvisLoader.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = MedvisLoaderLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.loadButton.connect("clicked(bool)", self.onLoad)
        self.ui.applyPresetButton.connect("clicked(bool)", self.onApplyPreset)
        self.ui.showSceneButton.connect("clicked(bool)", self.onShowScene)
        self.ui.extractLungsButton.connect("clicked(bool)", self.onExtractLungs)
        # The preset list comes from medvis, so this one combo box is bound by hand.
        self.ui.presetComboBox.connect("currentTextChanged(QString)", self.onPresetChanged)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(
                self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons
            )

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.volume:
            firstVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolume:
                self._parameterNode.volume = firstVolume

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(
                self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons
            )
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            # Widgets with a "SlicerParameterName" property in the .ui are connected here.
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
            self._fillPresets()
            self._updateButtons()

    def _fillPresets(self) -> None:
        names = self.logic.presetNames() if MedvisLoaderLogic.isMedvisInstalled() else []
        combo = self.ui.presetComboBox
        wasBlocked = combo.blockSignals(True)
        combo.clear()
        combo.addItems(names or [self._parameterNode.presetName])
        combo.currentText = self._parameterNode.presetName
        combo.blockSignals(wasBlocked)

    def onPresetChanged(self, text) -> None:
        if self._parameterNode and text:
            self._parameterNode.presetName = text

    def _updateButtons(self, caller=None, event=None) -> None:
        p = self._parameterNode
        hasPath = bool(p and str(p.inputPath) not in ("", "."))
        hasVolume = bool(p and p.volume)
        hasScene = bool(p and str(p.scenePath) not in ("", "."))
        self.ui.loadButton.enabled = hasPath
        self.ui.applyPresetButton.enabled = hasVolume
        self.ui.extractLungsButton.enabled = hasVolume
        self.ui.showSceneButton.enabled = hasScene

    def onLoad(self) -> None:
        with slicer.util.tryWithErrorDisplay(
            "Failed to load the file with medvis.", waitCursor=True
        ):
            p = self._parameterNode
            p.volume = self.logic.loadVolume(p.inputPath, frame=p.frame)
            self._fillPresets()

    def onApplyPreset(self) -> None:
        with slicer.util.tryWithErrorDisplay("Failed to apply the medvis preset.", waitCursor=True):
            self.logic.applyPreset(self._parameterNode.volume, self._parameterNode.presetName)

    def onShowScene(self) -> None:
        with slicer.util.tryWithErrorDisplay("Failed to show the medvis scene.", waitCursor=True):
            result = self.logic.showScene(self._parameterNode.scenePath)
            self._parameterNode.volume = result.volumeNode

    def onExtractLungs(self) -> None:
        with slicer.util.tryWithErrorDisplay("Failed to extract the lungs.", waitCursor=True):
            result = self.logic.extractLungs(self._parameterNode.volume)
            self._parameterNode.lungReport = result.report()


#
# MedvisLoaderLogic
#


class LungResult:
    """What :meth:`MedvisLoaderLogic.extractLungs` made: model nodes and volumes in mL."""

    def __init__(self, models, volumesMl, meshVolumesMl=None, labelmap=None, notes=()):
        self.models = dict(models)  # "Right lung" / "Left lung" -> vtkMRMLModelNode
        self.volumesMl = dict(volumesMl)  # voxel count x voxel volume, mL
        self.meshVolumesMl = dict(meshVolumesMl or {})  # volume enclosed by the surface, mL
        self.labelmap = labelmap
        self.notes = tuple(notes)

    def report(self) -> str:
        lines = []
        for name, ml in self.volumesMl.items():
            mesh = self.meshVolumesMl.get(name)
            lines.append(
                f"{name}: {ml:.0f} mL"
                + (f" (surface encloses {mesh:.0f} mL)" if mesh is not None else "")
            )
        if len(self.volumesMl) > 1:
            lines.append(f"Both lungs: {sum(self.volumesMl.values()):.0f} mL")
        return "\n".join(lines + list(self.notes))


class SceneResult:
    """What :meth:`MedvisLoaderLogic.showScene` made, and what Slicer could not show."""

    def __init__(self, volumeNode, models, renderings, notes):
        self.volumeNode = volumeNode
        self.models = list(models)
        self.renderings = list(renderings)
        self.notes = list(notes)


class MedvisLoaderLogic(ScriptedLoadableModuleLogic):
    """All the work, through medvis. Runs without the Widget (Python console, tests).

    Examples (Slicer's Python console)::

        logic = slicer.util.getModuleLogic("MedvisLoader")  # or MedvisLoaderLogic()
        node = logic.loadVolume("/data/scan.PAR")
        logic.applyPreset(node, "CT-Bone")
        result = logic.extractLungs(node)
        print(result.report())
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.moduleDir = os.path.dirname(os.path.abspath(__file__))

    def getParameterNode(self):
        return MedvisLoaderParameterNode(super().getParameterNode())

    # ------------------------------------------------------------ medvis on demand
    @staticmethod
    def isMedvisInstalled() -> bool:
        """True when ``import medvis`` would work in this Python."""
        return importlib.util.find_spec(MEDVIS_DISTRIBUTION) is not None

    def medvisInstallSource(self) -> str:
        """Where pip installs medvis from.

        ``MEDVIS_PIP_SPEC`` (a path, a wheel, a ``git+https://...`` URL or a requirement)
        if set; otherwise the medvis source tree this module sits in (the extension lives
        in ``<checkout>/slicer_extension/MedvisLoader/``).
        """
        spec = os.environ.get("MEDVIS_PIP_SPEC", "").strip()
        if spec:
            return spec
        checkout = pathlib.Path(self.moduleDir).parents[1]
        pyproject = checkout / "pyproject.toml"
        if pyproject.is_file() and 'name = "medvis"' in pyproject.read_text(encoding="utf-8"):
            return str(checkout)
        raise RuntimeError(
            f"medvis is not installed in Slicer's Python and no medvis source tree was found "
            f"at {checkout}. Set the environment variable MEDVIS_PIP_SPEC to a medvis wheel, "
            "source folder or git URL and try again."
        )

    def ensureMedvis(self, confirm: bool = True):
        """Import medvis, installing it first with the user's consent.

        medvis itself is installed with ``--no-deps`` so that pip never replaces the VTK,
        numpy and SimpleITK that Slicer ships; its other dependencies come from
        ``Resources/requirements.txt``.

        Raises
        ------
        RuntimeError
            The user declined, or no install source is known.
        """
        if not self.isMedvisInstalled():
            source = self.medvisInstallSource()
            requirements = os.path.join(self.moduleDir, "Resources", "requirements.txt")
            question = (
                "MedvisLoader needs the Python package medvis, which is not installed in "
                f"Slicer's Python.\n\nInstall it now from:\n{source}\n"
                f"with its dependencies listed in:\n{requirements}\n\n"
                "This downloads packages from the Python Package Index and may take a few minutes."
            )
            if confirm and not slicer.util.confirmOkCancelDisplay(question, "Install medvis?"):
                raise RuntimeError(
                    "medvis is needed for this action and was not installed (cancelled). "
                    "Press the button again to be asked again, or run in Slicer's Python console: "
                    f"slicer.util.pip_install(['-r', {requirements!r}]); "
                    f"slicer.util.pip_install(['--no-deps', {source!r}])"
                )
            slicer.util.pip_install(["-r", requirements])
            slicer.util.pip_install(["--no-deps", source])
            importlib.invalidate_caches()
        return importlib.import_module(MEDVIS_DISTRIBUTION)

    # ----------------------------------------------------------------- volumes
    def loadVolume(
        self,
        path,
        frame: int = 0,
        series: str | None = None,
        name: str | None = None,
        show: bool = True,
    ):
        """Read ``path`` with medvis into a new ``vtkMRMLScalarVolumeNode`` (RAS geometry).

        Parameters
        ----------
        path : str or pathlib.Path
            A file, a .hdr/.img pair, a .nhdr, or a DICOM folder.
        frame : int
            Frame of a 4-D file (time point, echo, diffusion direction).
        series : str, optional
            SeriesInstanceUID when a DICOM folder holds several series.
        name : str, optional
            Node name (the file name by default).
        show : bool
            Show the volume in the slice views.
        """
        medvis = self.ensureMedvis()
        path = pathlib.Path(path)
        if str(path) in ("", "."):
            raise ValueError("choose a file or DICOM folder to load")
        options = {}
        if frame:  # frame 0 is what a 4-D volume gives anyway; keeps RGB volumes whole
            options["frame"] = int(frame)
        if series:
            options["series"] = series
        volume = medvis.load(path, **options)
        for warning in volume.warnings:
            logging.warning(f"medvis: {path}: {warning}")
        return self.addVolumeNode(volume, name=name or _nodeName(path), show=show)

    def addVolumeNode(
        self,
        volume,
        name: str = "medvis volume",
        show: bool = False,
        className: str | None = None,
    ):
        """Put a ``medvis.Volume`` into the scene as a new volume node.

        The voxels are copied into a ``vtkImageData`` at origin 0 / spacing 1 / identity
        direction (Slicer's rule), and the node gets origin, spacing and IJK-to-RAS
        directions in RAS from :func:`medvis.slicer_geometry.slicer_volume_geometry`, so
        ``node.GetIJKToRASMatrix()`` equals ``diag(-1, -1, 1, 1) @ volume.index_to_world``.
        A 4-D ("tkji") volume contributes its first frame; several components per voxel
        ("kjic", RGB) give a ``vtkMRMLVectorVolumeNode``; ``className`` may ask for a
        ``vtkMRMLLabelMapVolumeNode`` instead.
        """
        self.ensureMedvis()
        from medvis.slicer_geometry import slicer_volume_geometry

        if volume.layout == "tkji":
            volume = volume.frame(0)
        if className is None:
            className = (
                "vtkMRMLVectorVolumeNode" if volume.layout == "kjic" else "vtkMRMLScalarVolumeNode"
            )
        array = _slicerCompatibleArray(volume.array)
        image = vtk.vtkImageData()
        image.SetDimensions(*volume.shape_ijk)
        components = volume.n_components
        flat = array.reshape(-1, components) if components > 1 else array.reshape(-1)
        scalars = numpy_support.numpy_to_vtk(flat, deep=True)
        scalars.SetName("ImageScalars")
        image.GetPointData().SetScalars(scalars)

        node = slicer.mrmlScene.AddNewNodeByClass(className, name)
        node.SetAndObserveImageData(image)
        geometry = slicer_volume_geometry(volume)
        node.SetOrigin(*geometry.origin.tolist())
        node.SetSpacing(*geometry.spacing.tolist())
        node.SetIJKToRASDirections(*geometry.directions.ravel().tolist())
        if volume.source:
            node.SetAttribute("medvis.source", str(volume.source))
        for key in ("format", "modality"):
            if key in volume.metadata:
                node.SetAttribute(f"medvis.{key}", str(volume.metadata[key]))
        node.CreateDefaultDisplayNodes()
        if className == "vtkMRMLScalarVolumeNode":
            window = _fileWindow(volume)
            if window is not None:
                display = node.GetDisplayNode()
                display.SetAutoWindowLevel(False)
                display.SetWindowLevel(window.width, window.center)
        if show:
            slicer.util.setSliceViewerLayers(background=node, fit=True)
        return node

    def volumeFromNode(self, volumeNode):
        """A ``medvis.Volume`` (LPS) with a copy of a scalar volume node's voxels.

        The node's own IJK-to-RAS is used; a parent transform is not applied (harden it
        first in the Transforms module).
        """
        self.ensureMedvis()
        from medvis.slicer_geometry import volume_from_ijk_to_ras

        if volumeNode is None or volumeNode.GetImageData() is None:
            raise ValueError("choose a volume that has image data")
        if volumeNode.GetParentTransformNode() is not None:
            logging.warning(
                f"{volumeNode.GetName()}: its parent transform is ignored; harden it to include it"
            )
        matrix = vtk.vtkMatrix4x4()
        volumeNode.GetIJKToRASMatrix(matrix)
        ijkToRas = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
        array = np.array(slicer.util.arrayFromVolume(volumeNode), copy=True)
        metadata = {}
        modality = volumeNode.GetAttribute("medvis.modality")
        if modality:
            metadata["modality"] = modality
        layout = "kjic" if array.ndim == 4 else "kji"
        return volume_from_ijk_to_ras(
            array, ijkToRas, layout=layout, metadata=metadata, source=volumeNode.GetName()
        )

    # ------------------------------------------------------------ volume rendering
    def presetNames(self) -> list:
        """Names of medvis's volume-rendering presets."""
        self.ensureMedvis()
        from medvis.pipeline.presets import preset_names

        return preset_names()

    def applyPreset(self, volumeNode, preset, blend: str | None = None, shade: bool | None = None):
        """Volume-render ``volumeNode`` in Slicer with a medvis preset.

        Parameters
        ----------
        volumeNode : vtkMRMLScalarVolumeNode
            The volume.
        preset : str or medvis.pipeline.presets.VolumePreset
            A preset name (``presetNames()``) or a preset object.
        blend : {"composite", "maximum", "minimum"}, optional
            Overrides the preset's ray blending; "maximum"/"minimum" set the ray-cast
            technique of every 3-D view (Slicer keeps that on the view, not the volume).
        shade : bool, optional
            Overrides the preset's shading.

        Returns
        -------
        vtkMRMLVolumeRenderingDisplayNode
        """
        self.ensureMedvis()
        from medvis.pipeline.presets import get_preset
        from medvis.render.volume_render import volume_property

        if volumeNode is None:
            raise ValueError("choose a volume to render")
        chosen = get_preset(preset)
        if shade is not None:
            chosen = chosen.replace(shade=bool(shade))
        blendName = blend or chosen.blend
        techniques = {
            "composite": slicer.vtkMRMLViewNode.Composite,
            "maximum": slicer.vtkMRMLViewNode.MaximumIntensityProjection,
            "minimum": slicer.vtkMRMLViewNode.MinimumIntensityProjection,
        }
        if blendName not in techniques:
            raise ValueError(
                f"Slicer's volume rendering blends {sorted(techniques)}, not {blendName!r}"
            )

        vrLogic = slicer.modules.volumerendering.logic()
        displayNode = vrLogic.GetFirstVolumeRenderingDisplayNode(volumeNode)
        if displayNode is None:
            displayNode = vrLogic.CreateDefaultVolumeRenderingNodes(volumeNode)
        propertyNode = displayNode.GetVolumePropertyNode()
        spacing = min(volumeNode.GetSpacing())
        built = volume_property(chosen, unit_distance=float(spacing))
        color = vtk.vtkColorTransferFunction()
        color.DeepCopy(built.GetRGBTransferFunction())
        opacity = vtk.vtkPiecewiseFunction()
        opacity.DeepCopy(built.GetScalarOpacity())
        gradient = vtk.vtkPiecewiseFunction()
        gradient.DeepCopy(built.GetGradientOpacity())
        propertyNode.SetColor(color)
        propertyNode.SetScalarOpacity(opacity)
        propertyNode.SetGradientOpacity(gradient)
        propertyNode.SetEffectiveRange(*chosen.value_range)
        target = propertyNode.GetVolumeProperty()
        target.SetShade(built.GetShade())
        target.SetAmbient(built.GetAmbient())
        target.SetDiffuse(built.GetDiffuse())
        target.SetSpecular(built.GetSpecular())
        target.SetSpecularPower(built.GetSpecularPower())
        target.SetScalarOpacityUnitDistance(built.GetScalarOpacityUnitDistance())
        target.SetInterpolationTypeToLinear()
        propertyNode.SetAttribute("medvis.preset", chosen.name)
        for index in range(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLViewNode")):
            slicer.mrmlScene.GetNthNodeByClass(index, "vtkMRMLViewNode").SetRaycastTechnique(
                techniques[blendName]
            )
        displayNode.SetVisibility(True)
        return displayNode

    # ------------------------------------------------------------------ models
    def addModelNode(self, polydataLps, name: str, color=(0.9, 0.85, 0.75), opacity: float = 1.0):
        """Add a medvis surface (LPS ``vtkPolyData``) to the scene as a model node in RAS.

        Points and normals are turned by diag(-1, -1, 1) (a rotation, so the triangles keep
        their orientation); the input is not modified.
        """
        self.ensureMedvis()
        from medvis.slicer_geometry import lps_to_ras_points

        polydata = vtk.vtkPolyData()
        polydata.DeepCopy(polydataLps)
        points = polydata.GetPoints()
        if points is not None and points.GetNumberOfPoints():
            ras = lps_to_ras_points(numpy_support.vtk_to_numpy(points.GetData()))
            newPoints = vtk.vtkPoints()
            newPoints.SetData(numpy_support.numpy_to_vtk(np.ascontiguousarray(ras), deep=True))
            polydata.SetPoints(newPoints)
        for data in (polydata.GetPointData(), polydata.GetCellData()):
            normals = data.GetNormals()
            if normals is not None:
                turned = lps_to_ras_points(numpy_support.vtk_to_numpy(normals))
                array = numpy_support.numpy_to_vtk(np.ascontiguousarray(turned), deep=True)
                array.SetName(normals.GetName() or "Normals")
                data.SetNormals(array)
        node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLModelNode", name)
        node.SetAndObservePolyData(polydata)
        node.CreateDefaultDisplayNodes()
        display = node.GetDisplayNode()
        display.SetColor(*[float(c) for c in color])
        display.SetOpacity(float(opacity))
        return node

    # -------------------------------------------------------------------- lungs
    def extractLungs(
        self, volumeNode, smoothing: int = 10, addLabelmap: bool = True, show: bool = True
    ) -> LungResult:
        """Segment the lungs of a chest CT (HU) with medvis and add one model per lung (RAS).

        Parameters
        ----------
        volumeNode : vtkMRMLScalarVolumeNode
            Chest CT in Hounsfield units, any orientation.
        smoothing : int
            Windowed-sinc iterations for the surfaces (0: the exact marching-cubes mesh);
            it moves vertices only, the volumes change by well under 1 %.
        addLabelmap : bool
            Also add the label map (1 right lung, 2 left lung) as a
            ``vtkMRMLLabelMapVolumeNode`` on the CT's grid (for the Segment Editor).
        show : bool
            Make the models visible.

        Returns
        -------
        LungResult
            ``models`` (name -> model node), ``volumesMl`` (voxel volumes),
            ``meshVolumesMl``, ``labelmap`` and notes; ``report()`` is the panel's text.

        Raises
        ------
        NotImplementedError
            When the installed medvis has no lung API (``medvis.lung``).
        """
        self.ensureMedvis()
        segment_lungs, label_surfaces = _lungApi()
        ct = self.volumeFromNode(volumeNode)
        if ct.layout != "kji":
            raise ValueError("lung extraction needs a scalar CT volume")
        segmentation = segment_lungs(ct)
        surfaces = label_surfaces(
            segmentation.labels,
            names=segmentation.names,
            smoothing=int(smoothing),
            boxes=getattr(segmentation, "boxes", None),
        )
        models, volumesMl, meshVolumesMl = {}, {}, {}
        for surface in surfaces:
            displayName, color = LUNG_DISPLAY.get(surface.label, (surface.name, (0.8, 0.8, 0.8)))
            node = self.addModelNode(
                surface.polydata, f"{volumeNode.GetName()} {displayName.lower()}", color
            )
            node.GetDisplayNode().SetVisibility(bool(show))
            models[displayName] = node
            volumesMl[displayName] = float(surface.voxel_volume_ml)
            meshVolumesMl[displayName] = float(surface.mesh_volume_ml)
        labelmap = None
        if addLabelmap:
            labelmap = self.addVolumeNode(
                segmentation.labels,
                name=f"{volumeNode.GetName()} lungs",
                className="vtkMRMLLabelMapVolumeNode",
            )
        # What the result cannot promise first (cut lungs, one lung, odd HU...), then how.
        warnings = tuple(f"Warning: {w}" for w in getattr(segmentation, "warnings", ()))
        notes = warnings + tuple(getattr(segmentation, "notes", ()))
        return LungResult(models, volumesMl, meshVolumesMl, labelmap, notes)

    # -------------------------------------------------------------------- scenes
    def showScene(self, scenePath, volumeNode=None) -> SceneResult:
        """Show a medvis scene file (``medvis render`` format) in Slicer's views.

        The scene's input is loaded (or ``volumeNode`` used instead); volume layers get
        their preset, slice layers and montages their window on the volume's display,
        surface and mesh layers become model nodes, and the camera of the 3-D view is
        placed as the scene says. What Slicer's views cannot do the same way (cropping,
        mapper choice, oblique slice planes, picture size) is listed in ``notes``.
        """
        self.ensureMedvis()
        from medvis.pipeline.presets import preset_from_mapping
        from medvis.pipeline.surfaces import isosurface, read_mesh
        from medvis.pipeline.windowing import resolve_window
        from medvis.render.volume_render import default_preset
        from medvis.scenes import load_scene, resolve_input

        scene = load_scene(scenePath)
        data = scene.data
        notes = []
        if volumeNode is None:
            inp = data["input"]
            volume = resolve_input(
                inp["path"], base=scene.base, frame=inp.get("frame"), series=inp.get("series")
            )
            if volume.layout == "tkji":
                volume = volume.frame(int(inp.get("frame", 0)))
            volumeNode = self.addVolumeNode(
                volume, name=data.get("title") or _nodeName(scene.source), show=True
            )
        else:
            volume = self.volumeFromNode(volumeNode)
            slicer.util.setSliceViewerLayers(background=volumeNode, fit=True)

        def setWindow(spec):
            window = resolve_window(spec, metadata=volume.metadata, array=volume.array)
            display = volumeNode.GetDisplayNode()
            display.SetAutoWindowLevel(False)
            display.SetWindowLevel(window.width, window.center)

        models, renderings = [], []
        if scene.is_montage:
            montage = data["montage"]
            setWindow(montage.get("window", "auto"))
            notes.append(
                "montage shown in Slicer's slice views (panel size and labels are medvis-only)"
            )
        else:
            for number, layer in enumerate(data["layers"], 1):
                kind = layer["type"]
                if kind == "volume":
                    preset = preset_from_mapping(layer.get("preset") or default_preset(volume))
                    renderings.append(
                        self.applyPreset(
                            volumeNode, preset, blend=layer.get("blend"), shade=layer.get("shade")
                        )
                    )
                    ignored = [k for k in ("crop", "mapper", "sample_distance") if k in layer]
                elif kind == "slice":
                    setWindow(layer.get("window", "auto"))
                    ignored = [
                        k
                        for k in ("plane", "normal", "point", "opacity", "interpolation")
                        if k in layer
                    ]
                elif kind == "surface":
                    level = float(layer["level"])
                    surface = isosurface(volume, level)
                    models.append(
                        self.addModelNode(
                            surface,
                            f"{volumeNode.GetName()} surface {level:g}",
                            layer.get("color", (0.9, 0.85, 0.75)),
                            float(layer.get("opacity", 1.0)),
                        )
                    )
                    ignored = []
                else:
                    mesh = read_mesh(scene.base / layer["path"], space=layer.get("space", "LPS"))
                    models.append(
                        self.addModelNode(
                            mesh,
                            pathlib.Path(layer["path"]).stem,
                            layer.get("color", (0.8, 0.8, 0.9)),
                            float(layer.get("opacity", 1.0)),
                        )
                    )
                    ignored = []
                if ignored:
                    notes.append(
                        f"layer {number} ({kind}): {', '.join(ignored)} not applied in Slicer"
                    )
            self.setCamera(data.get("camera") or "anterior", volume)
        for note in notes:
            logging.info(f"medvis scene {scene.source}: {note}")
        return SceneResult(volumeNode, models, renderings, notes)

    def setCamera(self, spec, volume) -> None:
        """Place the first 3-D view's camera as a medvis camera spec says, around ``volume``.

        ``spec`` is a view name ("anterior", "left", "superior"...) or a mapping with
        ``view``, ``azimuth``, ``elevation``, ``roll``, ``zoom``, or explicit LPS
        ``position``/``focal_point``/``view_up``. Positions are converted to RAS.
        """
        self.ensureMedvis()
        from medvis.render.cameras import CAMERAS
        from medvis.slicer_geometry import lps_to_ras_points

        cameraNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLCameraNode")
        if cameraNode is None:
            raise RuntimeError("the scene has no camera node (no 3-D view)")
        options = {"view": spec} if isinstance(spec, str) else dict(spec or {})
        bounds = volume.world_bounds  # LPS (3, 2)
        centre = bounds.mean(axis=1)
        radius = max(float(np.linalg.norm(bounds[:, 1] - bounds[:, 0])) / 2.0, 1.0)
        distance = radius / np.sin(np.radians(15.0)) / float(options.get("zoom", 1.0))
        camera = vtk.vtkCamera()
        if "position" in options:
            camera.SetPosition(*options["position"])
            camera.SetFocalPoint(*options.get("focal_point", centre))
            camera.SetViewUp(*options.get("view_up", (0.0, 0.0, 1.0)))
        else:
            name = str(options.get("view", "anterior")).lower()
            if name not in CAMERAS:
                raise ValueError(f"unknown camera view {name!r}; known: {', '.join(CAMERAS)}")
            named = CAMERAS[name]
            camera.SetFocalPoint(*centre)
            camera.SetPosition(*(centre - np.asarray(named.towards) * distance))
            camera.SetViewUp(*named.view_up)
        camera.Azimuth(float(options.get("azimuth", 0.0)))
        camera.Elevation(float(options.get("elevation", 0.0)))
        camera.Roll(float(options.get("roll", 0.0)))
        camera.OrthogonalizeViewUp()
        # Points convert with diag(-1, -1, 1); so does the view-up direction.
        cameraNode.SetFocalPoint(*lps_to_ras_points(camera.GetFocalPoint()).tolist())
        cameraNode.SetPosition(*lps_to_ras_points(camera.GetPosition()).tolist())
        cameraNode.SetViewUp(*lps_to_ras_points(camera.GetViewUp()).tolist())
        cameraNode.ResetClippingRange()


# ------------------------------------------------------------------------ helpers
def _nodeName(path) -> str:
    name = pathlib.Path(str(path)).name
    for suffix in (
        ".nii.gz",
        ".gz",
        ".nii",
        ".nrrd",
        ".nhdr",
        ".mha",
        ".mhd",
        ".mnc",
        ".PAR",
        ".par",
        ".REC",
        ".rec",
        ".hdr",
        ".img",
        ".vti",
        ".dcm",
        ".toml",
        ".yaml",
        ".yml",
    ):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name or "medvis volume"


def _slicerCompatibleArray(array):
    """Voxels in a type Slicer displays: native byte order, no bool, no 64-bit integers."""
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if array.dtype.kind in "iu" and array.dtype.itemsize == 8:
        # slicer.util.updateVolumeFromArray refuses VTK_LONG_LONG: narrow when lossless.
        info = np.iinfo(np.int32)
        if array.size == 0 or (array.min() >= info.min and array.max() <= info.max):
            return array.astype(np.int32)
        return array.astype(np.float64)
    return array


def _fileWindow(volume):
    """The window stored in the file (DICOM WindowCenter/Width), or None."""
    from medvis.pipeline.windowing import resolve_window

    try:
        return resolve_window("file", metadata=volume.metadata)
    except ValueError:
        return None


def _lungApi():
    """medvis's lung segmentation and surface functions, or a clear NotImplementedError."""
    try:
        from medvis.lung.segmentation import segment_lungs
        from medvis.lung.surfaces import label_surfaces
    except ImportError as exc:
        raise NotImplementedError(
            "lung extraction needs medvis.lung.segmentation.segment_lungs and "
            f"medvis.lung.surfaces.label_surfaces, which this medvis does not provide ({exc}); "
            "update medvis"
        ) from exc
    return segment_lungs, label_surfaces


#
# MedvisLoaderTest
#


class MedvisLoaderTest(ScriptedLoadableModuleTest):
    """Runs inside Slicer (Reload and Test, or ctest). Needs medvis installed."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_ObliqueFlippedVolumeGeometry()
        self.setUp()
        self.test_RoundTripAndPreset()
        self.setUp()
        self.test_LungModelsInRas()

    def _obliqueFlippedVolume(self):
        medvis = MedvisLoaderLogic().ensureMedvis()
        c, s = np.cos(np.radians(25.0)), np.sin(np.radians(25.0))
        rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        direction = rotation @ np.diag([-1.0, 1.0, 1.0])  # oblique and mirrored (det -1)
        array = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)
        return medvis.Volume(
            array, spacing=(0.8, 1.1, 2.5), origin=(10.0, -20.0, 30.0), direction=direction
        )

    def test_ObliqueFlippedVolumeGeometry(self):
        self.delayDisplay("Oblique, mirrored volume -> volume node")
        logic = MedvisLoaderLogic()
        volume = self._obliqueFlippedVolume()
        node = logic.addVolumeNode(volume, name="oblique")
        matrix = vtk.vtkMatrix4x4()
        node.GetIJKToRASMatrix(matrix)
        got = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
        expected = np.diag([-1.0, -1.0, 1.0, 1.0]) @ volume.index_to_world
        np.testing.assert_allclose(got, expected, atol=1e-9)
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(node), volume.array)
        image = node.GetImageData()
        self.assertEqual(image.GetOrigin(), (0.0, 0.0, 0.0))
        self.assertEqual(image.GetSpacing(), (1.0, 1.0, 1.0))
        # A voxel's RAS position as Slicer computes it is the LPS one with x, y negated.
        ras = np.array(matrix.MultiplyPoint((3, 2, 1, 1))[:3])
        lps = volume.index_to_world_points([3, 2, 1])
        np.testing.assert_allclose(ras, lps * [-1, -1, 1], atol=1e-9)
        self.delayDisplay("Geometry test passed")

    def test_RoundTripAndPreset(self):
        self.delayDisplay("Volume node -> medvis -> file -> volume node, and a preset")
        import tempfile

        medvis = MedvisLoaderLogic().ensureMedvis()
        logic = MedvisLoaderLogic()
        volume = self._obliqueFlippedVolume()
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "oblique.nii.gz")
            medvis.save(volume, path)
            node = logic.loadVolume(path)
        back = logic.volumeFromNode(node)
        np.testing.assert_allclose(back.index_to_world, volume.index_to_world, atol=1e-4)
        np.testing.assert_array_equal(back.array, volume.array)
        display = logic.applyPreset(node, "CT-Bone")
        self.assertTrue(display.GetVisibility())
        self.assertEqual(display.GetVolumePropertyNode().GetAttribute("medvis.preset"), "CT-Bone")
        self.delayDisplay("Round trip and preset test passed")

    def test_LungModelsInRas(self):
        self.delayDisplay("Lung extraction on medvis's synthetic chest CT")
        logic = MedvisLoaderLogic()
        logic.ensureMedvis()
        from medvis.lung.phantom import lung_phantom

        phantom = lung_phantom(
            shape_ijk=(88, 72, 56), spacing=(4.0, 4.0, 5.0), direction=np.diag([-1.0, 1.0, 1.0])
        )
        node = logic.addVolumeNode(phantom.volume, name="lung phantom")
        try:
            result = logic.extractLungs(node)
        except NotImplementedError as exc:
            self.delayDisplay(f"Lung test not run: {exc}")
            return
        self.assertEqual(set(result.models), {"Right lung", "Left lung"})
        for name, model in result.models.items():
            points = slicer.util.arrayFromModelPoints(model)
            # The phantom's right lung is at LPS x < 0, i.e. RAS x > 0, and vice versa.
            if name == "Right lung":
                self.assertGreater(points[:, 0].mean(), 0.0)
            else:
                self.assertLess(points[:, 0].mean(), 0.0)
            key = "right_lung" if name == "Right lung" else "left_lung"
            self.assertAlmostEqual(
                result.volumesMl[name],
                phantom.volumes_ml[key],
                delta=0.03 * phantom.volumes_ml[key],
            )
        self.assertEqual(result.labelmap.GetClassName(), "vtkMRMLLabelMapVolumeNode")
        self.delayDisplay("Lung test passed")
