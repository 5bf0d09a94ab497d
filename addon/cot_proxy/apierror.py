"""Error bodies in OpenAI's shape, so clients' SDKs show a readable message.

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import json


def error_body(message: str, type: str, code: str | None = None) -> bytes:
    """`{"error": {"message": ..., "type": ..., "code": ...}}` as UTF-8 JSON."""
    return json.dumps({"error": {"message": message, "type": type, "code": code}}).encode()


def error_body_for(endpoint: str | None, message: str, type: str, code: str) -> bytes:
    """An error in the shape of the endpoint's API, so its official client shows it:
    Anthropic's `{"type": "error", "error": {"type", "message"}}`, Ollama's `{"error": message}`
    (its client raises ResponseError with it), OpenAI's elsewhere. The code rides along."""
    if endpoint == "messages":
        error = {"type": type, "message": message, "code": code}
        return json.dumps({"type": "error", "error": error}).encode()
    if endpoint in ("ollama_chat", "ollama_generate"):
        return json.dumps({"error": message, "code": code}).encode()
    return error_body(message, type, code)


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
