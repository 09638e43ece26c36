"""``medvis view``: a four-up viewer window (3-D + axial, coronal, sagittal) for one volume.

- :mod:`~medvis.render.viewer.logic`: cursor, slices, windows, presets, status (no window);
- :mod:`~medvis.render.viewer.slice_view` and :mod:`~medvis.render.viewer.view3d`: the views;
- :mod:`~medvis.render.viewer.app`: the window, its layout and the key actions;
- :mod:`~medvis.render.viewer.mouse`: buttons, drags, wheel;
- :mod:`~medvis.render.viewer.overlays`: the status line and the help box;
- :mod:`~medvis.render.viewer.script`: scripted sessions (tests, demos).

Examples
--------
>>> import medvis
>>> medvis.view(medvis.load("chest-ct/dicom/"))  # doctest: +SKIP
"""

from __future__ import annotations

from medvis.render.viewer.app import DisplayError, Viewer, has_display, view
from medvis.render.viewer.logic import KEYS, ViewerLogic
from medvis.render.viewer.script import Script, viewer_state

__all__ = [
    "KEYS",
    "DisplayError",
    "Script",
    "Viewer",
    "ViewerLogic",
    "has_display",
    "view",
    "viewer_state",
]
