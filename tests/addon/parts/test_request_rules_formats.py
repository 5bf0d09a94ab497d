"""RequestRules on every wire format: the endpoint reaches the rewrite, Ollama's `:latest`
names find their rule, and Ollama's model list gets the pseudo models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mitmproxy.test import taddons
from mitmproxy.test import tutils

from cot_proxy.flow import notes
from cot_proxy.parts.request_rules import RequestRules
from cot_proxy.parts.think_removal import ThinkRemoval
from tests.addon.flows import chat_flow

SUFFIX_RULES = r"model=m,append_to_last_user_message=\n\n/no_think"


def rewritten(llm_params: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    think = ThinkRemoval()
    rules = RequestRules(think)
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params=llm_params)
        flow = chat_flow(body, path=path)
        rules.request(flow)
        assert flow.response is None
        return flow.request.json()


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/responses", {"model": "m", "input": "Hi"}, ("input",)),
        ("/v1/messages", {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}, None),
        ("/api/chat", {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}, None),
        ("/api/generate", {"model": "m", "prompt": "Hi"}, ("prompt",)),
    ],
)
def test_suffix_goes_where_the_endpoint_keeps_the_user_text(path, body, where):
    sent = rewritten(SUFFIX_RULES, path, body)
    text = sent[where[0]] if where else sent["messages"][-1]["content"]
    assert text == "Hi\n\n/no_think"


def test_the_endpoint_decides_not_the_body_shape():
    # A Responses body that also carries `prompt`: the suffix goes to `input` only.
    sent = rewritten(SUFFIX_RULES, "/v1/responses", {"model": "m", "input": "a", "prompt": "b"})
    assert sent == {"model": "m", "input": "a\n\n/no_think", "prompt": "b"}


RENAME = "model=fast,upstream_model_name=qwen3:8b,temperature=0.1"


@pytest.mark.parametrize("path", ["/api/chat", "/api/generate"])
def test_ollama_latest_tag_finds_the_rule_of_the_bare_name(path):
    sent = rewritten(RENAME, path, {"model": "fast:latest", "prompt": "x"})
    assert sent["model"] == "qwen3:8b" and sent["temperature"] == 0.1


def test_latest_tag_is_only_ollamas_convention():
    sent = rewritten(RENAME, "/v1/chat/completions", {"model": "fast:latest", "messages": []})
    assert sent == {"model": "fast:latest", "messages": []}


@pytest.mark.parametrize(
    ("llm_params", "model", "temperature"),
    [
        # an exact rule for the tagged name wins
        ("model=q:latest,temperature=0.1;model=q,temperature=0.2", "q:latest", 0.1),
        # an exact rule for the bare name beats a glob matching the tagged one
        ("model=q:*,temperature=0.3;model=q,temperature=0.2", "q:latest", 0.2),
        # a glob on the tagged name beats a glob that matches only the bare one
        ("model=[q],temperature=0.4;model=q:*,temperature=0.3", "q:latest", 0.3),
        ("model=[q],temperature=0.4", "q:latest", 0.4),
        # other tags are other models
        ("model=q,temperature=0.2", "q:8b", None),
    ],
)
def test_latest_tag_rule_priority(llm_params, model, temperature):
    sent = rewritten(llm_params, "/api/chat", {"model": model, "messages": []})
    assert sent.get("temperature") == temperature


def tags_flow(path: str = "/api/tags"):
    flow = chat_flow(b"", path=path)
    flow.request.method = "GET"
    return flow


def answer_with(flow, listing: dict[str, Any]) -> None:
    flow.response = tutils.tresp(content=json.dumps(listing).encode())
    flow.response.headers["content-type"] = "application/json; charset=utf-8"


def test_ollama_tags_get_the_pseudo_models():
    think = ThinkRemoval()
    rules = RequestRules(think)
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=fast,upstream_model_name=qwen3")
        entry = {"name": "qwen3:latest", "model": "qwen3:latest", "size": 5, "digest": "d"}
        flow = tags_flow()
        rules.request(flow)
        assert notes(flow).endpoint == "ollama_tags"
        answer_with(flow, {"models": [entry]})
        rules.response(flow)
        assert flow.response is not None
        assert flow.response.json() == {
            "models": [entry, {**entry, "name": "fast", "model": "fast"}]
        }
        assert notes(flow).changes == ["models +1 pseudo"]


def test_ollama_tags_of_another_shape_pass_unchanged():
    think = ThinkRemoval()
    rules = RequestRules(think)
    with taddons.context(rules, think) as tctx:
        tctx.configure(rules, llm_params="model=fast,upstream_model_name=qwen3")
        flow = tags_flow()
        rules.request(flow)
        answer_with(flow, {"data": []})
        raw = flow.response.content if flow.response else None
        rules.response(flow)
        assert flow.response is not None and flow.response.content == raw
        assert notes(flow).changes == []
