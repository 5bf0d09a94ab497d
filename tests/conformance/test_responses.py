"""The Responses API (/v1/responses): llama-server's own event shapes through the proxy.

llama-server's Responses events carry `item_id` but no `output_index`, `content_index` or
`sequence_number`. Its own split (`reasoning_format: deepseek`, a `reasoning` item before the
message) is the reference for the proxy's reasoning mode.
"""

from __future__ import annotations

from typing import Any

import pytest

from .cases import CASES
from .cases import INLINE_CASES
from .cases import Case
from .cases import strip_problems
from .clients import direct_responses
from .clients import responses_buffered
from .clients import responses_streamed
from .clients import sampling
from .compare import UNKNOWN
from .compare import Split
from .compare import Tally
from .compare import agree

SEEDS = range(2)


def raw_text(body: dict[str, Any]) -> str:
    return "".join(
        part["text"]
        for item in body["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_responses_against_llama(case: Case, llama, relay, proxies, tally: Tally) -> None:
    problems: list[str] = []
    for seed in SEEDS:
        extra = sampling(case.grammar, seed, case.max_tokens)
        label = f"responses {case.name} seed {seed}"
        llama_own = direct_responses(llama, extra, "deepseek")

        reasoning = responses_buffered(proxies["reasoning"], extra)
        raw = raw_text(relay.last_json())
        tally.add(label, raw, llama_own, reasoning)
        streamed, _, final = responses_streamed(proxies["reasoning"], extra)
        if not agree(streamed, final, reasoning):
            problems.append(
                f"{label}: reasoning streamed {streamed}, completed {final}, buffered {reasoning}"
            )

        strip, _, strip_final = responses_streamed(proxies["strip"], extra)
        problems += strip_problems(label, strip.content, strip_final.content)
        if strip.reasoning or strip_final.reasoning:
            problems.append(f"{label}: strip sent reasoning {strip} {strip_final}")
        if seed == 0:
            problems += strip_problems(
                label + " buffered", responses_buffered(proxies["strip"], extra).content
            )
    if UNKNOWN in tally.counts:
        problems.append("differences from llama.cpp in no documented category (see below)")
    assert not problems, "\n".join(problems) + "\n" + tally.report()


def test_responses_inline_puts_llamas_reasoning_back(llama, proxies) -> None:
    """inline over llama-server's own reasoning items (`reasoning_format: deepseek`): their text
    goes back into the message's text as one `<think>` block, streamed and buffered alike."""
    problems: list[str] = []
    for case in INLINE_CASES:
        extra = sampling(case.grammar, 1, case.max_tokens)
        own = direct_responses(llama, extra, "deepseek")
        expected = f"<think>{own.reasoning}</think>{own.content}" if own.reasoning else own.content
        deepseek = {**extra, "reasoning_format": "deepseek"}
        inline = responses_buffered(proxies["inline"], deepseek)
        streamed, _, final = responses_streamed(proxies["inline"], deepseek)
        if not (inline == streamed == final == Split(None, expected)):
            problems.append(f"{case.name}: inline {inline} / {streamed} / {final} != {expected!r}")
    assert not problems, "\n".join(problems)
