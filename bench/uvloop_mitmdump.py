"""mitmdump on uvloop, for the benchmark's event-loop comparison: `python uvloop_mitmdump.py ARGS`.

mitmproxy starts its loop with asyncio.run() before it loads any addon, so an addon cannot
choose the loop: the policy is set here, before mitmproxy's main() runs. Nothing else changes.
bench/run.py starts the floor with it directly, and the project through a `mitmdump` on PATH
that runs this file (./entrypoint.sh runs whatever mitmdump it finds).
"""

import asyncio
import sys

import uvloop

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

from mitmproxy.tools.main import mitmdump  # noqa: E402

if __name__ == "__main__":
    sys.exit(mitmdump())
