"""The keys of the reasoning memory: whose answer, which model, which turn.

A stored entry is found by one key made of three digests, never by position:
- the owner: HMAC-SHA-256, keyed with the fixed label `OWNER_LABEL`, of the client's credential
  (`Authorization`, else `x-api-key`, else `api-key`) as the client sent it, before the gateway
  may replace it (`parts/gateway.py`: with TARGET_API_KEY the target sees one key for all). The
  label is no secret (every worker and replica must compute the same key); what it buys is that
  a stored key is no plain SHA-256 of the credential, so no table of digests of known keys
  matches it. A request without a credential is owned by `ANONYMOUS`: all of those share it.
- the model, as the client named it;
- the turn's fingerprint: SHA-256 of the normalised final text (whitespace runs collapsed, ends
  trimmed) and the sorted tool-call ids.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from collections.abc import Mapping

OWNER_LABEL = b"cot-proxy reasoning memory owner v1"
ANONYMOUS = "anonymous"
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key")
KEY_PREFIX = "cot-proxy:reasoning:"


def owner_of(headers: Mapping[str, str]) -> str:
    """The owner digest of a request's credential headers (`ANONYMOUS` without any)."""
    for name in CREDENTIAL_HEADERS:
        value = headers.get(name, "").strip()
        if value:
            digest = hmac.new(OWNER_LABEL, f"{name}:{value}".encode(), hashlib.sha256)
            return digest.hexdigest()
    return ANONYMOUS


def normalise(text: str) -> str:
    """Whitespace runs as one space, none at the ends (str.split: faster than a regex)."""
    return " ".join(text.split())


def fingerprint(text: str, tool_ids: Iterable[str]) -> str | None:
    """The turn's digest; None for a turn with neither text nor tool calls (nothing to know it by)."""
    norm = normalise(text)
    ids = sorted({i for i in tool_ids if i})
    if not norm and not ids:
        return None
    data = norm + "\x00" + "\x00".join(ids)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def entry_key(owner: str, model: str, turn: str) -> str:
    """The store key of one turn: nothing in it can be read back to the credential or the text."""
    model_digest = hashlib.sha256(model.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{KEY_PREFIX}{owner[:64]}:{model_digest}:{turn}"
