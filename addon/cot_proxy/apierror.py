"""Error bodies in OpenAI's shape (the other APIs' are their formats': `RequestSide.error_body`),
so clients' SDKs show a readable message.

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cot_proxy.formats._api import EndpointFormat


def error_body(message: str, type: str, code: str | None = None) -> bytes:
    """`{"error": {"message": ..., "type": ..., "code": ...}}` as UTF-8 JSON."""
    return json.dumps({"error": {"message": message, "type": type, "code": code}}).encode()


def error_body_for(fmt: EndpointFormat | None, message: str, type: str, code: str) -> bytes:
    """An error in the shape of the format's API, so its official client shows it
    (`RequestSide.error_body`: Anthropic's, Ollama's), OpenAI's for a path of no known format."""
    if fmt is None:
        return error_body(message, type, code)
    return fmt.error_body(message, type, code)


# Status codes mitmproxy itself may answer with, mapped to our error type and code.
STATUS_KINDS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "bad_request"),
    401: ("authentication_error", "unauthorized"),
    408: ("timeout_error", "request_timeout"),
    413: ("invalid_request_error", "request_too_large"),
    502: ("upstream_error", "bad_gateway"),
    503: ("upstream_error", "service_unavailable"),
    504: ("upstream_error", "gateway_timeout"),
}


def error_body_for_status(status: int, message: str) -> bytes:
    type_, code = STATUS_KINDS.get(status, ("proxy_error", f"http_{status}"))
    return error_body(message or f"HTTP {status}", type_, code)
