"""Thinking control end to end (issue 21): the real proxy in front of scripted upstreams, driven
by the official openai, anthropic and ollama clients; each test asserts the exact thinking fields
the upstream received for one (server, family) row.

The scripted Ollama answers as ollama/ollama does (server/routes.go ChatHandler: a think that is
true or a level for a model whose capabilities lack `thinking` is a 400 `"<model>" does not
support thinking`; older servers also refused a level for models that take only booleans,
ollama/ollama#12561, and so does this one), so a wrong knob fails the test.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import ollama
import openai
import pytest

from .conftest import run_entrypoint
from .fixtures_responses import vllm_body as responses_body
from .messages_upstream import vllm_body as messages_body
from .ollama_fixtures import chat_line
from .ollama_fixtures import go_json
from .test_core import KEY
from .upstream import Received
from .upstream import Reply
from .upstream import chat_completion

# The fields any thinking knob lives in: the upstream must get exactly the expected ones.
KNOB_FIELDS = ("chat_template_kwargs", "reasoning_effort", "reasoning", "think", "thinking",
               "output_config")  # fmt: skip
HI: list[Any] = [{"role": "user", "content": "Hi"}]


def knobs(received: Received) -> dict[str, Any]:
    body = received.json()
    return {k: body[k] for k in KNOB_FIELDS if k in body}


def generations(upstream) -> list[Received]:
    return [r for r in upstream.received if r.method == "POST" and r.path != "/api/show"]


def only_generation(upstream) -> Received:
    (received,) = generations(upstream)
    assert "x-thinking" not in received.headers  # ours, never forwarded
    return received


# ---- vLLM, SGLang, llama.cpp, LM Studio, Anthropic: the server named by the rule -----------------

RULES = """
models:
  - model: "vllm-*"
    server: vllm
  - model: "sglang-*"
    server: sglang
  - model: "llamacpp-*"
    server: llamacpp
  - model: "lmstudio-*"
    server: lmstudio
  - model: "claude-*"
    server: anthropic
  - model: vllm-qwen3-8b
    server: vllm
    thinking: on
    variants:
      no-think:
        thinking: off
"""


async def openai_like(req: Received, reply: Reply) -> None:
    """vLLM's buffered answers on each of its three APIs."""
    if req.path.endswith("/responses"):
        await reply.json(200, responses_body(None, "Hello"))
    elif req.path.endswith("/messages"):
        await reply.json(200, messages_body([{"type": "text", "text": "Hello"}]))
    else:
        await reply.json(200, chat_completion("Hello"))


@pytest.fixture(scope="module")
def routed(start_proxy, upstream, tmp_path_factory):
    path = tmp_path_factory.mktemp("thinking") / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "CONFIG_FILE": str(path)})


def chat(proxy, model: str, thinking: str | None = None, **extra: Any) -> str | None:
    headers = {"X-Thinking": thinking} if thinking is not None else {}
    client = openai.OpenAI(
        base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20, default_headers=headers
    )
    answer = client.chat.completions.create(model=model, messages=HI, **extra)
    return answer.choices[0].message.content


