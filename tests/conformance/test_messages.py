"""Anthropic Messages (/v1/messages) through the anthropic SDK.

llama-server's Anthropic converter passes neither `grammar` nor `seed` on, so each case gets a
server of its own with the case's grammar as its default (`--grammar-file`) and the default seed,
and the answers are varied by the prompt. llama.cpp's own split is a chat request with the same
prompt to the same server: the same request the converter makes, so the same tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ..e2e.conftest import Proxy
from .cases import CASES
from .cases import INLINE_CASES
from .cases import Case
from .cases import strip_problems
from .clients import direct_chat_for_messages
from .clients import messages_buffered
from .clients import messages_streamed
from .compare import UNKNOWN
from .compare import Split
from .compare import Tally
from .compare import agree
from .llama import LlamaServer

PROMPTS = ["Hi", "Hello there"]


def raw_text(body: dict[str, Any]) -> str:
    return "".join(block["text"] for block in body["content"] if block["type"] == "text")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_messages_against_llama(
    case: Case, llama_with_grammar, relay, proxies, tally: Tally
) -> None:
    server = llama_with_grammar(case.grammar)
    max_tokens = case.max_tokens or 200
    problems: list[str] = []
    for prompt in PROMPTS:
        label = f"messages {case.name} {prompt!r}"
        llama_own = direct_chat_for_messages(server, prompt, max_tokens)

        reasoning, _ = messages_buffered(proxies["reasoning"], prompt, max_tokens)
        raw = raw_text(relay.last_json())
        tally.add(label, raw, llama_own, reasoning)
        streamed, _, final = messages_streamed(proxies["reasoning"], prompt, max_tokens)
        if not agree(streamed, final, reasoning):
            problems.append(
                f"{label}: reasoning streamed {streamed}, final {final}, buffered {reasoning}"
            )

        strip, _, strip_final = messages_streamed(proxies["strip"], prompt, max_tokens)
        problems += strip_problems(label, strip.content, strip_final.content)
        if strip.reasoning or strip_final.reasoning:
            problems.append(f"{label}: strip sent thinking {strip} {strip_final}")
        if strip.content != reasoning.content:
            problems.append(f"{label}: strip {strip} != reasoning's answer {reasoning}")

    # inline, over llama.cpp's own split (a server with `--reasoning-format deepseek`): its
    # thinking block goes back into the text as one `<think>` block before the answer.
    if case in INLINE_CASES:
        problems += inline_problems(case, max_tokens, llama_with_grammar, proxies)
    if UNKNOWN in tally.counts:
        problems.append("differences from llama.cpp in no documented category (see below)")
    assert not problems, "\n".join(problems) + "\n" + tally.report()


def inline_problems(
    case: Case,
    max_tokens: int,
    llama_with_grammar: Callable[..., LlamaServer],
    proxies: dict[str, Proxy],
) -> list[str]:
    llama_with_grammar(case.grammar, "deepseek")
    own, _ = messages_buffered(proxies["keep"], PROMPTS[0], max_tokens)
    expected = f"<think>{own.reasoning}</think>{own.content}" if own.reasoning else own.content
    inline, _ = messages_buffered(proxies["inline"], PROMPTS[0], max_tokens)
    inline_streamed, _, inline_final = messages_streamed(proxies["inline"], PROMPTS[0], max_tokens)
    if not (inline == inline_streamed == inline_final == Split(None, expected)):
        return [f"inline {inline} / {inline_streamed} / {inline_final} != {expected!r}"]
    return []
