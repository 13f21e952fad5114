"""``python -m valuation``: the same as the ``valuation`` command."""

import sys

from valuation.cli import main

sys.exit(main())
