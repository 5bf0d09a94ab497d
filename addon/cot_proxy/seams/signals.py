"""Taking over SIGTERM and SIGINT from mitmproxy, to drain before stopping.

mitmproxy's `tools/main.py` binds both signals to `master.shutdown()`, which stops at once and
cuts every stream in flight. We rebind them on the running loop (replacing its handlers) so
that the shutdown part can drain first. Upstream: issue #3895 ("Graceful shutdown", open) and
PR #8378 ("Add graceful shutdown on SIGINT/SIGTERM", open); once mitmproxy drains itself,
this seam goes.

Guarded by tests/e2e/test_shutdown.py.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from mitmproxy import ctx

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signal(callback: Callable[[], None]) -> None:
    """Call `callback` on the event loop for each SIGTERM or SIGINT, instead of mitmproxy's stop."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, callback)


def stop_now() -> None:
    """What mitmproxy itself does on a signal: end the run (exit status 0)."""
    ctx.master.shutdown()
