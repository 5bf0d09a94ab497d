"""How mitmproxy listens: TCP only, SO_REUSEPORT for WORKERS, ports opened once we are loaded.

- mitmproxy binds with a plain `asyncio.start_server(handler, host, port)` in
  `mitmproxy.proxy.mode_servers.AsyncioServerInstance.listen`, with no way to pass
  `reuse_port`. We give that module an `asyncio` whose `start_server` sets it.
- For an https reverse target mitmproxy also opens a UDP port (HTTP/3 towards clients).
  Our clients speak plain HTTP/1.1, and a second worker could not bind that UDP port, so
  reverse-mode servers listen on TCP only.
- mitmproxy loads `-s` scripts in a task that can run after it has opened its ports, so
  entrypoint.sh starts it with server=false and `open_servers()` opens them from our
  `running` hook, through the proxyserver addon's `setup_servers()`. While they open, the
  proxyserver's error lines are held back and the failures (`ServerInstance.last_exception`)
  returned, so that a port in use is reported naming PORT, not mitmproxy's `--mode …@port`.

Guarded by tests/e2e/test_workers.py and the start-up tests in tests/e2e/test_core.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mitmproxy import ctx
from mitmproxy.proxy import mode_servers
from mitmproxy.proxy import mode_specs

from cot_proxy.seams import TESTED_MITMPROXY

_original_listen = mode_servers.AsyncioServerInstance.listen


class _AsyncioWithReusePort:
    """Stands in for the asyncio module inside mitmproxy.proxy.mode_servers."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def start_server(*args: Any, **kwargs: Any) -> asyncio.Server:
        kwargs.setdefault("reuse_port", True)
        return await asyncio.start_server(*args, **kwargs)


async def _listen_tcp_only(self: Any, host: str, port: int) -> Any:
    if isinstance(self.mode, mode_specs.ReverseMode) and self.mode.transport_protocol == "both":
        # The spec is a frozen (and cached) dataclass; this process only ever serves it over TCP.
        object.__setattr__(self.mode, "transport_protocol", "tcp")
    return await _original_listen(self, host, port)


def _check_seams() -> None:
    if getattr(mode_servers, "asyncio", None) is None or not callable(
        getattr(mode_servers.AsyncioServerInstance, "listen", None)
    ):
        raise RuntimeError(
            "mitmproxy's mode_servers changed: cot-proxy's listening seam needs updating "
            f"(tested with mitmproxy{TESTED_MITMPROXY})"
        )


def listen_tcp_only() -> None:
    _check_seams()
    mode_servers.AsyncioServerInstance.listen = _listen_tcp_only  # type: ignore[method-assign]


def share_port() -> None:
    """Bind listening sockets with SO_REUSEPORT: the kernel spreads connections over the processes."""
    _check_seams()
    if not isinstance(mode_servers.asyncio, _AsyncioWithReusePort):
        mode_servers.asyncio = _AsyncioWithReusePort()  # type: ignore[assignment]


async def open_servers() -> list[OSError]:
    """Open the proxy's ports now; return why each port that did not open failed.

    mitmproxy would log each failure itself, with advice for its own command line (`--mode
    reverse:…@PORT`): its log lines of the moment are held back so the caller can say it in
    our terms. Its error wraps the OSError from `bind` (`__cause__`), errno included.
    """
    proxyserver = ctx.master.addons.get("proxyserver")
    held = _HoldErrors()
    logger = logging.getLogger(_PROXYSERVER_LOGGER)
    logger.addFilter(held)
    try:
        # The option starts the servers in a task of its own (run eagerly); setup_servers
        # waits for that task's lock, so both are done when it returns.
        ctx.options.update(server=True)
        await proxyserver.setup_servers()
    finally:
        logger.removeFilter(held)
    return [_bind_error(s.last_exception) for s in proxyserver.servers if s.last_exception]


_PROXYSERVER_LOGGER = "mitmproxy.addons.proxyserver"  # where setup_servers logs a failure


class _HoldErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


def _bind_error(error: BaseException) -> OSError:
    cause = error.__cause__
    if isinstance(cause, OSError):
        return cause
    return error if isinstance(error, OSError) else OSError(str(error))
