"""``python -m ppgen``: the command line (also ``torchrun --nproc-per-node N -m ppgen fit``)."""

import sys

from .cli import main

sys.exit(main())