@pytest.mark.parametrize(
    ("model", "header", "client", "fields"),
    [
        ("vllm-qwen3-32b", "off", {}, {"chat_template_kwargs": {"enable_thinking": False}}),
        ("sglang-glm-4.5-air", None, {"reasoning_effort": "high"},
         {"chat_template_kwargs": {"enable_thinking": True}}),
        ("vllm-gemma-4-12b-it", "low", {}, {"chat_template_kwargs": {"enable_thinking": True}}),
        ("vllm-granite-3.2-8b-instruct", "on", {}, {"chat_template_kwargs": {"thinking": True}}),
        ("sglang-deepseek-v3.1", None, {"extra_body": {"chat_template_kwargs": {"enable_thinking": False}}},
         {"chat_template_kwargs": {"thinking": False}}),
        ("vllm-gpt-oss-20b", "max", {}, {"reasoning_effort": "high"}),
        ("vllm-gpt-oss-20b", "off", {}, {"reasoning_effort": "low"}),
        ("llamacpp-qwen3.5-9b", None, {"reasoning_effort": "none"},
         {"chat_template_kwargs": {"enable_thinking": False}}),
        # llama.cpp: the template switch, which --reasoning on cannot override
        ("llamacpp-magistral-small-2509", "off", {"reasoning_effort": "high"},
         {"chat_template_kwargs": {"enable_thinking": False}}),
        ("llamacpp-gpt-oss-20b", None, {"reasoning_effort": "minimal"}, {"reasoning_effort": "low"}),
        ("lmstudio-gpt-oss-20b", None, {"extra_body": {"reasoning_effort": "xhigh"}},
         {"reasoning_effort": "high"}),
        ("vllm-deepseek-r1-distill-qwen-7b", None, {"reasoning_effort": "low"}, {}),
    ],
)  # fmt: skip
def test_each_row_through_the_openai_client(routed, upstream, model, header, client, fields):
    upstream.reset(openai_like)
    assert chat(routed, model, header, **client) == "Hello"
    assert knobs(only_generation(upstream)) == fields


def test_lmstudio_qwen3_gets_no_think_appended(routed, upstream):
    upstream.reset(openai_like)
    chat(routed, "lmstudio-qwen3-8b", "off")
    body = only_generation(upstream).json()
    assert body["messages"] == [{"role": "user", "content": "Hi /no_think"}]
    assert knobs(only_generation(upstream)) == {}


def test_header_then_rule_then_the_clients_knob(routed, upstream):
    upstream.reset(openai_like)
    chat(routed, "vllm-qwen3-8b", None, reasoning_effort="none")  # the rule says on
    chat(routed, "vllm-qwen3-8b", "off", reasoning_effort="high")  # the header says off
    chat(routed, "vllm-qwen3-8b@no-think", None, reasoning_effort="high")  # the variant: off
    rule, header, variant = generations(upstream)
    assert knobs(rule) == {"chat_template_kwargs": {"enable_thinking": True}}
    assert knobs(header) == {"chat_template_kwargs": {"enable_thinking": False}}
    assert knobs(variant) == {"chat_template_kwargs": {"enable_thinking": False}}
    assert variant.json()["model"] == "vllm-qwen3-8b"
    log = routed.wait_log("thinking off → chat_template_kwargs.enable_thinking=false")
    assert (
        "thinking on → chat_template_kwargs.enable_thinking=true, removed reasoning_effort" in log
    )


def test_an_unknown_server_keeps_the_clients_own_knob(routed, upstream):
    upstream.reset(openai_like)
    chat(routed, "mystery-qwen3-8b", None, reasoning_effort="none")
    assert knobs(only_generation(upstream)) == {"reasoning_effort": "none"}


def test_codex_effort_on_responses(routed, upstream):
    # vLLM's Responses API takes no chat_template_kwargs: reasoning.effort is the switch there
    upstream.reset(openai_like)
    client = openai.OpenAI(
        base_url=f"{routed.url}/v1",
        api_key=KEY,
        max_retries=0,
        timeout=20,
        default_headers={"X-Thinking": "off"},
    )
    answer = client.responses.create(
        model="vllm-qwen3-32b",
        input="Hi",
        reasoning={"effort": "high", "summary": "auto"},
        extra_body={"chat_template_kwargs": {"enable_thinking": True}},
    )
    assert answer.output_text == "Hello"
    assert knobs(only_generation(upstream)) == {"reasoning": {"summary": "auto", "effort": "none"}}
    upstream.reset(openai_like)
    client = openai.OpenAI(base_url=f"{routed.url}/v1", api_key=KEY, max_retries=0, timeout=20)
    upstream.reset(openai_like)
    client.responses.create(model="vllm-gpt-oss-120b", input="Hi", reasoning={"effort": "minimal"})
    assert knobs(only_generation(upstream)) == {"reasoning": {"effort": "low"}}


