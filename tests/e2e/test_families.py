"""Tag families end to end (issue 11 item 5): THINK_FAMILY globally and think_family per rule,
answer wrappers included, through the real proxy with the openai SDK, streamed and buffered."""

from __future__ import annotations

import pytest

from .conftest import run_entrypoint
from .test_interop import ask
from .test_interop import serve_chat

RULES_FILE = """
models:
  - model: command-r
    think_family: command_r
  - model: hunyuan
    think_family: hunyuan
  - model: r1-own-tags
    think_family: deepseek_r1
    think_tags: [["<reasoning>", "</reasoning>"]]
"""


@pytest.fixture(scope="module")
def family_proxy(start_proxy, upstream, tmp_path_factory):
    path = tmp_path_factory.mktemp("families") / "rules.yaml"
    path.write_text(RULES_FILE, encoding="utf-8")
    return start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "CONFIG_FILE": str(path),
            "THINK_FAMILY": "mistral",
            "THINK_MODE": "reasoning",
        }
    )


CASES = [
    # (model, pieces, content, reasoning)
    # THINK_FAMILY=mistral for every model without a rule of its own
    (
        "magistral",
        ["[THINK]The user", " greets me.[/TH", "INK]Hello!"],
        "Hello!",
        "The user greets me.",
    ),
    ("magistral", ["<think>not a mistral tag</think>Hi"], "<think>not a mistral tag</think>Hi", ""),
    # a rule's family, with its answer wrapper (tags split across events)
    (
        "command-r",
        [
            "<|START_THINKING|>I'm\nthinking<|END_THIN",
            "KING|><|START_RESP",
            "ONSE|>Hello, world!\nWhat's up?<|END_RESPONSE|>",
        ],
        "Hello, world!\nWhat's up?",
        "I'm\nthinking",
    ),
    (
        "hunyuan",
        ["<think>\nA greeting.\n</think>\n<ans", "wer>\nHello!\n</answer>"],
        "Hello!\n",
        "A greeting.",
    ),
    # explicit keys beside a family win: its implicit start stays, the tags are the rule's
    ("r1-own-tags", ["plan", "</reasoning>\n\nDone"], "Done", "plan"),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
@pytest.mark.parametrize(("model", "pieces", "content", "reasoning"), CASES)
def test_families(family_proxy, upstream, stream, model, pieces, content, reasoning):
    serve_chat(upstream, pieces)
    assert ask(family_proxy, model, stream) == (content, reasoning)


def test_unknown_think_family_stops_the_proxy(tmp_path):
    done = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/v1/", "THINK_FAMILY": "qwen9"}, tmp_path
    )
    assert done.returncode != 0
    assert "THINK_FAMILY must be auto or one of qwen3, " in done.stdout + done.stderr
