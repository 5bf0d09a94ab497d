"""Startup: knows whether mitmproxy is up yet, and catches what its start-up lets slip through."""

from __future__ import annotations

import logging

from mitmproxy import ctx

from cot_proxy import options
from cot_proxy import redact
from cot_proxy.seams import logs

logger = logging.getLogger(__name__)


class Startup:
    def running(self) -> None:
        redact.install_on_root_handlers()
        logs.drop_legacy_log_bridge()
        if ctx.options.termlog_verbosity != "debug":
            logs.quiet_connection_logs()
        if ctx.options.deferred:
            # mitmproxy keeps unknown --set names for addons that might load later: none will.
            logger.error("Unknown option(s): %s", ", ".join(sorted(ctx.options.deferred)))
        options.set_running(True)

    def done(self) -> None:
        options.set_running(False)
