"""Detection end to end (issue 20): the real proxy in front of scripted upstreams that answer
the metadata endpoints with the bodies real servers send (tests/fixtures/detect), and models
whose family was detected, not configured, stripped streamed and buffered."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.fixtures.detect import HERE
from tests.fixtures.detect import OLLAMA_VERSION
from tests.fixtures.detect import VLLM_VERSION
from tests.fixtures.detect import llamacpp
from tests.fixtures.detect import ollama_show
from tests.fixtures.detect import props_with
from tests.fixtures.detect import template
from tests.fixtures.detect import vllm_models

from .conftest import run_entrypoint
from .test_interop import ask
from .upstream import Received
from .upstream import Reply
from .upstream import chat_chunk
from .upstream import chat_completion
from .upstream import sse_event

Metadata = dict[str, Any]  # "METHOD path" → JSON body (bytes: sent as they are)


def llamacpp_raw(name: str) -> bytes:
    return (HERE / "llamacpp" / name).read_bytes()


def serve(upstream, metadata: Metadata, pieces: list[str], delay: float = 0.0) -> None:
    """Metadata as given (everything else 404, llama-server's body); chat answers of `pieces`."""

    async def handler(req: Received, reply: Reply) -> None:
        key = f"{req.method} {req.path}"
        if req.method == "POST" and req.path.endswith("/chat/completions"):
            if req.json().get("stream"):
                events = [sse_event(chat_chunk("", role="assistant"))]
                events += [sse_event(chat_chunk(p)) for p in pieces]
                events += [sse_event(chat_chunk(None, finish="stop")), sse_event("[DONE]")]
                await reply.sse(events)
            else:
                await reply.json(200, chat_completion("".join(pieces)))
            return
        if delay:
            await asyncio.sleep(delay)
        if key == "POST /api/show":
            body = metadata[key][req.json()["model"]]
        else:
            body = metadata.get(key)
        if body is None:
            headers = {"Content-Type": "application/json; charset=utf-8"}
            await reply.body(404, llamacpp("not_found"), headers)
            return
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        await reply.body(200, raw, {"Content-Type": "application/json; charset=utf-8"})

    upstream.reset(handler)


def start(start_proxy, upstream, **env: str):
    return start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "THINK_FAMILY": "auto",
            "THINK_MODE": "reasoning",
            **env,
        }
    )


def models(proxy) -> dict[str, Any]:
    with urllib.request.urlopen(f"{proxy.url}/cot-proxy/models", timeout=10) as answer:
        return json.load(answer)


MAGISTRAL_PROPS = props_with(template("mistralai-Ministral-3-14B-Reasoning-2512"), "/m/x.gguf")
LLAMACPP: Metadata = {
    "GET /props": MAGISTRAL_PROPS,
    "GET /props?model=local": MAGISTRAL_PROPS,
    "GET /v1/models": llamacpp("v1_models"),
}
MAGISTRAL_PIECES = ["[THINK]The user", " greets me.[/TH", "INK]Hello!"]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
def test_llamacpp_template_family(start_proxy, upstream, stream: bool) -> None:
    # "local" is a name no table knows: only the template says Magistral's [THINK]
    serve(upstream, LLAMACPP, MAGISTRAL_PIECES)
    proxy = start(start_proxy, upstream)
    assert ask(proxy, "local", stream) == ("Hello!", "The user greets me.")
    log = proxy.wait_log("model local: family mistral (template: template has [THINK] [/THINK]")
    assert "target server: llamacpp (GET /props has chat_template (build b1-0c1e570))" in log
    # metadata only: no probe asked for a generation
    probes = [r for r in upstream.received if not r.path.endswith("/chat/completions")]
    assert probes and all(r.method == "GET" for r in probes)
    listing = models(proxy)
    assert listing["server"] == "llamacpp"
    (local,) = [m for m in listing["models"] if m["model"] == "local"]
    assert (local["family"], local["source"], local["thinks"]) == ("mistral", "template", True)


def recorded_chat(upstream, metadata: Metadata) -> None:
    """llama-server's own answers, byte for byte: a grammar made the tiny model write
    "[THINK]The user greets me.[/THINK]Hello!" with Magistral's template and --reasoning-format
    none, so the tags reach the proxy in `content` (tests/fixtures/detect/llamacpp/chat_magistral*)."""
    events = [e + b"\n\n" for e in llamacpp_raw("chat_magistral_stream.sse").split(b"\n\n") if e]

    async def handler(req: Received, reply: Reply) -> None:
        if req.path.endswith("/chat/completions"):
            if req.json().get("stream"):
                await reply.sse(events, headers={"Server": "llama.cpp", "X-Accel-Buffering": "no"})
            else:
                headers = {"Content-Type": "application/json; charset=utf-8", "Server": "llama.cpp"}
                await reply.body(200, llamacpp("chat_magistral"), headers)
            return
        body = metadata.get(f"{req.method} {req.path}")
        headers = {"Content-Type": "application/json; charset=utf-8", "Server": "llama.cpp"}
        if body is None:
            await reply.body(404, llamacpp("not_found"), headers)
        else:
            await reply.body(200, body, headers)

    upstream.reset(handler)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
