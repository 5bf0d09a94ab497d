"""GET /metrics: Prometheus text over every worker, after known traffic; the model bound; the key."""

from __future__ import annotations

import asyncio
import os
import time

import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import free_port
from .conftest import run_entrypoint
from .test_core import KEY
from .test_core import client
from .test_core import curl
from .test_stream_end import LATE_END
from .test_stream_end import late_end_handler
from .test_workers import children
from .test_workers import wait_until
from .upstream import Received
from .upstream import Reply
from .upstream import chat_completion
from .upstream import chat_stream
from .upstream import sse_event

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(proxy, *headers: str) -> tuple[int, Samples, str]:
    args = [arg for header in headers for arg in ("-H", header)]
    result = curl("-s", "-o", "-", "-w", "\n%{http_code}", *args, f"{proxy.url}/metrics")
    text, _, status = result.stdout.rpartition("\n")
    samples: Samples = {}
    if status == "200":
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return int(status), samples, text


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def chat_handler():
    async def handler(req: Received, reply: Reply) -> None:
        body = req.json()
        if body.get("stream"):
            await reply.sse(chat_stream(["<think>", "abcdef", "</think>", "Hi"]))
        else:
            await reply.json(200, chat_completion("<think>1234</think>Hello"))

    return handler


def test_counters_cover_every_worker(start_proxy, upstream):
    proxy = start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "WORKERS": "2",
            "LLM_PARAMS": "model=known,temperature=0.5;model=glob-*,temperature=0.1",
        }
    )
    assert wait_until(lambda: len(children(proxy.process.pid)) == 2)
    upstream.reset(chat_handler())
    sdk = client(proxy)
    rounds = 6  # new connections each time: the kernel spreads them over both workers
    for _ in range(rounds):
        fresh = client(proxy)
        stream = fresh.chat.completions.create(
            model="known", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hi"
        answer = fresh.chat.completions.create(
            model="client-made-up-name", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content == "Hello"
        fresh.close()
    sdk.chat.completions.create(model="glob-x", messages=[{"role": "user", "content": "hi"}])
    # The target unreachable: a connect error, answered 502.
    dead = start_proxy({"TARGET_BASE_URL": f"http://127.0.0.1:{free_port()}/v1/"})
    with pytest.raises(openai.APIStatusError):
        client(dead).chat.completions.create(model="m", messages=[])
    status, dead_samples, _ = scrape(dead)
    assert status == 200
    assert value(dead_samples, "cot_proxy_upstream_errors_total", kind="connect") == 1
    assert value(dead_samples, "cot_proxy_requests_total", status="error") == 1

    # Whichever worker answers, the numbers are the sum over both.
    for _ in range(4):
        status, samples, text = scrape(proxy)
        assert status == 200
        assert (
            value(samples, "cot_proxy_requests_total", endpoint="chat", model="known", status="200")
            == rounds
        )
        # A name no rule has counts as other; a glob's match too.
        assert value(samples, "cot_proxy_requests_total", model="other") == rounds + 1
        assert "client-made-up-name" not in text and "glob-x" not in text
        assert (
            value(samples, "cot_proxy_think_chars_total", mode="strip") == rounds * (6 + 4) + 4
        )  # + glob-x
        assert (
            value(samples, "cot_proxy_request_duration_seconds_count", endpoint="chat")
            == 2 * rounds + 1
        )
        assert value(samples, "cot_proxy_first_answer_seconds_count", model="known") == rounds
        assert value(samples, "cot_proxy_streams_in_progress") == 0
        assert value(samples, "cot_proxy_upstream_errors_total") == 0
        assert value(samples, "cot_proxy_stream_fallbacks_total") == 0
        assert ("cot_proxy_rule_reloads_total", (("result", "error"),)) in samples
        assert KEY not in text


def test_stream_in_progress_and_closed_early(start_proxy, upstream):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/"})
    release = asyncio.Event()

    async def handler(req: Received, reply: Reply) -> None:
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        await reply.chunk(sse_event({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}))
        await release.wait()
        reply.writer.close()  # gone before the end of its answer

    upstream.reset(handler)
    stream = client(proxy).chat.completions.create(model="m", messages=[], stream=True)
    next(iter(stream))
    _, samples, _ = scrape(proxy)
    assert value(samples, "cot_proxy_streams_in_progress") == 1
    upstream.loop.call_soon_threadsafe(release.set)
    with pytest.raises(Exception):
        list(stream)
    proxy.wait_log("model=m error")
    _, samples, _ = scrape(proxy)
    assert value(samples, "cot_proxy_streams_in_progress") == 0
    assert value(samples, "cot_proxy_upstream_errors_total", kind="closed_early") == 1
    assert value(samples, "cot_proxy_requests_total", status="error") == 1


def test_a_finished_stream_counts_as_200(start_proxy, upstream):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/"})
    upstream.reset(late_end_handler(["Hi"]))
    stream = client(proxy).chat.completions.create(model="m", messages=[], stream=True)
    list(stream)
    stream.close()
    time.sleep(LATE_END + 0.3)
    proxy.wait_log("model=m 200")
    _, samples, _ = scrape(proxy)
    assert value(samples, "cot_proxy_requests_total", status="200") == 1
    assert value(samples, "cot_proxy_requests_total", status="error") == 0
    assert value(samples, "cot_proxy_upstream_errors_total") == 0


def test_metrics_behind_the_gateway_keys(start_proxy, upstream):
    env = {"TARGET_BASE_URL": f"{upstream.url}/v1/", "PROXY_API_KEYS": "scrape-key"}
    open_proxy = start_proxy(env)
    assert scrape(open_proxy)[0] == 200  # open by default, keys or not
    guarded = start_proxy({**env, "METRICS_REQUIRE_KEY": "true"})
    status, _, _ = scrape(guarded)
    assert status == 401
    assert scrape(guarded, "Authorization: Bearer wrong")[0] == 401
    status, samples, text = scrape(guarded, "Authorization: Bearer scrape-key")
    assert status == 200 and "cot_proxy_requests_total" in text
    assert "scrape-key" not in text and "scrape-key" not in guarded.log()
    assert upstream.received == []  # answered by the proxy, never forwarded


def test_metrics_require_key_needs_keys(tmp_path):
    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/", "METRICS_REQUIRE_KEY": "true"}, tmp_path
    )
    assert result.returncode != 0
    assert "METRICS_REQUIRE_KEY=true needs PROXY_API_KEYS" in result.stdout + result.stderr
    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/", "METRICS_REQUIRE_KEY": "maybe"}, tmp_path
    )
    assert result.returncode != 0 and "METRICS_REQUIRE_KEY must be true or false" in result.stderr


def test_workers_metrics_directory_is_fresh_and_removed(start_proxy, upstream):
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "WORKERS": "2"})
    assert wait_until(lambda: len(children(proxy.process.pid)) == 2)
    environ = open(f"/proc/{children(proxy.process.pid)[0]}/environ", "rb").read().split(b"\0")
    (entry,) = [e for e in environ if e.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    directory = entry.split(b"=", 1)[1].decode()
    assert os.path.isdir(directory)
    proxy.stop()
    assert not os.path.exists(directory)
