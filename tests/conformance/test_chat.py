"""Chat completions: the proxy in front of llama-server against llama.cpp's own reasoning parser.

Per case and seed: llama.cpp's split (`reasoning_format: deepseek`, straight to the server), the raw
generation (`none`, as the relay saw it go to the proxy), and the proxy's answers in strip,
reasoning and inline mode, buffered and streamed, through the openai SDK. The same seed gives the
same tokens every time, whatever the reasoning format.
"""

from __future__ import annotations

import pytest

from .cases import CASES
from .cases import INLINE_CASES
from .cases import Case
from .cases import strip_problems
from .clients import chat_buffered
from .clients import chat_streamed
from .clients import direct_chat
from .clients import llama_split
from .clients import sampling
from .compare import UNKNOWN
from .compare import Split
from .compare import Tally
from .compare import oracle
from .compare import words

SEEDS = range(3)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_chat_against_llama(case: Case, llama, relay, proxies, tally: Tally) -> None:
    problems: list[str] = []
    for seed in SEEDS:
        extra = sampling(case.grammar, seed, case.max_tokens)
        label = f"chat {case.name} seed {seed}"
        llama_own = llama_split(direct_chat(llama, extra, "deepseek"))

        reasoning = chat_buffered(proxies["reasoning"], extra)
        raw = relay.last_json()["choices"][0]["message"]["content"]  # what the server sent
        streamed, _ = chat_streamed(proxies["reasoning"], extra)
        tally.add(label, raw, llama_own, reasoning)
        if streamed != reasoning:
            problems.append(f"{label}: reasoning streamed {streamed} != buffered {reasoning}")

        strip, _ = chat_streamed(proxies["strip"], extra)
        final = chat_buffered(proxies["strip"], extra).content if seed == 0 else None
        problems += strip_problems(label, strip.content, final)
        if strip.reasoning:
            problems.append(f"{label}: strip sent reasoning {strip.reasoning!r}")
        if words(strip.content) != words(oracle(raw).content):
            problems.append(f"{label}: strip {strip.content!r} != README rules on {raw!r}")
        if strip.content != reasoning.content:
            problems.append(f"{label}: strip answer {strip} != reasoning answer {reasoning}")
    if UNKNOWN in tally.counts:
        problems.append("differences from llama.cpp in no documented category (see below)")
    assert not problems, "\n".join(problems) + "\n" + tally.report()


def test_chat_inline_leaves_the_models_own_tags(llama, relay, proxies) -> None:
    """inline with `reasoning_format: none`: think text the model wrote itself is left as it is."""
    problems: list[str] = []
    for case in CASES:
        extra = sampling(case.grammar, 0, case.max_tokens)
        inline = chat_buffered(proxies["inline"], extra)
        raw = relay.last_json()["choices"][0]["message"]["content"]
        if inline != Split(None, raw):
            problems.append(f"{case.name}: inline {inline} != raw {raw!r}")
    assert not problems, "\n".join(problems)


def test_chat_inline_puts_llamas_reasoning_back(llama, proxies) -> None:
    """inline over llama.cpp's own split (`reasoning_format: deepseek`): its reasoning goes back into
    the content as one `<think>` block before the answer, streamed and buffered alike."""
    problems: list[str] = []
    for case in INLINE_CASES:
        extra = sampling(case.grammar, 1, case.max_tokens)
        split = llama_split(direct_chat(llama, extra, "deepseek"))
        extra_deepseek = {**extra, "reasoning_format": "deepseek"}
        inline = chat_buffered(proxies["inline"], extra_deepseek)
        inline_streamed, _ = chat_streamed(proxies["inline"], extra_deepseek)
        expected = split.content
        if split.reasoning:
            expected = f"<think>{split.reasoning}</think>{split.content}"
        if inline != Split(None, expected) or inline_streamed != inline:
            problems.append(f"{case.name}: inline {inline} / {inline_streamed} != {expected!r}")
    assert not problems, "\n".join(problems)
