"""BodyLimit: request bodies above max_request_bytes get a JSON 413 and are not forwarded.

A declared length is refused on the request's headers, before a byte of the body is read (no
`100 Continue` either). A body of unknown length (chunked) is refused as it arrives, once more
than the limit has been read: the proxy never holds more of it than the limit plus one network
chunk. Both through `seams.request_size`; the 413 closes the connection, so an upload nobody
reads neither holds it open nor is read as the next request.
"""

from __future__ import annotations

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.flow import answer_error
from cot_proxy.flow import api_of
from cot_proxy.flow import notes
from cot_proxy.options import declare
from cot_proxy.options import env_name
from cot_proxy.options import in_range
from cot_proxy.seams import error_pages
from cot_proxy.seams import request_size


class BodyLimit:
    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "max_request_bytes")

    def configure(self, updated: set[str]) -> None:
        if "max_request_bytes" in updated and in_range(updated, "max_request_bytes"):
            request_size.limit_request_bodies(ctx.options.max_request_bytes)

    def done(self) -> None:
        request_size.uninstall()

    def request(self, flow: http.HTTPFlow) -> None:
        # Behind the seam a body cannot get here too large; without it (a mitmproxy that
        # moved it fails at start), this still refuses it, once read.
        body = flow.request.raw_content
        if flow.response is None and body and len(body) > ctx.options.max_request_bytes:
            self._refuse(flow, len(body))

    def error(self, flow: http.HTTPFlow) -> None:
        # The seam stopped reading the body: mitmproxy answers 413 itself, with our words.
        if request_size.refused(flow):
            notes(flow).local = True  # not the target's failure: the timeouts' 502 does not apply
            limit = ctx.options.max_request_bytes
            error_pages.answer_with(
                error_pages.ErrorAnswer(
                    413,
                    f"The request body is larger than {limit} bytes, the most this proxy accepts "
                    f"({env_name('max_request_bytes')})",
                    "invalid_request_error",
                    "request_too_large",
                    api_of(flow),
                )
            )

    @staticmethod
    def _refuse(flow: http.HTTPFlow, size: int) -> None:
        limit = ctx.options.max_request_bytes
        response = answer_error(
            flow,
            413,
            f"The request body is {size} bytes; this proxy accepts at most {limit} "
            f"({env_name('max_request_bytes')})",
            "invalid_request_error",
            "request_too_large",
        )
        # Don't read (or wait for) a body we will not forward.
        response.headers["connection"] = "close"
