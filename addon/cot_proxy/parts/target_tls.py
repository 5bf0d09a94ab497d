"""TargetTls: TLS to an https target, verified by default, a custom CA added on request, off only explicitly."""

from __future__ import annotations

import logging
import os
import ssl

from mitmproxy import addonmanager
from mitmproxy import ctx

from cot_proxy.options import declare
from cot_proxy.options import reject
from cot_proxy.tls import ssl_context_for
from cot_proxy.tls import trust_bundle_with

logger = logging.getLogger(__name__)


class TargetTls:
    def __init__(self) -> None:
        self._bundle: str | None = None

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "target_ca_bundle")

    def configure(self, updated: set[str]) -> None:
        if "target_ca_bundle" in updated and ctx.options.target_ca_bundle:
            try:
                bundle = trust_bundle_with(ctx.options.target_ca_bundle)
            except ValueError as e:
                reject(str(e))
                return
            self.done()
            self._bundle = bundle
            # mitmproxy verifies the target against this one file (it replaces its default list).
            ctx.options.update(ssl_verify_upstream_trusted_ca=bundle)

    def done(self) -> None:
        if self._bundle:
            os.unlink(self._bundle)
            self._bundle = None

    def running(self) -> None:
        if ctx.options.ssl_insecure:
            logger.warning(
                "TLS verification of the target is OFF (TARGET_TLS_VERIFY=false): "
                "anyone on the path can read and change traffic"
            )

    def ssl_context(self) -> ssl.SSLContext:
        return ssl_context_for(
            verify=not ctx.options.ssl_insecure, cafile=ctx.options.ssl_verify_upstream_trusted_ca
        )