def claude(proxy, thinking: str | None = None) -> anthropic.Anthropic:
    headers = {"X-Thinking": thinking} if thinking is not None else {}
    return anthropic.Anthropic(
        base_url=proxy.url, api_key=KEY, max_retries=0, timeout=20, default_headers=headers
    )


def test_claude_codes_adaptive_thinking_reaches_vllm_as_its_switch(routed, upstream):
    upstream.reset(openai_like)
    message = claude(routed).messages.create(
        model="vllm-qwen3-32b",
        max_tokens=64,
        messages=HI,
        thinking={"type": "adaptive"},
        output_config={"effort": "max"},
    )
    assert message.content[0].text == "Hello"
    assert knobs(only_generation(upstream)) == {"chat_template_kwargs": {"enable_thinking": True}}
    routed.wait_log("thinking max (from anthropic) → chat_template_kwargs.enable_thinking=true")


def test_anthropic_gets_its_own_knob(routed, upstream):
    upstream.reset(openai_like)
    claude(routed, "off").messages.create(
        model="claude-opus-4-7",
        max_tokens=64,
        messages=HI,
        extra_body={"output_config": {"effort": "high"}, "reasoning_effort": "high"},
    )
    assert knobs(only_generation(upstream)) == {"thinking": {"type": "disabled"}}
    upstream.reset(openai_like)
    claude(routed, "max").messages.create(model="claude-opus-4-7", max_tokens=64, messages=HI)
    assert knobs(only_generation(upstream)) == {
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "max"},
    }


def test_a_bad_header_is_a_400_each_client_raises(routed, upstream):
    upstream.reset(openai_like)
    with pytest.raises(openai.BadRequestError) as e:
        chat(routed, "vllm-qwen3-32b", "loud")
    assert e.value.code == "invalid_thinking"
    assert "X-Thinking must be one of off, on, low, medium, high, max" in e.value.message
    with pytest.raises(anthropic.BadRequestError) as a:
        claude(routed, "true").messages.create(model="claude-x", max_tokens=8, messages=HI)
    assert a.value.body["error"]["code"] == "invalid_thinking"
    assert generations(upstream) == []


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ("model=a,thinking=loud", "unknown thinking 'loud' (use off|on|low|medium|high|max)"),
        ("model=a,thinking_knob=effort", "unknown thinking_knob 'effort' (use enable_thinking|"),
    ],
)
def test_a_bad_setting_stops_the_proxy_with_one_line(tmp_path, upstream, params, problem):
    result = run_entrypoint(
        {"TARGET_BASE_URL": f"{upstream.url}/v1/", "LLM_PARAMS": params}, tmp_path
    )
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if problem in line]
    assert len(lines) == 1, result.stdout + result.stderr


# ---- Ollama: the server probed, each model's capabilities read (THINK_FAMILY=auto) --------------

CAPABILITIES = {
    "qwen3:8b": ["completion", "tools", "thinking"],
    "gpt-oss:20b": ["completion", "tools", "thinking"],
    "gemma3:4b": ["completion", "vision"],
}
GO_JSON = {"Content-Type": "application/json; charset=utf-8"}


def refusal(model: str, think: Any) -> str | None:
    """What Ollama answers to `think` for `model`, None when it takes it."""
    thinking = "thinking" in CAPABILITIES[model]
    if think in (None, False):
        return None
    if not thinking:
        return f'"{model}" does not support thinking'  # server/routes.go ChatHandler
    if isinstance(think, str) and not model.startswith("gpt-oss"):
        return f'think value "{think}" is not supported for this model'  # ollama/ollama#12561
    return None


def effort_think(body: dict[str, Any]) -> Any:
    """Ollama's /v1 reading of the effort (openai/openai.go thinkFromReasoningEffort)."""
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    effort = effort or body.get("reasoning_effort")
    return {None: None, "none": False}.get(effort, effort)


