"""Publish the latest benchmark run (`make bench-publish`): bench/LATEST.md, its pictures in
bench/results/ and the table in docs/performance.md. See bench/cotbench/publish.py.

    python bench/publish.py [--run bench/results/latest.md] [--force]
"""

import sys

from cotbench.publish import main

if __name__ == "__main__":
    sys.exit(main())
