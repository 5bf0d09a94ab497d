"""Is the target answering? One HTTP request with a deadline, without blocking the event loop.

Pure asyncio, no mitmproxy import.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import tempfile
from pathlib import Path

import certifi
from cryptography import x509

from cot_proxy.routing import Target


def ssl_context_for(verify: bool, cafile: str | None) -> ssl.SSLContext:
    """The TLS settings mitmproxy uses for the target, for our own connections to it."""
    context = ssl.create_default_context(cafile=cafile or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def trust_bundle_with(extra_pem: str) -> str:
    """Write the public CA list plus the certificates in `extra_pem` to a private file; return its path.

    Raises ValueError with a readable message when the file is missing or holds no certificate.
    """
    try:
        extra = Path(extra_pem).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(
            f"TARGET_CA_BUNDLE {extra_pem!r} cannot be read: {getattr(e, 'strerror', None) or e}"
        ) from None
    try:
        found = x509.load_pem_x509_certificates(extra.encode())
    except ValueError:
        found = []
    if not found:
        raise ValueError(f"TARGET_CA_BUNDLE {extra_pem!r} holds no PEM certificate")
    fd, path = tempfile.mkstemp(prefix="cot-proxy-ca-", suffix=".pem")
    with os.fdopen(fd, "w") as bundle:
        bundle.write(Path(certifi.where()).read_text())
        bundle.write("\n")
        bundle.write(extra)
    return path


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
    tls: ssl.SSLContext | None = None
    if target.scheme == "https":
        tls = ssl_context or ssl.create_default_context()
    reader, writer = await asyncio.open_connection(
        target.host, target.port, ssl=tls, server_hostname=target.host if tls else None
    )
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
