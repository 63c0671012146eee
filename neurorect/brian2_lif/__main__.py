"""The C++ standalone child process: ``python -m neurorect.brian2_lif SPEC OUT PROJECT``.

Started by :func:`neurorect.brian2_lif.runner.run_standalone`; see
:func:`~neurorect.brian2_lif.runner.standalone_main`.
"""

import sys

from neurorect.brian2_lif.runner import standalone_main

if __name__ == "__main__":
    sys.exit(standalone_main(sys.argv[1:]))
