"""Is the target answering? One HTTP request with a deadline, without blocking the event loop.

Pure asyncio, no mitmproxy import.
"""

from __future__ import annotations

import asyncio
import ssl

from cot_proxy.routing import Target
from cot_proxy.tls import open_connection


async def probe_target(
    target: Target, timeout: float, ssl_context: ssl.SSLContext | None = None
) -> str | None:
    """Return None when the target answers any HTTP response within `timeout` seconds, else why not."""
    try:
        return await asyncio.wait_for(_probe(target, ssl_context), timeout)
    except TimeoutError:
        return f"no answer from {target.origin} within {timeout:g} s"
    except ssl.SSLError as e:
        return f"TLS error talking to {target.origin}: {e.reason or e}"
    except OSError as e:
        return f"cannot connect to {target.origin}: {e.strerror or e}"


async def _probe(target: Target, ssl_context: ssl.SSLContext | None) -> str | None:
    reader, writer = await open_connection(target, ssl_context)
    try:
        host = target.host_header
        path = (target.path_prefix or "") + "/"
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: cot-proxy-health\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    if not status_line.startswith(b"HTTP/"):
        return (
            f"{target.origin} did not answer with HTTP"
            if status_line
            else f"{target.origin} closed the connection"
        )
    return None
