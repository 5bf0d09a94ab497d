"""split_blocks gives what the state machine gives, for every text and every config it covers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.think import ThinkConfig
from cot_proxy.think_families import FAMILIES
from cot_proxy.wholetext import _cutter
from cot_proxy.wholetext import remove_think_blocks
from cot_proxy.wholetext import split_blocks
from cot_proxy.wholetext import splitter_for

THINK = ("<think>", "</think>")
VOCAB = [
    "<think>",
    "</think>",
    "<tool_call>",
    "[THINK]",
    "[/THINK]",
    "<",
    "</",
    "think>",
    "<th",
    "a",
    "bc",
    " ",
    "\n",
    "\t",
    "é",
    "🙂",
    "[[",
    "]]",
    "<|channel>",  # gemma4: a start tag that begins the other, "<|channel>thought\n"
    "thought",
    "<channel|>",
]
texts = st.lists(st.sampled_from(VOCAB), max_size=40).map("".join)
CONFIGS = [
    ThinkConfig(mode="strip"),
    ThinkConfig(mode="reasoning"),
    ThinkConfig(mode="reasoning", end_markers=()),
    ThinkConfig(mode="reasoning", tags=(THINK, ("[[", "]]"))),
    ThinkConfig(mode="strip", tags=(("[THINK]", "[/THINK]"), THINK), end_markers=("<tool_call>",)),
    ThinkConfig(mode="reasoning", tags=(THINK, ("<think>", "]]"))),  # a start tag listed twice
    ThinkConfig(mode="reasoning", tags=(("<", "</"),)),  # an end tag that begins as its start
    *(
        ThinkConfig(mode=mode, tags=family.tags, end_markers=family.end_markers)
        for family in FAMILIES.values()
        if not family.implicit_start and not family.unwrap
        for mode in ("strip", "reasoning")
    ),
]


@settings(max_examples=400, deadline=None)
@given(texts, st.sampled_from(CONFIGS))
def test_same_as_the_state_machine(text: str, config: ThinkConfig) -> None:
    assert split_blocks(text, config) == remove_think_blocks(text, config)
    assert splitter_for(config)(text) == remove_think_blocks(text, config)


def test_every_config_above_is_cut_not_handed_on() -> None:
    assert all(_cutter(config) is not None for config in CONFIGS)


def test_what_it_does_not_cover_goes_to_the_state_machine() -> None:
    for config in (
        ThinkConfig(implicit_start=True),
        ThinkConfig(unwrap=(("<answer>", "</answer>"),)),
        ThinkConfig(mode="keep"),
        ThinkConfig(mode="inline"),
    ):
        assert _cutter(config) is None
        text = "plan</think> <answer>A</answer><think>x"
        assert split_blocks(text, config) == remove_think_blocks(text, config)
        assert splitter_for(config)(text) == remove_think_blocks(text, config)


def test_the_usual_turn_is_cut_without_a_regex_where_it_can_be() -> None:
    # One start tag: str.startswith finds it; one first character: str.find rules out the rest.
    assert _cutter(ThinkConfig()).lead == THINK
    assert _cutter(ThinkConfig()).first_char == "<"
    two = _cutter(ThinkConfig(tags=(THINK, ("[[", "]]"))))
    assert (two.lead, two.first_char) == (None, "")
    assert _cutter(ThinkConfig(tags=(("<", "</"),))).lead is None


def test_agent_history_messages() -> None:
    text = "<think>Turn 3: check the args.</think>\n\nDone with step 3: ok"
    assert split_blocks(text, ThinkConfig()) == ("Done with step 3: ok", "")
    reasoning = ThinkConfig(mode="reasoning")
    assert split_blocks("<think>\na\n</think>b<think>c</think>", reasoning) == ("b", "a\n\nc")


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["<think>", "[THINK]", "[["]),
    texts,
    st.sampled_from(["</think>", "[/THINK]", "]]"]),
    texts,
    st.sampled_from(CONFIGS),
)
def test_a_block_first_is_cut_as_the_state_machine_cuts_it(
    start: str, thought: str, end: str, answer: str, config: ThinkConfig
) -> None:
    # The usual assistant turn (a block, then the answer) takes a shorter path in split_blocks.
    text = f"{start}{thought}{end}{answer}"
    assert split_blocks(text, config) == remove_think_blocks(text, config)
    assert splitter_for(config)(text) == remove_think_blocks(text, config)
