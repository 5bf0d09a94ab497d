"""Where a request goes: the target base URL and how client paths are joined to it.

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
import urllib.parse

from cot_proxy.formats import endpoint_ending

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclasses.dataclass(frozen=True)
class Target:
    """The upstream server, split the way mitmproxy needs it.

    A reverse-mode spec cannot carry a path, so the path becomes a prefix that
    the addon prepends to every client path.
    """

    url: str
    scheme: str
    host: str
    port: int
    path_prefix: str  # "" or "/x/v1" (no trailing slash)

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def host_header(self) -> str:
        """The Host header value for the target: host, and port unless it is the scheme's default."""
        return self.origin.split("://", 1)[1]

    def upstream_path(self, client_path: str) -> str:
        """Join the base path and the client's path (query string kept).

        `/v1` is not doubled: base `/v1/` + `/v1/chat/completions` gives
        `/v1/chat/completions`, as clients configured with either URL expect.
        Ollama's native paths (`/api/…`) live beside its `/v1`, not under it: base
        `http://h:11434/v1` + `/api/chat` gives `/api/chat` (and `/api` is not doubled either).
        """
        if not client_path.startswith("/"):
            # Origin-form only; "*" (OPTIONS) and anything odd is sent as the bare prefix.
            client_path = "/" + client_path if client_path != "*" else "/"
        bare = client_path.split("?", 1)[0]
        prefix = self.path_prefix
        if _under(bare, "/api"):
            prefix = _without_last(_without_last(prefix, "/v1"), "/api")
        elif _under(bare, "/v1"):
            prefix = _without_last(prefix, "/v1")
        return prefix + client_path


def _under(path: str, segment: str) -> bool:
    """`path` is `segment` or below it (`/v1`, `/v1/…`; not `/v10`)."""
    return path == segment or path.startswith(segment + "/")


def _without_last(prefix: str, segment: str) -> str:
    """`prefix` without `segment` at its end (`/x/v1` -> `/x`), or unchanged."""
    return prefix[: -len(segment)] if prefix.endswith(segment) else prefix


def parse_target(url: str) -> Target:
    """Validate TARGET_BASE_URL; raise ValueError with a message a user understands."""
    text = url.strip()
    if not text:
        raise ValueError(
            "TARGET_BASE_URL is empty: set it to your LLM server, e.g. http://localhost:8000/v1"
        )
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(
            f"TARGET_BASE_URL {url!r} must start with http:// or https:// (e.g. http://localhost:8000/v1)"
        )
    if parts.username or parts.password:
        raise ValueError(f"TARGET_BASE_URL {url!r} must not contain credentials")
    if parts.query or parts.fragment:
        raise ValueError(f"TARGET_BASE_URL {url!r} must not contain a query string or fragment")
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as e:
        raise ValueError(f"TARGET_BASE_URL {url!r} has an invalid port: {e}") from None
    if not host:
        raise ValueError(f"TARGET_BASE_URL {url!r} has no host name")
    if port == 0:
        raise ValueError(f"TARGET_BASE_URL {url!r} has an invalid port: 0")
    prefix = parts.path.rstrip("/")
    if "//" in prefix or any(seg in (".", "..") for seg in prefix.split("/")):
        raise ValueError(f"TARGET_BASE_URL {url!r} has an unusual path; write it plainly, e.g. /v1")
    ending = endpoint_ending(prefix)
    if ending:
        base = text.rstrip("/")[: -len(ending)]
        raise ValueError(
            f"TARGET_BASE_URL {url!r} is a whole endpoint: give the server's base URL, {base} "
            f"(clients add {ending} themselves)"
        )
    return Target(
        url=text,
        scheme=scheme,
        host=host,
        port=port or DEFAULT_PORTS[scheme],
        path_prefix=prefix,
    )
