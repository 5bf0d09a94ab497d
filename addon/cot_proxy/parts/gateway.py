"""Gateway: optional keys a client must present, and the target's key set by the proxy.

Read from the environment, never from argv, where `ps` would show them:
PROXY_API_KEYS: comma-separated keys a client must present (Authorization: Bearer …), else 401.
TARGET_API_KEY: the credential sent to the target instead of the client's.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Mapping

from mitmproxy import http

from cot_proxy.flow import answer_error

logger = logging.getLogger(__name__)

SECRET_HEADERS = ("authorization", "api-key", "x-api-key")


class Gateway:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.client_keys = [
            k.strip().encode() for k in env.get("PROXY_API_KEYS", "").split(",") if k.strip()
        ]
        self.target_key = env.get("TARGET_API_KEY", "").strip()

    def running(self) -> None:
        if self.client_keys:
            logger.info("gateway keys required: %d configured", len(self.client_keys))
        if self.target_key:
            logger.info("the target's key is set by the proxy (TARGET_API_KEY)")

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or self.deny(flow):
            return
        if self.target_key:
            for name in SECRET_HEADERS:
                flow.request.headers.pop(name, None)
            flow.request.headers["authorization"] = f"Bearer {self.target_key}"

    def deny(self, flow: http.HTTPFlow) -> bool:
        """Answer 401 when keys are required and the flow has none of them; whether it did."""
        if self.client_keys and not self._authorized(flow.request.headers.get("authorization", "")):
            response = answer_error(
                flow,
                401,
                "Missing or invalid API key for this proxy: send Authorization: Bearer <key>",
                "authentication_error",
                "invalid_api_key",
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return True
        return False

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        presented = token.strip().encode() if scheme.lower() == "bearer" else b""
        # Compare with every key, in constant time, so timing tells nothing about which or how much matched.
        matched = False
        for key in self.client_keys:
            matched |= hmac.compare_digest(presented, key)
        return matched and bool(presented)
