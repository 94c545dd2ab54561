"""``python -m lsr.cli``: the ``lsr`` command."""

from lsr.cli import main

raise SystemExit(main())
