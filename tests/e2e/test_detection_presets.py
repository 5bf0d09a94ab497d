"""Every preset detected end to end: one proxy with THINK_FAMILY=auto in front of a scripted vLLM
whose served names say nothing and whose `root`s (the repositories, as `GET /v1/models` reports
them) name the family; each model's own tags stripped, streamed and buffered."""

from __future__ import annotations

from typing import Any

import pytest

from cot_proxy.think_families import FAMILY_NAMES
from tests.fixtures.detect import VLLM_VERSION
from tests.fixtures.detect import vllm_models

from .test_interop import ask
from .upstream import Received
from .upstream import Reply
from .upstream import chat_chunk
from .upstream import chat_completion
from .upstream import sse_event

# family → (root, the answer's pieces, content, reasoning)
PRESETS: dict[str, tuple[str, list[str], str, str]] = {
    "qwen3": ("Qwen/Qwen3-8B", ["<think>plan</th", "ink>Hi"], "Hi", "plan"),
    "qwen3_5": ("Qwen/Qwen3.5-4B", ["plan</th", "ink>Hi"], "Hi", "plan"),
    "deepseek_r1": ("deepseek-ai/DeepSeek-R1-0528", ["plan</think>", "Hi"], "Hi", "plan"),
    "gemma4": ("google/gemma-4-31B-it", ["<|channel>thought\nplan<chan", "nel|>Hi"], "Hi", "plan"),
    "mistral": ("mistralai/Magistral-Small-2509", ["[THINK]plan[/THI", "NK]Hi"], "Hi", "plan"),
    "seed": (
        "ByteDance-Seed/Seed-OSS-36B-Instruct",
        ["<seed:think>plan</seed:think>Hi"],
        "Hi",
        "plan",
    ),
    "kimi": ("moonshotai/Kimi-VL-A3B-Thinking-2506", ["◁think▷plan◁/thi", "nk▷Hi"], "Hi", "plan"),
    "kimi_k2": ("moonshotai/Kimi-K2-Thinking", ["<think>plan</think>Hi"], "Hi", "plan"),
    "granite": (
        "ibm-granite/granite-3.2-8b-instruct",
        ["Here is my thought process: plan Here is my res", "ponse: Hi"],
        "Hi",
        "plan",
    ),
    "hunyuan": (
        "tencent/Hunyuan-A13B-Instruct",
        ["<think>\nplan\n</think>\n<ans", "wer>\nHi\n</answer>"],
        "Hi\n",
        "plan",
    ),
    "command_r": (
        "CohereLabs/command-a-reasoning-08-2025",
        ["<|START_THINKING|>plan<|END_THINKING|>", "<|START_RESPONSE|>Hi<|END_RESPONSE|>"],
        "Hi",
        "plan",
    ),
    "glm": ("zai-org/GLM-4.5-Air", ["<think>plan</think>Hi"], "Hi", "plan"),
    "minimax": ("MiniMaxAI/MiniMax-M2", ["plan</thi", "nk>Hi"], "Hi", "plan"),
}


def test_every_preset_is_here() -> None:
    assert set(PRESETS) == set(FAMILY_NAMES)


@pytest.fixture(scope="module")
def preset_proxy(start_proxy, upstream):
    serve(upstream)
    proxy = start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "THINK_FAMILY": "auto",
            "THINK_MODE": "reasoning",
        }
    )
    proxy.wait_log("target server: vllm (GET /version: 0.11.0)")  # before a test resets upstream
    return proxy


def serve(upstream) -> None:
    cards = [
        vllm_models(f"served-{family}", root)["data"][0] for family, (root, *_) in PRESETS.items()
    ]

    async def handler(req: Received, reply: Reply) -> None:
        if req.path == "/version":
            await reply.json(200, VLLM_VERSION)
        elif req.path == "/v1/models":
            await reply.json(200, {"object": "list", "data": cards})
        elif req.path == "/v1/chat/completions":
            body: dict[str, Any] = req.json()
            pieces = PRESETS[body["model"].removeprefix("served-")][1]
            if body.get("stream"):
                events = [sse_event(chat_chunk("", role="assistant"))]
                events += [sse_event(chat_chunk(p)) for p in pieces]
                events += [sse_event(chat_chunk(None, finish="stop")), sse_event("[DONE]")]
                await reply.sse(events)
            else:
                await reply.json(200, chat_completion("".join(pieces)))
        else:
            await reply.json(404, {"detail": "Not Found"})  # FastAPI's 404

    upstream.reset(handler)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
@pytest.mark.parametrize("family", list(PRESETS))
def test_detected_preset(preset_proxy, upstream, family: str, stream: bool) -> None:
    serve(upstream)
    _, _, content, reasoning = PRESETS[family]
    assert ask(preset_proxy, f"served-{family}", stream) == (content, reasoning)
    preset_proxy.wait_log(f"model served-{family}: family {family} (name:")
