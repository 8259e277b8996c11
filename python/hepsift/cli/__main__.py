"""``python -m hepsift.cli``: the same as the ``hepsift`` command."""

import sys

from hepsift.cli import main

sys.exit(main())
