"""The thinking switch against the real llama-server: the knob the proxy writes is one the server
reads, on chat and on the Responses API.

llama.cpp's row writes `chat_template_kwargs.enable_thinking` on every endpoint (README,
"Thinking control"). Whether llama-server's `/v1/responses` hands `chat_template_kwargs` to the
template was an open question: it does. Qwen3's template answers `enable_thinking=false` with an
empty think block in the generation prompt (`<think>\n\n</think>\n\n`, four tokens of the tiny
model's Qwen2 vocabulary), so the prompt the server counts grows by exactly four tokens.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from ..e2e.conftest import Proxy
from .relay import Relay

EMPTY_THINK_BLOCK_TOKENS = 4


@pytest.fixture(scope="module")
def llamacpp_proxy(relay: Relay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    home = tmp_path_factory.mktemp("proxy-thinking")
    env = {
        "TARGET_BASE_URL": f"{relay.url}/v1/",
        "TARGET_SERVER": "llamacpp",
        "THINK_MODE": "strip",
        "API_REQUEST_TIMEOUT": "60",
    }
    proxy = Proxy(env, home / "proxy.log").wait_ready()
    yield proxy
    proxy.stop()


def curl(url: str, body: dict[str, Any], *headers: str) -> Any:
    args = ["curl", "-sS", "--max-time", "60", url, "-H", "Content-Type: application/json"]
    for header in headers:
        args += ["-H", header]
    result = subprocess.run(
        [*args, "-d", json.dumps(body)], capture_output=True, timeout=70, check=True
    )
    return json.loads(result.stdout)


REQUESTS = {
    "chat/completions": (
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        lambda usage: usage["prompt_tokens"],
    ),
    "responses": ({"input": "hi", "max_output_tokens": 2}, lambda usage: usage["input_tokens"]),
}


@pytest.mark.parametrize("path", list(REQUESTS))
def test_thinking_off_reaches_the_template(llamacpp_proxy: Proxy, relay: Relay, path: str) -> None:
    body, prompt_tokens = REQUESTS[path]
    url = f"{llamacpp_proxy.url}/v1/{path}"
    request = {"model": "tiny", "seed": 18, **body}
    plain = curl(url, request)
    off = curl(url, request, "X-Thinking: off")
    sent = json.loads(relay.last().request)
    assert sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert prompt_tokens(off["usage"]) == prompt_tokens(plain["usage"]) + EMPTY_THINK_BLOCK_TOKENS
    on = curl(url, request, "X-Thinking: high")
    assert json.loads(relay.last().request)["chat_template_kwargs"] == {"enable_thinking": True}
    assert prompt_tokens(on["usage"]) == prompt_tokens(plain["usage"])
