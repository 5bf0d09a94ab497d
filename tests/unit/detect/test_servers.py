"""cot_proxy.detect.servers and .http: each server told apart by its real answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cot_proxy.detect import servers as srv
from cot_proxy.detect.http import parse_answer
from tests.fixtures.detect import OLLAMA_QWEN3_TEMPLATE
from tests.fixtures.detect import OLLAMA_VERSION
from tests.fixtures.detect import OPENAI_MODELS
from tests.fixtures.detect import VLLM_VERSION
from tests.fixtures.detect import llamacpp
from tests.fixtures.detect import lmstudio_models
from tests.fixtures.detect import ollama_show
from tests.fixtures.detect import sglang_model_info
from tests.fixtures.detect import vllm_models

NOT_FOUND = (404, json.loads(llamacpp("not_found")))


def answers(**found: Any) -> dict[str, tuple[int, Any]]:
    """Every probe path 404 except those given (path constant name → body)."""
    paths = {
        "PROPS": srv.PROPS,
        "OLLAMA_VERSION": srv.OLLAMA_VERSION,
        "SGLANG_MODEL_INFO": srv.SGLANG_MODEL_INFO,
        "LMSTUDIO_MODELS": srv.LMSTUDIO_MODELS,
        "VLLM_VERSION": srv.VLLM_VERSION,
        "MODELS": srv.MODELS,
    }
    out = {path: NOT_FOUND for path in paths.values()}
    for name, body in found.items():
        out[paths[name]] = (200, body)
    return out


def test_llamacpp_recorded() -> None:
    facts = srv.fingerprint(
        answers(PROPS=json.loads(llamacpp("props")), MODELS=json.loads(llamacpp("v1_models")))
    )
    assert facts.kind == "llamacpp" and "b1-0c1e570" in facts.why
    assert list(facts.models) == ["/models/tiny-qwen3-v1.gguf"]


def test_llamacpp_by_its_model_list_alone() -> None:
    # /props off (llama-swap in front, say): owned_by tells it
    assert srv.fingerprint(answers(MODELS=json.loads(llamacpp("v1_models")))).kind == "llamacpp"


@pytest.mark.parametrize(
    "found,kind",
    [
        ({"OLLAMA_VERSION": OLLAMA_VERSION}, "ollama"),
        # SGLang answers /version too: its own endpoint decides first
        (
            {"SGLANG_MODEL_INFO": sglang_model_info("Qwen/Qwen3-8B"), "VLLM_VERSION": VLLM_VERSION},
            "sglang",
        ),
        ({"VLLM_VERSION": VLLM_VERSION, "MODELS": vllm_models("m", "Qwen/Qwen3-8B")}, "vllm"),
        ({"MODELS": vllm_models("m", "Qwen/Qwen3-8B")}, "vllm"),
        ({"LMSTUDIO_MODELS": lmstudio_models("qwen/qwen3-8b", "qwen3")}, "lmstudio"),
        ({"MODELS": OPENAI_MODELS}, "openai"),
        (
            {
                "MODELS": {
                    "data": [
                        {
                            "type": "model",
                            "id": "claude-sonnet-4-5",
                            "display_name": "Claude Sonnet 4.5",
                            "created_at": "2025-09-29T00:00:00Z",
                        }
                    ],
                    "has_more": False,
                    "first_id": "claude-sonnet-4-5",
                    "last_id": "claude-sonnet-4-5",
                }
            },
            "anthropic",
        ),
    ],
)
def test_fingerprints(found: dict[str, Any], kind: str) -> None:
    assert srv.fingerprint(answers(**found)).kind == kind


def test_nothing_answers() -> None:
    facts = srv.fingerprint({path: (0, None) for path in (srv.PROPS, srv.MODELS)})
    assert facts.kind is None and "no metadata endpoint answered" in facts.why
    facts = srv.fingerprint({srv.PROPS: NOT_FOUND, srv.MODELS: (401, None)})
    assert facts.kind is None and "credential" in facts.why


def test_ollama_show_reader() -> None:
    show = srv.read_ollama_show(
        ollama_show(OLLAMA_QWEN3_TEMPLATE, ["completion", "tools", "thinking"], "qwen3")
    )
    assert show is not None and show.capabilities == ("completion", "tools", "thinking")
    assert show.family == "qwen3" and "<think>" in show.template
    # capabilities is omitempty in api.ShowResponse: absent means not known
    bare = srv.read_ollama_show({"template": "", "details": {}})
    assert bare is not None and bare.capabilities is None and bare.family is None


def test_parse_answer_framings() -> None:
    assert parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk").body == b"{}"
    chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{"\r\n4\r\na":1\r\n1\r\n}\r\n0\r\n\r\n'
    answer = parse_answer(chunked)
    assert answer.status == 200 and answer.json() == {"a": 1}
    assert parse_answer(b"HTTP/1.1 404 Not Found\r\n\r\nnope").json() is None
    with pytest.raises(ValueError):
        parse_answer(b"SSH-2.0-OpenSSH\r\n")
