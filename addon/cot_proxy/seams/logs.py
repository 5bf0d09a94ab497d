"""mitmproxy's log plumbing that costs a reverse proxy on every request.

- mitmproxy forwards every log record to the deprecated `add_log` hook of all its addons,
  through the event loop (`mitmproxy.log.LegacyLogEvents`, kept for addons written before
  mitmproxy 9). None of ours or its own uses it, and with one log line per request it was half
  of this addon's cost on small requests (bench/, commit dc87064).
- `mitmproxy.proxy.server` logs each client connect and disconnect at INFO.

Guarded by the log tests in tests/e2e/test_core.py.
"""

from __future__ import annotations

import logging

from mitmproxy import log as mitmproxy_log


def drop_legacy_log_bridge() -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, mitmproxy_log.LegacyLogEvents):
            root.removeHandler(handler)


def quiet_connection_logs() -> None:
    """Connects and disconnects only at WARNING: our one line per request is enough."""
    logging.getLogger("mitmproxy.proxy.server").setLevel(logging.WARNING)
