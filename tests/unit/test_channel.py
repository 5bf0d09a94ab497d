"""ChannelStep: one channel's text container through its ThinkFilter, and the Change it reports."""

from __future__ import annotations

from typing import Any

import pytest

from cot_proxy.channel import Change
from cot_proxy.channel import ChannelStep
from cot_proxy.formats import chat
from cot_proxy.formats import completions
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter

CHANGED_TEXT = Change.CHANGED | Change.GAVE_TEXT


def apply(
    container: dict[str, Any],
    finishing: bool = False,
    think_filter: ThinkFilter | None = None,
    **config: Any,
) -> Change:
    cfg = ThinkConfig(**config)
    return ChannelStep(cfg, chat).apply(
        think_filter or ThinkFilter(cfg), container, "stop" if finishing else None
    )


def test_answer_text_is_put_back_in_place() -> None:
    container = {"role": "assistant", "content": "<think>x</think>Hi", "tool_calls": None}
    assert apply(container) is CHANGED_TEXT
    assert container == {"role": "assistant", "content": "Hi", "tool_calls": None}
    assert list(container) == ["role", "content", "tool_calls"]


def test_unchanged_text_is_no_change() -> None:
    container = {"content": "plain"}
    assert apply(container) is Change.NONE
    assert container == {"content": "plain"}


@pytest.mark.parametrize("text", [None, 7, "", ["<think>"]])
def test_no_text_no_change(text: Any) -> None:
    container = {"content": text}
    assert apply(container, finishing=True) is Change.NONE
    assert container == {"content": text}


def test_all_text_held_changes_without_giving_text() -> None:
    container = {"content": "<think>x"}
    assert apply(container) is Change.CHANGED
    assert container == {"content": ""}


def test_reasoning_mode_appends_think_text_after_what_is_there() -> None:
    container = {"content": "<think>b</think>A", "reasoning_content": "a"}
    assert apply(container, mode="reasoning") is CHANGED_TEXT
    assert container == {"content": "A", "reasoning_content": "a\n\nb"}  # set apart


def test_reasoning_mode_custom_field_and_non_string_value() -> None:
    container = {"content": "<think>b</think>", "thoughts": 5}
    assert apply(container, mode="reasoning", reasoning_field="thoughts") is CHANGED_TEXT
    assert container == {"content": "", "thoughts": "b"}


def test_think_text_alone_gives_text() -> None:
    container = {"content": "<think>b"}
    assert apply(container, mode="reasoning") is CHANGED_TEXT
    assert container == {"content": "", "reasoning_content": "b"}


def test_strip_mode_deletes_every_reasoning_field() -> None:
    container = {"content": "A", "reasoning_content": "r", "reasoning": "s", "thoughts": "t"}
    assert apply(container, reasoning_field="thoughts") is Change.CHANGED
    assert container == {"content": "A"}


def test_strip_mode_keeps_null_reasoning_fields() -> None:
    container = {"content": "A", "reasoning_content": None}
    assert apply(container) is Change.NONE
    assert container == {"content": "A", "reasoning_content": None}


@pytest.mark.parametrize("mode", ["reasoning", "keep"])
def test_other_modes_keep_upstream_reasoning(mode: str) -> None:
    container = {"content": "A", "reasoning_content": "r"}
    assert apply(container, mode=mode) is Change.NONE
    assert container == {"content": "A", "reasoning_content": "r"}


def test_keep_mode_changes_nothing() -> None:
    container = {"content": "<think>x</think>A"}
    assert apply(container, finishing=True, mode="keep") is Change.NONE
    assert container == {"content": "<think>x</think>A"}


def test_finishing_releases_held_text_into_the_same_container() -> None:
    cfg = ThinkConfig(mode="reasoning")
    think_filter = ThinkFilter(cfg)
    step = ChannelStep(cfg, chat)
    first = {"content": "A <th"}
    assert step.apply(think_filter, first, None) is CHANGED_TEXT
    assert first == {"content": "A "}
    finish: dict[str, Any] = {}
    assert step.apply(think_filter, finish, "stop") is CHANGED_TEXT
    assert finish == {"content": "<th"}  # a held tag start that never became a tag
    assert think_filter.idle


def test_finishing_an_open_block() -> None:
    cfg = ThinkConfig(mode="reasoning", implicit_start=True)
    think_filter = ThinkFilter(cfg)
    step = ChannelStep(cfg, chat)
    assert step.apply(think_filter, {"content": "no end tag"}, None) is Change.CHANGED
    container = {"content": None}
    assert step.apply(think_filter, container, "stop") is CHANGED_TEXT
    assert container == {"content": "no end tag"}  # never closed: it was the answer


def test_the_format_names_the_text_key() -> None:
    cfg = ThinkConfig()
    choice = {"index": 0, "text": "<think>x</think>ok", "content": "<think>"}
    assert ChannelStep(cfg, completions).apply(ThinkFilter(cfg), choice, None) is CHANGED_TEXT
    assert choice == {"index": 0, "text": "ok", "content": "<think>"}


def test_change_flags_combine() -> None:
    assert Change.CHANGED | CHANGED_TEXT is CHANGED_TEXT
    assert Change.GAVE_TEXT in CHANGED_TEXT and Change.GAVE_TEXT not in Change.CHANGED
    assert not Change.NONE


@pytest.mark.parametrize(
    ("field", "container", "expected"),
    [
        # the upstream's other field is renamed to the configured one
        (
            "reasoning_content",
            {"content": "<think>b</think>A", "reasoning": "a"},
            {"content": "A", "reasoning_content": "a\n\nb"},
        ),
        (
            "reasoning",
            {"content": "", "reasoning_content": "a"},
            {"content": "", "reasoning": "a"},
        ),
        # both: the same text in the two fields
        (
            "both",
            {"content": "<think>b</think>A", "reasoning": "a"},
            {"content": "A", "reasoning": "a\n\nb", "reasoning_content": "a\n\nb"},
        ),
        (
            "both",
            {"content": "x", "reasoning_content": "a", "reasoning": "a"},
            {"content": "x", "reasoning_content": "a", "reasoning": "a"},
        ),
        (
            "both",
            {"content": "<think>t</think>"},
            {"content": "", "reasoning_content": "t", "reasoning": "t"},
        ),
        # null fields are nothing to rename
        (
            "reasoning_content",
            {"content": "x", "reasoning": None},
            {"content": "x", "reasoning": None},
        ),
    ],
)
def test_reasoning_fields_renamed_and_both(
    field: str, container: dict[str, Any], expected: dict[str, Any]
) -> None:
    apply(container, True, mode="reasoning", reasoning_field=field)
    assert container == expected
