"""The generations the conformance suite forces: one GBNF grammar per case, many seeds each.

Think text is written in lower case (`[a-z]`), the answer in upper case and digits, so "no think text
reached the client" is a check on letters: a strip client's text, less the tool-call marker tags, has
no lower-case letter and no `<` or `>`. The grammar fixes the structure; the sampler (random weights,
fixed seed) picks the words, the whitespace at the edges and the tokenization of every tag: `<think>`
comes as Qwen3's added token or as `<`, `think`, `>` pieces, as the seed falls.
"""

from __future__ import annotations

import dataclasses
import re

COMMON_RULES = r"""
tw ::= [a-z]{1,5}
think ::= tw ([ \n] tw){0,2}
long ::= tw ([ \n] tw){24,30}
aw ::= [A-Z0-9]{1,4}
answer ::= aw (" " aw){0,2} "!"?
ews ::= "" | " " | "\n"
ws ::= "" | " " | "\n" | "\n\n"
ms ::= "" | " " | "\n"
call ::= "{\"NAME\": \"" [A-Z]{1,5} "\", \"ARGS\": {}}"
"""


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    root: str
    max_tokens: int | None = None  # set: the grammar cannot end before it, so the answer is cut

    @property
    def grammar(self) -> str:
        """The GBNF text: a request's `grammar`, or a server's `--grammar-file` for /v1/messages,
        whose converter in llama-server passes neither `grammar` nor `seed` on."""
        return f"root ::= {self.root}\n{COMMON_RULES}"


CASES = [
    Case("plain", '"<think>" ews think ews "</think>" ws answer'),
    Case("thinking_off", r'"<think>\n\n</think>\n\n" answer'),
    Case("unclosed_cut", '"<think>" ews long', max_tokens=12),
    Case(
        "marker_in_closed_block",
        '"<think>" tw ms "<tool_call>" ms tw ms "</tool_call>" ms tw "</think>" ws answer',
    ),
    Case("marker_in_unclosed_block", '"<think>" think ms "<tool_call>" ms call ms "</tool_call>"'),
    Case("text_before_block", 'answer ms "<think>" think "</think>" ws answer'),
    Case("several_blocks", '("<think>" think "</think>" ws aw ws){2,3}'),
]
BY_NAME = {case.name: case for case in CASES}
# Inline mode only moves reasoning the server split off: these cases cover its shapes (a block,
# none, an unclosed one, text after the block holding more tags) in less time than all.
INLINE_CASES = [BY_NAME[n] for n in ("plain", "thinking_off", "unclosed_cut", "several_blocks")]

MARKER_TAGS = ("<tool_call>", "</tool_call>")
START_TAG = "<think>"
THINK_LETTERS = re.compile(r"[a-z<>]")


def leaked_think_text(answer: str) -> list[str]:
    """What in a strip client's answer can only have come from think text (empty when none).

    A start tag cut short by max_tokens at the very end (`…ANSWER<thi`) never opened a block: it is
    answer text, for llama.cpp too."""
    for tag in MARKER_TAGS:
        answer = answer.replace(tag, "")
    for size in range(len(START_TAG) - 1, 0, -1):
        if answer.endswith(START_TAG[:size]):
            answer = answer[:-size]
            break
    return THINK_LETTERS.findall(answer)


def strip_problems(label: str, streamed: str, final: str | None = None) -> list[str]:
    """Invariant 1 on a strip client's answer: no think text in the stream (all of its deltas,
    joined: a tool-call tag may be split across them) nor in the final object, and the two agree."""
    problems = []
    for where, text in [("streamed", streamed), ("final", final)]:
        if text is not None and (leaked := leaked_think_text(text)):
            problems.append(f"{label}: strip {where} {text!r} leaks {''.join(leaked)!r}")
    if final is not None and final != streamed:
        problems.append(f"{label}: strip streamed {streamed!r} != final {final!r}")
    return problems