async def ollama_server(req: Received, reply: Reply) -> None:
    if req.path == "/api/version":
        await reply.body(200, go_json({"version": "0.13.0"}), GO_JSON)
        return
    if req.path == "/api/show":
        model = req.json()["model"]
        show = {"template": "{{ .Prompt }}", "capabilities": CAPABILITIES[model],
                "details": {"family": model.split(":")[0]}}  # fmt: skip
        await reply.body(200, go_json(show), GO_JSON)
        return
    if req.method != "POST":
        await reply.body(404, b"404 page not found", {"Content-Type": "text/plain"})
        return
    body = req.json()
    model = body["model"]
    if req.path == "/api/chat":
        if problem := refusal(model, body.get("think")):
            await reply.body(400, go_json({"error": problem}), GO_JSON)
        else:
            await reply.body(200, go_json(chat_line("Hello", done_reason="stop")), GO_JSON)
    elif req.path == "/v1/chat/completions":
        if problem := refusal(model, effort_think(body)):
            error = {"error": {"message": problem, "type": "invalid_request_error"}}
            await reply.json(400, error)
        else:
            await reply.json(200, chat_completion("Hello"))
    elif req.path == "/v1/messages":  # relax_thinking: never a 400 for thinking here
        await reply.json(200, messages_body([{"type": "text", "text": "Hello"}]))
    else:
        await reply.body(404, b"404 page not found", {"Content-Type": "text/plain"})


@pytest.fixture(scope="module")
def ollama_proxy(start_proxy, upstream):
    upstream.reset(ollama_server)
    return start_proxy({"TARGET_BASE_URL": f"{upstream.url}/", "THINK_FAMILY": "auto"})


@pytest.mark.parametrize(
    ("model", "header", "think", "sent"),
    [
        ("gemma3:4b", None, True, {}),  # no thinking capability: no think at all
        ("gemma3:4b", "high", None, {}),
        ("gemma3:4b", "off", None, {}),  # no knob at all, not even false
        ("qwen3:8b", None, "high", {"think": True}),  # booleans only
        ("qwen3:8b", "off", True, {"think": False}),
        ("gpt-oss:20b", "max", None, {"think": "high"}),
        ("gpt-oss:20b", "off", None, {"think": "low"}),  # gpt-oss cannot stop thinking
    ],
)
def test_ollama_native_think(ollama_proxy, upstream, model, header, think, sent):
    upstream.reset(ollama_server)
    headers = {"X-Thinking": header} if header else {}
    client = ollama.Client(host=ollama_proxy.url, headers=headers, timeout=20)
    answer = client.chat(model=model, messages=HI, think=think, stream=False)
    assert answer.message.content == "Hello"
    assert knobs(only_generation(upstream)) == sent


@pytest.mark.parametrize(
    ("model", "effort", "sent"),
    [
        ("gemma3:4b", "high", {}),  # Open WebUI's effort, a model that cannot think
        ("qwen3:8b", "high", {}),  # thinking on: the model's default, no level it may refuse
        ("qwen3:8b", "none", {"reasoning_effort": "none"}),
        ("gpt-oss:20b", "xhigh", {"reasoning_effort": "high"}),
    ],
)
def test_ollama_v1_reasoning_effort(ollama_proxy, upstream, model, effort, sent):
    upstream.reset(ollama_server)
    assert chat(ollama_proxy, model, None, extra_body={"reasoning_effort": effort}) == "Hello"
    assert knobs(only_generation(upstream)) == sent


@pytest.mark.parametrize(
    ("model", "sent"),
    [
        ("qwen3:8b", {"thinking": {"type": "adaptive"}}),
        ("gemma3:4b", {}),
        ("gpt-oss:20b", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}),
    ],
)
def test_claude_code_on_ollama(ollama_proxy, upstream, model, sent):
    upstream.reset(ollama_server)
    claude(ollama_proxy).messages.create(
        model=model,
        max_tokens=64,
        messages=HI,
        thinking={"type": "adaptive"},
        output_config={"effort": "max"},
    )
    assert knobs(only_generation(upstream)) == sent
    assert json.loads(only_generation(upstream).body)["model"] == model