def test_recorded_llama_server_answers(start_proxy, upstream, stream: bool) -> None:
    props = llamacpp("props_magistral")  # /props of llama-server --chat-template-file Ministral-3
    recorded_chat(upstream, {"GET /props": props, "GET /props?model=tiny": props})
    proxy = start(start_proxy, upstream)
    assert ask(proxy, "tiny", stream) == ("Hello!", "The user greets me.")


def test_the_default_pair_without_auto(start_proxy, upstream) -> None:
    serve(upstream, LLAMACPP, MAGISTRAL_PIECES)
    proxy = start(start_proxy, upstream, THINK_FAMILY="")
    assert ask(proxy, "local", True)[0] == "[THINK]The user greets me.[/THINK]Hello!"
    assert not any(r.path.startswith("/props") for r in upstream.received)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
def test_qwen3_5_template_opens_the_block(start_proxy, upstream, stream: bool) -> None:
    props = props_with(template("Qwen3.5-4B"), "/m/q.gguf")
    serve(
        upstream, {"GET /props": props, "GET /props?model=q": props}, ["plan", "</think>\n\nDone"]
    )
    proxy = start(start_proxy, upstream)
    assert ask(proxy, "q", stream) == ("Done", "plan")


OLLAMA: Metadata = {
    "GET /api/version": OLLAMA_VERSION,
    "GET /api/tags": {"models": []},
    "POST /api/show": {
        # no markers in its template: the name says R1, the capabilities that it thinks
        "deepseek-r1:8b": ollama_show("{{ .Prompt }}", ["completion", "thinking"], "qwen2"),
    },
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
def test_ollama_show(start_proxy, upstream, stream: bool) -> None:
    serve(upstream, OLLAMA, ["Let me see", "</think>\n\nFour."])
    proxy = start(start_proxy, upstream)
    assert ask(proxy, "deepseek-r1:8b", stream) == ("Four.", "Let me see")
    shows = [r for r in upstream.received if r.path == "/api/show"]
    assert (
        len(shows) == 1
        and shows[0].method == "POST"
        and shows[0].json() == {"model": "deepseek-r1:8b"}
    )
    (entry,) = models(proxy)["models"]
    assert (entry["family"], entry["source"], entry["thinks"]) == ("deepseek_r1", "name", True)


VLLM: Metadata = {
    "GET /version": VLLM_VERSION,
    "GET /v1/models": vllm_models("chat", "google/gemma-4-31B-it"),
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
def test_vllm_root(start_proxy, upstream, stream: bool) -> None:
    serve(upstream, VLLM, ["<|channel>thought\nA greeting.", "<channel|>Hello!"])
    proxy = start(start_proxy, upstream)
    assert ask(proxy, "chat", stream) == ("Hello!", "A greeting.")
    proxy.wait_log("target server: vllm (GET /version: 0.11.0)")


def test_a_silent_target_holds_the_first_request_at_most_the_timeout(start_proxy, upstream) -> None:
    serve(upstream, LLAMACPP, ["<think>x</think>Hi"], delay=5)
    proxy = start(start_proxy, upstream)
    began = time.monotonic()
    assert ask(proxy, "local", True) == ("Hi", "x")  # the default pair, the request unharmed
    assert time.monotonic() - began < 4.5
    log = proxy.wait_log("model local: family <think> pair (default")
    assert log.count("target server not recognised") <= 1


def test_models_endpoint_behind_the_gateway_keys(start_proxy, upstream) -> None:
    recorded = json.loads(llamacpp("props"))  # Qwen3's template, as llama-server sent it
    serve(upstream, {**LLAMACPP, "GET /props?model=/models/tiny-qwen3-v1.gguf": recorded}, [])
    proxy = start(start_proxy, upstream, PROXY_API_KEYS="k1")
    with pytest.raises(urllib.error.HTTPError) as denied:
        models(proxy)
    assert denied.value.code == 401
    request = urllib.request.Request(
        f"{proxy.url}/cot-proxy/models", headers={"Authorization": "Bearer k1"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = json.load(answer)
    assert body["server"] == "llamacpp"
    # the model the target lists, decided from its template
    (entry,) = body["models"]
    assert entry["model"] == "/models/tiny-qwen3-v1.gguf"
    assert (entry["family"], entry["source"], entry["implicit_start"]) == (
        "qwen3",
        "template",
        False,
    )


@pytest.mark.parametrize(
    "env,line",
    [
        ({"TARGET_SERVER": "llama"}, "cot-proxy: TARGET_SERVER must be one of auto, llamacpp,"),
        ({"DETECT_TTL_SECONDS": "ten"}, "cot-proxy: DETECT_TTL_SECONDS must be a whole number"),
        (
            {"DETECT_TTL_SECONDS": "0"},
            "cot-proxy: DETECT_TTL_SECONDS must be a whole number of seconds above 0, not '0'",
        ),
        ({"LLM_PARAMS": "model=m,server=llama"}, "unknown server 'llama' (use auto|llamacpp|"),
    ],
)
def test_bad_settings_stop_the_proxy(tmp_path, env: dict[str, str], line: str) -> None:
    done = run_entrypoint({"TARGET_BASE_URL": "http://127.0.0.1:9/v1/", **env}, tmp_path)
    assert done.returncode != 0
    assert line in done.stdout + done.stderr
