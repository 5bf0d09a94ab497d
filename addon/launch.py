"""Start mitmdump or mitmweb on the event loop EVENT_LOOP names: `python launch.py mitmdump ARGS`.

entrypoint.sh runs the proxy through this file. mitmproxy starts its loop with asyncio.run()
before it loads any addon, so the addon cannot choose the loop; the policy is set here, before
mitmproxy's main() runs. uvloop (the default) costs less per request than asyncio's own loop
(figures: README, Performance); EVENT_LOOP=asyncio runs on the standard loop. Without uvloop
installed the standard loop is used, with one line saying so.

No cot_proxy import: the addon is loaded by mitmproxy itself (-s addon/main.py).
"""

from __future__ import annotations

import asyncio
import os
import sys


def use_event_loop(name: str) -> str:
    """Set the asyncio policy for `name` (uvloop or asyncio); returns the loop actually chosen."""
    if name != "uvloop":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        print("cot-proxy: uvloop is not installed; running on asyncio's loop", file=sys.stderr)
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def main() -> int | None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("mitmdump", "mitmweb"):
        print("usage: launch.py mitmdump|mitmweb [ARGS...]", file=sys.stderr)
        return 2
    tool = sys.argv.pop(1)
    sys.argv[0] = tool  # mitmproxy's messages name the tool
    use_event_loop(os.environ.get("EVENT_LOOP", "uvloop").strip().lower())
    from mitmproxy.tools import main as tools

    return tools.mitmdump() if tool == "mitmdump" else tools.mitmweb()


if __name__ == "__main__":
    sys.exit(main())
