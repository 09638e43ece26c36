"""A STAND-IN for the few 3D Slicer calls that MedvisLoader's Logic makes. It is not Slicer.

No Slicer binary is reachable from the machines this project is tested on, so the Logic of
``slicer_extension/MedvisLoader/MedvisLoader.py`` is run under pytest against this
minimal imitation, injected into ``sys.modules`` as ``slicer`` (with ``slicer.util``,
``slicer.ScriptedLoadableModule``, ``slicer.parameterNodeWrapper``), ``qt`` and ``ctk``.
``vtk`` stays the real VTK.

What is imitated, and how faithfully (each behaviour written from Slicer's documented
API, see ``Libs/MRML/Core/vtkMRMLVolumeNode.cxx`` of Slicer/Slicer):

* ``vtkMRMLScene``: holds nodes, gives IDs (``vtkMRMLScalarVolumeNode1``...),
  ``AddNewNodeByClass``, ``GetFirstNodeByClass``, singleton nodes.
* ``vtkMRMLScalarVolumeNode``: a real ``vtkImageData`` plus its own origin, spacing and
  3x3 ``IJKToRASDirections`` (columns = i, j, k in RAS); ``GetIJKToRASMatrix`` composes
  them exactly as Slicer does (element (r, c) = Spacing[c] * Directions[r][c]).
  Slicer only *warns* when the image data it is given is not at origin 0 / spacing 1 /
  identity direction; this stand-in raises, so a test cannot pass while the geometry sits
  in the wrong place.
* ``vtkMRMLModelNode``: a real ``vtkPolyData`` and a display node (colour, opacity).
* Volume rendering: a display node holding a volume-property node with a real
  ``vtkVolumeProperty``; view nodes with a ray-cast technique; a camera node on a real
  ``vtkCamera``.
* ``slicer.util``: ``arrayFromVolume`` (a view of the image scalars, ``[k, j, i]``),
  ``arrayFromModelPoints``, ``setSliceViewerLayers``, ``confirmOkCancelDisplay`` and
  ``pip_install`` (both recorded; the answer and whether installing is allowed are set
  by the test), ``tryWithErrorDisplay``, ``VTKObservationMixin``.

Nothing here draws, and the Widget (which needs Qt) is not exercised.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import types
import unittest
from collections.abc import Iterator
from typing import Any

import numpy as np
import vtk
from vtkmodules.util import numpy_support

__all__ = ["StandIn", "install"]


# ----------------------------------------------------------------------------- nodes
class vtkMRMLNode:
    """Base of the stand-in nodes: name, ID, attributes, scene, a modified counter."""

    def __init__(self) -> None:
        self._name = ""
        self._id: str | None = None
        self._attributes: dict[str, str] = {}
        self._singleton_tag: str | None = None
        self.scene: vtkMRMLScene | None = None
        self.modified_count = 0

    def GetClassName(self) -> str:
        return type(self).__name__

    def IsA(self, class_name: str) -> bool:
        return any(cls.__name__ == class_name for cls in type(self).__mro__)

    def GetName(self) -> str:
        return self._name

    def SetName(self, name: str) -> None:
        self._name = str(name)

    def GetID(self) -> str | None:
        return self._id

    def SetAttribute(self, key: str, value: str) -> None:
        self._attributes[str(key)] = str(value)

    def GetAttribute(self, key: str) -> str | None:
        return self._attributes.get(key)

    def SetSingletonTag(self, tag: str) -> None:
        self._singleton_tag = tag

    def GetSingletonTag(self) -> str | None:
        return self._singleton_tag

    def Modified(self) -> None:
        self.modified_count += 1

    def UnRegister(self, _owner: Any) -> None:
        pass


class vtkMRMLScriptedModuleNode(vtkMRMLNode):
    """Parameter node: string parameters (Slicer's SetParameter/GetParameter)."""

    def __init__(self) -> None:
        super().__init__()
        self._parameters: dict[str, str] = {}

    def SetParameter(self, name: str, value: str) -> None:
        self._parameters[name] = str(value)

    def GetParameter(self, name: str) -> str:
        return self._parameters.get(name, "")


class vtkMRMLScalarVolumeDisplayNode(vtkMRMLNode):
    """Window/level of a scalar volume."""

    def __init__(self) -> None:
        super().__init__()
        self.auto_window_level = True
        self._window, self._level = 256.0, 128.0

    def SetAutoWindowLevel(self, flag: bool) -> None:
        self.auto_window_level = bool(flag)

    def GetAutoWindowLevel(self) -> bool:
        return self.auto_window_level

    def SetWindowLevel(self, window: float, level: float) -> None:
        self._window, self._level = float(window), float(level)

    def GetWindow(self) -> float:
        return self._window

    def GetLevel(self) -> float:
        return self._level


class vtkMRMLVolumeNode(vtkMRMLNode):
    """Image data at origin 0 / spacing 1, geometry kept on the node in RAS."""

    def __init__(self) -> None:
        super().__init__()
        self._origin = np.zeros(3)
        self._spacing = np.ones(3)
        self._directions = np.eye(3)
        self._image: vtk.vtkImageData | None = None
        self._display: vtkMRMLNode | None = None
        self.parent_transform: vtkMRMLNode | None = None

    # geometry ----------------------------------------------------------------
    def SetOrigin(self, *values: float) -> None:
        self._origin = np.array(values[0] if len(values) == 1 else values, float).reshape(3)
        self.Modified()

    def GetOrigin(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in self._origin)  # type: ignore[return-value]

    def SetSpacing(self, *values: float) -> None:
        self._spacing = np.array(values[0] if len(values) == 1 else values, float).reshape(3)
        self.Modified()

    def GetSpacing(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in self._spacing)  # type: ignore[return-value]

    def SetIJKToRASDirections(self, *values: Any) -> None:
        # Slicer's two overloads: double[3][3], or nine numbers row by row
        # (ir, jr, kr, ia, ja, ka, is, js, ks).
        if len(values) == 1:
            dirs = np.array(values[0], float).reshape(3, 3)
        elif len(values) == 9:
            dirs = np.array(values, float).reshape(3, 3)
        else:
            raise TypeError("SetIJKToRASDirections takes a 3x3 or 9 numbers")
        self._directions = dirs
        self.Modified()

    def GetIJKToRASDirections(self, dirs: list[list[float]]) -> None:
        for r in range(3):
            for c in range(3):
                dirs[r][c] = float(self._directions[r, c])

    def GetIJKToRASMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        matrix.Identity()
        for r in range(3):
            for c in range(3):
                matrix.SetElement(r, c, self._spacing[c] * self._directions[r, c])
            matrix.SetElement(r, 3, self._origin[r])

    def SetIJKToRASMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        m = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
        spacing = np.linalg.norm(m[:3, :3], axis=0)
        self._directions = m[:3, :3] / spacing
        self._spacing = spacing
        self._origin = m[:3, 3].copy()
        self.Modified()

    def GetParentTransformNode(self) -> vtkMRMLNode | None:
        return self.parent_transform

    # voxels -------------------------------------------------------------------
    def SetAndObserveImageData(self, image: vtk.vtkImageData | None) -> None:
        if image is not None:
            direction = image.GetDirectionMatrix()
            identity = all(
                direction.GetElement(r, c) == (1.0 if r == c else 0.0)
                for r in range(3)
                for c in range(3)
            )
            if (
                image.GetOrigin() != (0.0, 0.0, 0.0)
                or image.GetSpacing() != (1.0, 1.0, 1.0)
                or not identity
            ):
                # Slicer logs a warning here and then draws the volume in the wrong place.
                raise AssertionError(
                    "stand-in: image data given to a volume node must have origin (0,0,0), "
                    "spacing (1,1,1) and identity direction"
                )
        self._image = image
        self.Modified()

    def GetImageData(self) -> vtk.vtkImageData | None:
        return self._image

    # display --------------------------------------------------------------------
    def CreateDefaultDisplayNodes(self) -> None:
        if self._display is None and self.scene is not None:
            self._display = self.scene.AddNewNodeByClass("vtkMRMLScalarVolumeDisplayNode")

    def GetDisplayNode(self) -> vtkMRMLNode | None:
        return self._display


class vtkMRMLScalarVolumeNode(vtkMRMLVolumeNode):
    """A one-component volume."""


class vtkMRMLVectorVolumeNode(vtkMRMLVolumeNode):
    """A several-components-per-voxel volume (RGB)."""


class vtkMRMLLabelMapVolumeDisplayNode(vtkMRMLNode):
    """Colour table display of a label map (nothing to set here)."""


class vtkMRMLLabelMapVolumeNode(vtkMRMLScalarVolumeNode):
    """A label map (Slicer derives it from the scalar volume node too)."""

    def CreateDefaultDisplayNodes(self) -> None:
        if self._display is None and self.scene is not None:
            self._display = self.scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeDisplayNode")


class vtkMRMLModelDisplayNode(vtkMRMLNode):
    """Colour, opacity and visibility of a model."""

    def __init__(self) -> None:
        super().__init__()
        self._color = (1.0, 1.0, 0.0)
        self._opacity = 1.0
        self._visible = True

    def SetColor(self, *rgb: float) -> None:
        self._color = tuple(float(v) for v in (rgb[0] if len(rgb) == 1 else rgb))  # type: ignore[assignment]

    def GetColor(self) -> tuple[float, float, float]:
        return self._color

    def SetOpacity(self, value: float) -> None:
        self._opacity = float(value)

    def GetOpacity(self) -> float:
        return self._opacity

    def SetVisibility(self, flag: bool) -> None:
        self._visible = bool(flag)

    def GetVisibility(self) -> bool:
        return self._visible


class vtkMRMLModelNode(vtkMRMLNode):
    """A surface: real ``vtkPolyData`` in RAS."""

    def __init__(self) -> None:
        super().__init__()
        self._polydata: vtk.vtkPolyData | None = None
        self._display: vtkMRMLModelDisplayNode | None = None

    def SetAndObservePolyData(self, polydata: vtk.vtkPolyData) -> None:
        self._polydata = polydata
        self.Modified()

    def GetPolyData(self) -> vtk.vtkPolyData | None:
        return self._polydata

    def CreateDefaultDisplayNodes(self) -> None:
        if self._display is None and self.scene is not None:
            self._display = self.scene.AddNewNodeByClass("vtkMRMLModelDisplayNode")

    def GetDisplayNode(self) -> vtkMRMLModelDisplayNode | None:
        return self._display


class vtkMRMLVolumePropertyNode(vtkMRMLNode):
    """Transfer functions on a real ``vtkVolumeProperty``."""

    def __init__(self) -> None:
        super().__init__()
        self._property = vtk.vtkVolumeProperty()
        self.effective_range: tuple[float, float] | None = None

    def GetVolumeProperty(self) -> vtk.vtkVolumeProperty:
        return self._property

    def SetColor(self, function: vtk.vtkColorTransferFunction, component: int = 0) -> None:
        self._property.SetColor(component, function)

    def SetScalarOpacity(self, function: vtk.vtkPiecewiseFunction, component: int = 0) -> None:
        self._property.SetScalarOpacity(component, function)

    def SetGradientOpacity(self, function: vtk.vtkPiecewiseFunction, component: int = 0) -> None:
        self._property.SetGradientOpacity(component, function)

    def SetEffectiveRange(self, low: float, high: float) -> None:
        self.effective_range = (float(low), float(high))


class vtkMRMLVolumeRenderingDisplayNode(vtkMRMLNode):
    """Links a volume to its volume-property node; visibility."""

    def __init__(self) -> None:
        super().__init__()
        self.volume: vtkMRMLVolumeNode | None = None
        self._property_node: vtkMRMLVolumePropertyNode | None = None
        self._visible = False

    def GetVolumePropertyNode(self) -> vtkMRMLVolumePropertyNode | None:
        return self._property_node

    def SetVisibility(self, flag: bool) -> None:
        self._visible = bool(flag)

    def GetVisibility(self) -> bool:
        return self._visible


class vtkMRMLViewNode(vtkMRMLNode):
    """A 3-D view: only the ray-cast technique (Slicer's enum values)."""

    Composite = 0
    MaximumIntensityProjection = 2
    MinimumIntensityProjection = 3

    def __init__(self) -> None:
        super().__init__()
        self._technique = self.Composite

    def SetRaycastTechnique(self, value: int) -> None:
        self._technique = int(value)

    def GetRaycastTechnique(self) -> int:
        return self._technique


class vtkMRMLCameraNode(vtkMRMLNode):
    """A camera node on a real ``vtkCamera``."""

    def __init__(self) -> None:
        super().__init__()
        self._camera = vtk.vtkCamera()
        self.clipping_resets = 0

    def GetCamera(self) -> vtk.vtkCamera:
        return self._camera

    def SetPosition(self, *xyz: float) -> None:
        self._camera.SetPosition(*(xyz[0] if len(xyz) == 1 else xyz))

    def GetPosition(self) -> tuple[float, float, float]:
        return self._camera.GetPosition()

    def SetFocalPoint(self, *xyz: float) -> None:
        self._camera.SetFocalPoint(*(xyz[0] if len(xyz) == 1 else xyz))

    def GetFocalPoint(self) -> tuple[float, float, float]:
        return self._camera.GetFocalPoint()

    def SetViewUp(self, *xyz: float) -> None:
        self._camera.SetViewUp(*(xyz[0] if len(xyz) == 1 else xyz))

    def GetViewUp(self) -> tuple[float, float, float]:
        return self._camera.GetViewUp()

    def ResetClippingRange(self) -> None:
        self.clipping_resets += 1


_NODE_CLASSES = {
    cls.__name__: cls
    for cls in (
        vtkMRMLScriptedModuleNode,
        vtkMRMLScalarVolumeNode,
        vtkMRMLVectorVolumeNode,
        vtkMRMLLabelMapVolumeNode,
        vtkMRMLScalarVolumeDisplayNode,
        vtkMRMLLabelMapVolumeDisplayNode,
        vtkMRMLModelNode,
        vtkMRMLModelDisplayNode,
        vtkMRMLVolumePropertyNode,
        vtkMRMLVolumeRenderingDisplayNode,
        vtkMRMLViewNode,
        vtkMRMLCameraNode,
    )
}


class vtkMRMLScene:
    """An ordered collection of nodes with Slicer-style IDs."""

    StartCloseEvent = 66000
    EndCloseEvent = 66001

    def __init__(self) -> None:
        self._nodes: list[vtkMRMLNode] = []
        self._counters: dict[str, itertools.count[int]] = {}

    def CreateNodeByClass(self, class_name: str) -> vtkMRMLNode:
        try:
            return _NODE_CLASSES[class_name]()
        except KeyError:
            raise NotImplementedError(f"stand-in scene cannot make {class_name}") from None

    def AddNode(self, node: vtkMRMLNode) -> vtkMRMLNode:
        counter = self._counters.setdefault(node.GetClassName(), itertools.count(1))
        node._id = f"{node.GetClassName()}{next(counter)}"
        node.scene = self
        if not node.GetName():
            node.SetName(self.GenerateUniqueName(node.GetClassName().replace("vtkMRML", "")))
        self._nodes.append(node)
        return node

    def AddNewNodeByClass(self, class_name: str, name: str = "") -> vtkMRMLNode:
        node = self.CreateNodeByClass(class_name)
        if name:
            node.SetName(self.GenerateUniqueName(name))
        return self.AddNode(node)

    def RemoveNode(self, node: vtkMRMLNode) -> None:
        self._nodes.remove(node)
        node.scene = None

    def GenerateUniqueName(self, base: str) -> str:
        taken = {n.GetName() for n in self._nodes}
        if base not in taken:
            return base
        for number in itertools.count(1):
            if f"{base}_{number}" not in taken:
                return f"{base}_{number}"
        raise AssertionError("unreachable")

    def GetNodes(self) -> list[vtkMRMLNode]:
        return list(self._nodes)

    def GetNodesByClass(self, class_name: str) -> list[vtkMRMLNode]:
        return [n for n in self._nodes if n.IsA(class_name)]

    def GetFirstNodeByClass(self, class_name: str) -> vtkMRMLNode | None:
        found = self.GetNodesByClass(class_name)
        return found[0] if found else None

    def GetNumberOfNodesByClass(self, class_name: str) -> int:
        return len(self.GetNodesByClass(class_name))

    def GetNthNodeByClass(self, index: int, class_name: str) -> vtkMRMLNode | None:
        found = self.GetNodesByClass(class_name)
        return found[index] if 0 <= index < len(found) else None

    def GetNodeByID(self, node_id: str) -> vtkMRMLNode | None:
        return next((n for n in self._nodes if n.GetID() == node_id), None)

    def GetSingletonNode(self, tag: str, class_name: str) -> vtkMRMLNode | None:
        return next(
            (n for n in self.GetNodesByClass(class_name) if n.GetSingletonTag() == tag), None
        )

    def Clear(self, _remove_singletons: int = 0) -> None:
        # Slicer keeps the view and camera nodes of the layout when the scene is cleared.
        self._nodes = [
            n for n in self._nodes if n.IsA("vtkMRMLViewNode") or n.IsA("vtkMRMLCameraNode")
        ]


class _VolumeRenderingLogic:
    """``slicer.modules.volumerendering.logic()``: creates and finds VR display nodes."""

    def __init__(self, scene: vtkMRMLScene) -> None:
        self._scene = scene

    def CreateDefaultVolumeRenderingNodes(
        self, volume: vtkMRMLVolumeNode
    ) -> vtkMRMLVolumeRenderingDisplayNode:
        display = self._scene.AddNewNodeByClass("vtkMRMLVolumeRenderingDisplayNode")
        display._property_node = self._scene.AddNewNodeByClass("vtkMRMLVolumePropertyNode")  # type: ignore[attr-defined]
        display.volume = volume  # type: ignore[attr-defined]
        return display  # type: ignore[return-value]

    def GetFirstVolumeRenderingDisplayNode(
        self, volume: vtkMRMLVolumeNode
    ) -> vtkMRMLVolumeRenderingDisplayNode | None:
        for node in self._scene.GetNodesByClass("vtkMRMLVolumeRenderingDisplayNode"):
            if node.volume is volume:  # type: ignore[attr-defined]
                return node  # type: ignore[return-value]
        return None


# ------------------------------------------------------------- ScriptedLoadableModule
def _scripted_loadable_module(slicer: types.ModuleType) -> types.ModuleType:
    module = types.ModuleType("slicer.ScriptedLoadableModule")

    class ScriptedLoadableModule:
        def __init__(self, parent: Any) -> None:
            self.parent = parent
            self.moduleName = type(self).__name__

    class ScriptedLoadableModuleWidget:
        def __init__(self, parent: Any = None) -> None:
            self.parent = parent
            self.moduleName = type(self).__name__.removesuffix("Widget")

    class ScriptedLoadableModuleLogic:
        def __init__(self, parent: Any = None) -> None:
            self.moduleName = type(self).__name__.removesuffix("Logic")
            self.isSingletonParameterNode = True

        def getParameterNode(self) -> vtkMRMLNode:
            scene = slicer.mrmlScene
            node = scene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
            if node is None:
                node = scene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
                node.SetSingletonTag(self.moduleName)
                node.SetAttribute("ModuleName", self.moduleName)
                node.SetName(self.moduleName)
                scene.AddNode(node)
            return node

    class ScriptedLoadableModuleTest(unittest.TestCase):
        def delayDisplay(self, message: str, msec: int | None = None) -> None:
            pass

    for cls in (
        ScriptedLoadableModule,
        ScriptedLoadableModuleWidget,
        ScriptedLoadableModuleLogic,
        ScriptedLoadableModuleTest,
    ):
        cls.__module__ = module.__name__
        setattr(module, cls.__name__, cls)
    return module


def _parameter_node_wrapper() -> types.ModuleType:
    """``parameterNodeWrapper``: typed attributes with defaults, stored with the node."""
    module = types.ModuleType("slicer.parameterNodeWrapper")

    def parameterNodeWrapper(cls: type) -> type:
        names = list(getattr(cls, "__annotations__", {}))
        defaults = {name: getattr(cls, name, None) for name in names}

        def __init__(self: Any, node: vtkMRMLNode) -> None:
            object.__setattr__(self, "parameterNode", node)
            store = node.__dict__.setdefault("_typed_parameters", {})
            for name in names:
                store.setdefault(name, defaults[name])

        def __getattr__(self: Any, name: str) -> Any:
            store = self.parameterNode.__dict__["_typed_parameters"]
            if name in store:
                return store[name]
            raise AttributeError(name)

        def __setattr__(self: Any, name: str, value: Any) -> None:
            if name not in names:
                raise AttributeError(f"stand-in parameter node has no parameter {name!r}")
            self.parameterNode.__dict__["_typed_parameters"][name] = value

        return type(
            cls.__name__,
            (),
            {"__init__": __init__, "__getattr__": __getattr__, "__setattr__": __setattr__},
        )

    module.parameterNodeWrapper = parameterNodeWrapper  # type: ignore[attr-defined]
    return module


# ----------------------------------------------------------------------- slicer.util
class StandIn:
    """The injected modules plus what the test controls and inspects.

    Attributes
    ----------
    slicer : module
        The stand-in ``slicer`` module (``slicer.mrmlScene`` is a fresh scene).
    consent : bool
        What ``slicer.util.confirmOkCancelDisplay`` answers.
    questions : list of str
        Texts the Logic asked the user to confirm.
    pip_calls : list
        Arguments of every ``slicer.util.pip_install`` call.
    slice_layers : list of dict
        Arguments of every ``slicer.util.setSliceViewerLayers`` call.
    """

    def __init__(self) -> None:
        self.consent = True
        self.questions: list[str] = []
        self.pip_calls: list[Any] = []
        self.pip_side_effect: Any = None
        self.slice_layers: list[dict[str, Any]] = []
        self.slicer = self._build()

    def _build(self) -> types.ModuleType:
        slicer = types.ModuleType("slicer")
        slicer.__doc__ = (
            "STAND-IN for 3D Slicer's slicer module (tests only; see tests/slicer_standin)."
        )
        slicer.__path__ = []  # a package, so "import slicer.util" works
        scene = vtkMRMLScene()
        for name in ("vtkMRMLViewNode", "vtkMRMLCameraNode"):
            scene.AddNewNodeByClass(name)  # the default layout's 3-D view
        slicer.mrmlScene = scene  # type: ignore[attr-defined]
        for name, cls in _NODE_CLASSES.items():
            setattr(slicer, name, cls)
        slicer.vtkMRMLVolumeNode = vtkMRMLVolumeNode  # type: ignore[attr-defined]
        slicer.vtkMRMLScene = vtkMRMLScene  # type: ignore[attr-defined]
        rendering = _VolumeRenderingLogic(scene)
        slicer.modules = types.SimpleNamespace(  # type: ignore[attr-defined]
            volumerendering=types.SimpleNamespace(logic=lambda: rendering)
        )
        slicer.util = self._util(slicer)  # type: ignore[attr-defined]
        slicer.ScriptedLoadableModule = _scripted_loadable_module(slicer)  # type: ignore[attr-defined]
        slicer.parameterNodeWrapper = _parameter_node_wrapper()  # type: ignore[attr-defined]
        return slicer

    def _util(self, slicer: types.ModuleType) -> types.ModuleType:
        util = types.ModuleType("slicer.util")
        standin = self

        def arrayFromVolume(node: vtkMRMLVolumeNode) -> np.ndarray:
            image = node.GetImageData()
            scalars = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
            shape = tuple(reversed(image.GetDimensions()))
            components = image.GetNumberOfScalarComponents()
            return scalars.reshape(shape + ((components,) if components > 1 else ()))

        def arrayFromModelPoints(node: vtkMRMLModelNode) -> np.ndarray:
            return numpy_support.vtk_to_numpy(node.GetPolyData().GetPoints().GetData())

        def setSliceViewerLayers(**kwargs: Any) -> None:
            standin.slice_layers.append(kwargs)

        def confirmOkCancelDisplay(text: str, windowTitle: str | None = None, **_: Any) -> bool:
            standin.questions.append(text)
            return standin.consent

        def pip_install(requirements: Any, **kwargs: Any) -> None:
            standin.pip_calls.append(requirements)
            if standin.pip_side_effect is not None:
                standin.pip_side_effect(requirements)

        @contextlib.contextmanager
        def tryWithErrorDisplay(message: str | None = None, **_: Any) -> Iterator[None]:
            yield

        class VTKObservationMixin:
            def __init__(self) -> None:
                self.observations: list[Any] = []

        for function in (
            arrayFromVolume,
            arrayFromModelPoints,
            setSliceViewerLayers,
            confirmOkCancelDisplay,
            pip_install,
            tryWithErrorDisplay,
        ):
            setattr(util, function.__name__, function)
        util.VTKObservationMixin = VTKObservationMixin  # type: ignore[attr-defined]
        return util

    def modules(self) -> dict[str, types.ModuleType]:
        """What goes into ``sys.modules``."""
        return {
            "slicer": self.slicer,
            "slicer.util": self.slicer.util,  # type: ignore[attr-defined]
            "slicer.ScriptedLoadableModule": self.slicer.ScriptedLoadableModule,  # type: ignore[attr-defined]
            "slicer.parameterNodeWrapper": self.slicer.parameterNodeWrapper,  # type: ignore[attr-defined]
            "qt": types.ModuleType("qt", "STAND-IN: empty; the Logic does not use Qt"),
            "ctk": types.ModuleType("ctk", "STAND-IN: empty; the Logic does not use CTK"),
        }


def install(monkeypatch: Any) -> StandIn:
    """Put a fresh stand-in into ``sys.modules`` for one test (undone by ``monkeypatch``)."""
    standin = StandIn()
    for name, module in standin.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    return standin
