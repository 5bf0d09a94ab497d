"""cot-proxy benchmark: the project against plain mitmdump (the floor) and no proxy (direct).

    python bench/run.py            # the full run (under 10 minutes), or: make bench
    python bench/run.py --quick    # about 1-2 minutes, smaller counts
    python bench/run.py --smoke    # a few seconds: direct + project only, tiny counts

Everything listens on and talks to 127.0.0.1 only. Every process this script starts runs in its
own process group and is ended by PID at exit. See bench/README.md for the scenarios and knobs;
the code is the package bench/cotbench (bench/ is on sys.path: it is this script's directory).
"""

import sys

from cotbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
