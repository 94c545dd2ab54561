"""``python -m lsr.cli``: the ``lsr`` command."""

import sys

from lsr.cli import main

sys.exit(main())
