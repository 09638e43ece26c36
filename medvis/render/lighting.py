"""The light of medvis's 3-D views: one headlight whose ambient colour is white.

VTK's CPU ray caster (``vtkFixedPointVolumeRayCastMapper``) multiplies a volume's ambient
coefficient by the ambient colour of each light, and the headlight VTK makes by itself
has a black ambient colour: the ambient term was lost, so CPU pictures came out darker
than the GPU mapper's, which applies the ambient term whatever the light (CT-Bone on the
chest CT: 14 % darker; a preset with ambient 1 and no diffuse: black against full colour).
With a white ambient colour both mappers light alike (within 3 % mean brightness on the
chest CT, ``tests/test_rendering_quality.py``). Surfaces (``vtkPolyData`` actors) are lit
by the light's diffuse and specular colours as before; their own ambient is 0 by default.
"""

from __future__ import annotations

from vtkmodules.vtkRenderingCore import vtkLight, vtkRenderer

__all__ = ["add_headlight"]


def add_headlight(renderer: vtkRenderer) -> vtkLight:
    """Give ``renderer`` a headlight (white, ambient white) and return it."""
    light = vtkLight()
    light.SetLightTypeToHeadlight()
    light.SetColor(1.0, 1.0, 1.0)
    light.SetAmbientColor(1.0, 1.0, 1.0)
    light.SetIntensity(1.0)
    renderer.AddLight(light)
    return light
