"""Limits end to end: concurrent requests, liveness, bounded uploads, slow clients."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time

from .test_core import curl_json
from .upstream import Received
from .upstream import Reply
from .upstream import chat_completion


def test_beyond_max_concurrent_requests_is_429_not_forwarded(start_proxy, upstream):
    release = asyncio.Event()

    async def handler(req: Received, reply: Reply) -> None:
        if req.path.endswith("/chat/completions"):
            await asyncio.wait_for(release.wait(), 20)
        await reply.json(200, chat_completion("ok"))

    def chats() -> int:
        return sum(r.path.endswith("/chat/completions") for r in upstream.received)

    upstream.reset(handler)
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "MAX_CONCURRENT_REQUESTS": "2"})
    body = json.dumps({"model": "m", "messages": []})
    args = ("-H", "Content-Type: application/json", "-d", body, f"{proxy.url}/v1/chat/completions")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        held = [pool.submit(curl_json, *args) for _ in range(2)]
        deadline = time.monotonic() + 10
        while chats() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert chats() == 2
        status, answer, headers = curl_json(*args)
        assert status == 429
        assert answer["error"]["type"] == "rate_limit_error"
        assert answer["error"]["code"] == "too_many_concurrent_requests"
        assert headers["retry-after"] == "1"
        for path in ("/health/live", "/health"):  # never limited
            assert curl_json(f"{proxy.url}{path}")[0] == 200
        assert chats() == 2  # the 429 never reached the target
        upstream.loop.call_soon_threadsafe(release.set)
        assert [f.result()[0] for f in held] == [200, 200]
    # The slots are free again.
    assert curl_json(*args)[0] == 200


def test_max_concurrent_requests_validated(tmp_path):
    from .conftest import run_entrypoint

    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/", "MAX_CONCURRENT_REQUESTS": "-1"}, tmp_path
    )
    assert result.returncode != 0 and "MAX_CONCURRENT_REQUESTS must be" in result.stderr


def test_health_live_answers_without_the_target(start_proxy, upstream):
    from .conftest import free_port

    dead = start_proxy({"TARGET_BASE_URL": f"http://127.0.0.1:{free_port()}/v1/"})
    status, answer, _ = curl_json(f"{dead.url}/health/live")
    assert (status, answer) == (200, {"status": "alive"})
    assert curl_json(f"{dead.url}/health")[0] == 503  # the target is down; the process is not
    live = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/"})
    assert curl_json(f"{live.url}/health/live")[0] == 200
    assert upstream.received == []
