"""``python -m neurorect.cli``: the ``neurorect`` command."""

import sys

from neurorect.cli import main

sys.exit(main())
