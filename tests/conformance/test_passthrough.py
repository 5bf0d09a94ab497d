"""curl through the proxy, one case per format: what the proxy had no reason to change reaches the
client byte for byte, compared with the server's own bytes of the very same request (the relay's).

Streamed, every event the client gets is either the server's event as it came, or the same event
with only its text changed (then every other field keeps its value). The server's last events
(finish reason, `usage`, `timings`, `data: [DONE]`, `message_delta`/`message_stop`,
`response.completed` less the text) arrive unchanged. Buffered, everything but the text keeps its
value: `id`, `created`, `usage`, `timings`.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from .cases import BY_NAME
from .cases import strip_problems

CASE = BY_NAME["plain"]
TEXT_FIELDS = ("content", "text", "delta", "reasoning_content")


def curl(url: str, body: dict[str, Any]) -> bytes:
    result = subprocess.run(
        ["curl", "-sSN", "--max-time", "60", url, "-H", "Content-Type: application/json"]
        + ["-H", "Authorization: Bearer sk-conformance", "-d", json.dumps(body)],
        capture_output=True,
        timeout=70,
        check=True,
    )
    return result.stdout


def events(body: bytes) -> list[bytes]:
    return [e for e in body.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]


def data_of(event: bytes) -> Any:
    for line in event.split(b"\n"):
        if line.startswith(b"data: ") and line != b"data: [DONE]":
            return json.loads(line[6:])
    return None


def without_text(value: Any) -> Any:
    """The value with every text field (and the proxy's numbering fields: it renumbers them, and
    adds `output_index` / `content_index` where llama-server sends none, README) taken out."""
    numbering = ("index", "output_index", "content_index", "sequence_number")
    if isinstance(value, dict):
        return {
            k: without_text(v)
            for k, v in value.items()
            if k not in TEXT_FIELDS and k not in numbering
        }
    if isinstance(value, list):
        return [without_text(v) for v in value]
    return value


def stream_problems(client: bytes, server: bytes) -> list[str]:
    problems = []
    server_events = events(server)
    for event in events(client):
        if event in server_events or event == b": ping":
            continue
        data = data_of(event)
        if data is None or not any(
            without_text(data) == without_text(data_of(s)) for s in server_events
        ):
            problems.append(f"client event matches no server event: {event!r}")
    return problems


FORMATS: dict[str, tuple[str, dict[str, Any], int]] = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}]}, 2),
    "completions": ("/v1/completions", {"prompt": "Hi"}, 2),
    "responses": ("/v1/responses", {"input": "Hi"}, 1),
}


@pytest.mark.parametrize("name", FORMATS)
def test_curl_stream_passes_server_events(name: str, relay, proxies) -> None:
    path, body, tail = FORMATS[name]
    request = {"model": "tiny", **body, "grammar": CASE.grammar, "seed": 7, "stream": True}
    client = curl(f"{proxies['strip'].url}{path}", request)
    _, server = relay.last().head_and_body()
    problems = stream_problems(client, server)
    # The server's last events (finish, usage, timings, [DONE] / response.completed) are the
    # client's last, unchanged, except where Responses repeats the text in them.
    if name != "responses":
        if events(client)[-tail:] != events(server)[-tail:]:
            problems.append(
                f"last events differ: {events(client)[-tail:]} {events(server)[-tail:]}"
            )
    streamed = "".join(
        (d["choices"][0].get("delta", {}).get("content") or d["choices"][0].get("text") or "")
        if "choices" in d
        else (d.get("delta", "") if d.get("type") == "response.output_text.delta" else "")
        for d in map(data_of, events(client))
        if d
    )
    problems += strip_problems(f"curl {name}", streamed)
    assert not problems, "\n".join(problems)


def test_curl_messages_stream_passes_server_events(llama_with_grammar, relay, proxies) -> None:
    llama_with_grammar(CASE.grammar)
    request = {"model": "tiny", "max_tokens": 100, "stream": True}
    request["messages"] = [{"role": "user", "content": "Hi"}]
    client = curl(f"{proxies['strip'].url}/v1/messages", request)
    _, server = relay.last().head_and_body()
    problems = stream_problems(client, server)
    if events(client)[-2:] != events(server)[-2:]:  # message_delta (usage), message_stop
        problems.append(f"last events differ: {events(client)[-2:]} {events(server)[-2:]}")
    text = "".join(
        d["delta"].get("text", "")
        for d in map(data_of, events(client))
        if d and d["type"] == "content_block_delta"
    )
    problems += strip_problems("curl messages", text)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", FORMATS)
def test_curl_buffered_keeps_server_fields(name: str, relay, proxies) -> None:
    path, body, _ = FORMATS[name]
    request = {"model": "tiny", **body, "grammar": CASE.grammar, "seed": 7}
    client = json.loads(curl(f"{proxies['strip'].url}{path}", request))
    server = relay.last_json()
    assert without_text(client) == without_text(server)
    for field in ("id", "created", "created_at", "usage", "timings", "system_fingerprint"):
        assert client.get(field) == server.get(field), field


def test_keep_mode_passes_the_servers_bytes_and_tags_come_split(relay, proxies) -> None:
    """keep: the client's body is the server's, byte for byte. And the reason the suite uses a
    real sampler: over a few seeds, `<think>` and `</think>` reach the proxy split across deltas."""
    split_tags = 0
    for seed in range(4):
        request: dict[str, Any] = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]}
        request |= {"grammar": CASE.grammar, "seed": seed, "stream": True}
        client = curl(f"{proxies['keep'].url}/v1/chat/completions", request)
        _, server = relay.last().head_and_body()
        assert client == server
        deltas = [
            d["choices"][0]["delta"].get("content") or ""
            for d in map(data_of, events(server))
            if d and d["choices"]
        ]
        for tag in ("<think>", "</think>"):
            assert tag in "".join(deltas)
            split_tags += not any(tag in delta for delta in deltas)
    assert split_tags >= 2
