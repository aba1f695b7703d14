"""``python -m harlearn``: the ``harlearn`` command (see :mod:`harlearn.cli`); also what torchrun runs.

``torchrun --nproc_per_node=N -m harlearn train MODEL --data NAME`` starts N processes of it.
"""

import sys

from harlearn.cli import main

if __name__ == "__main__":
    sys.exit(main())
