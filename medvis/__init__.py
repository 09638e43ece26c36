"""medvis: open any medical image format with its true geometry, and show it.

The world is LPS (DICOM patient coordinates). See :class:`medvis.Volume`.
"""

from medvis.errors import MedvisError
from medvis.io import load, save
from medvis.volume import Volume

__all__ = ["Volume", "load", "save", "MedvisError", "__version__"]
__version__ = "0.1.0"
