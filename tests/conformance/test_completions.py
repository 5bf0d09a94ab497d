"""Legacy completions: the chat template's prompt sent to /v1/completions generates, on the same seed,
what the chat request does, so llama.cpp's chat parser is the reference here too."""

from __future__ import annotations

import pytest

from .cases import CASES
from .cases import Case
from .cases import strip_problems
from .clients import chat_prompt
from .clients import completion_buffered
from .clients import completion_streamed
from .clients import direct_chat
from .clients import llama_split
from .clients import sampling
from .compare import UNKNOWN
from .compare import Tally

SEEDS = range(2)


@pytest.fixture(scope="module")
def prompt(llama) -> str:
    return chat_prompt(llama)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_completions_against_llama(
    case: Case, prompt: str, llama, relay, proxies, tally: Tally
) -> None:
    problems: list[str] = []
    for seed in SEEDS:
        extra = sampling(case.grammar, seed, case.max_tokens)
        label = f"completions {case.name} seed {seed}"
        llama_own = llama_split(direct_chat(llama, extra, "deepseek"))

        reasoning = completion_buffered(proxies["reasoning"], prompt, extra)
        raw = relay.last_json()["choices"][0]["text"]
        tally.add(label, raw, llama_own, reasoning)
        streamed, _ = completion_streamed(proxies["reasoning"], prompt, extra)
        if streamed != reasoning:
            problems.append(f"{label}: reasoning streamed {streamed} != buffered {reasoning}")

        strip, _ = completion_streamed(proxies["strip"], prompt, extra)
        problems += strip_problems(label, strip.content)
        if strip.content != reasoning.content or strip.reasoning:
            problems.append(f"{label}: strip {strip} != reasoning's answer {reasoning}")
    if UNKNOWN in tally.counts:
        problems.append("differences from llama.cpp in no documented category (see below)")
    assert not problems, "\n".join(problems) + "\n" + tally.report()
