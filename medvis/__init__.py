"""medvis: open any medical image format with its true geometry, and show it.

The world is LPS (DICOM patient coordinates). See :class:`medvis.Volume`.
"""

from medvis.errors import MedvisError
from medvis.io import load, save
from medvis.volume import Volume

__all__ = ["Volume", "load", "save", "view", "MedvisError", "__version__"]
__version__ = "0.1.0"


def view(volume: Volume, **options: object) -> int:
    """Open the four-up viewer window on ``volume`` (see :func:`medvis.render.viewer.view`).

    VTK's rendering is imported only here, so ``import medvis`` stays light.
    """
    from medvis.render.viewer import view as _view

    return _view(volume, **options)
