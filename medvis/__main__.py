"""``python -m medvis`` runs the command line."""

import sys

from medvis.cli import main

sys.exit(main())
