"""TLS towards the target: the context for our own connections, and the trust bundle file.

Pure logic, no mitmproxy import.
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
        reason = getattr(e, "strerror", None) or e
        raise ValueError(f"TARGET_CA_BUNDLE {extra_pem!r} cannot be read: {reason}") from None
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


async def open_connection(
    target: Target, ssl_context: ssl.SSLContext | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection of our own to the target (the /health probe, detection), TLS when it is https."""
    tls: ssl.SSLContext | None = None
    if target.scheme == "https":
        tls = ssl_context or ssl.create_default_context()
    return await asyncio.open_connection(
        target.host, target.port, ssl=tls, server_hostname=target.host if tls else None
    )
