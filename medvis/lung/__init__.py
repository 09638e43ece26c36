"""Lungs from a chest CT: segmentation, closed surfaces, volumes (pipeline layer, no OpenGL).

>>> import medvis
>>> from medvis.lung import segment_lungs, label_surfaces, build_report
>>> ct = medvis.load("chest-ct/dicom")                        # doctest: +SKIP
>>> lungs = segment_lungs(ct)                                 # doctest: +SKIP
>>> surfaces = label_surfaces(lungs.labels, names=lungs.names, smoothing=15)  # doctest: +SKIP
>>> report = build_report(ct, lungs.labels, surfaces, segmentation=lungs)     # doctest: +SKIP

:func:`label_surfaces` works on any label map (that is how the accuracy is checked
against pyradiomics). Everything here imports VTK's data and filter modules only;
pictures are made by :mod:`medvis.render` (see ``medvis lung``).
"""

from medvis.lung.mesh_files import MESH_FORMATS, write_surface, write_surfaces
from medvis.lung.meshes import (
    decimate_surface,
    display_mesh,
    is_closed,
    mesh_properties,
    smooth_surface,
    to_ras,
)
from medvis.lung.report import build_report, format_report, hu_statistics, report_json
from medvis.lung.segmentation import (
    DEFAULT_HU_RANGE,
    LEFT_LUNG,
    LUNG_COLOURS,
    LUNG_NAMES,
    RIGHT_LUNG,
    LungNotFoundError,
    LungSegmentation,
    segment_lungs,
)
from medvis.lung.surfaces import Surface, label_surfaces

__all__ = [
    "DEFAULT_HU_RANGE",
    "LEFT_LUNG",
    "LUNG_COLOURS",
    "LUNG_NAMES",
    "MESH_FORMATS",
    "RIGHT_LUNG",
    "LungNotFoundError",
    "LungSegmentation",
    "Surface",
    "build_report",
    "decimate_surface",
    "display_mesh",
    "format_report",
    "hu_statistics",
    "is_closed",
    "label_surfaces",
    "mesh_properties",
    "report_json",
    "segment_lungs",
    "smooth_surface",
    "to_ras",
    "write_surface",
    "write_surfaces",
]
