"""The completions format: text in choices[].text, streamed and buffered."""

from __future__ import annotations

from typing import Any

import pytest

from cot_proxy.formats import completions

ENVELOPE = {"id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "qwen3"}


def chunk(*choices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**ENVELOPE, "choices": list(choices), **extra}


def choice(text: Any, index: Any = 0, finish: Any = None, **extra: Any) -> dict[str, Any]:
    return {"index": index, "text": text, "logprobs": None, "finish_reason": finish, **extra}


def test_where_the_text_is() -> None:
    assert completions.name == "completions" and completions.text_key == "text"
    assert completions.upstream_reasoning_fields == ("reasoning_content", "reasoning")
    assert completions.done_payload == b"[DONE]"


def test_each_choice_is_its_own_container() -> None:
    first, second = choice("a", 0), choice("b", 1, "length")
    assert completions.event_channels(chunk(first, second)) == [
        (0, first, None),
        (1, second, "length"),
    ]
    assert completions.event_channels(chunk(first))[0][1] is first
    assert completions.event_channels({"choices": [{"delta": None}]}) == [
        (0, {"delta": None}, None)
    ]
    assert completions.event_channels({"choices": None}) is None


def test_body_containers_are_the_choices() -> None:
    first = {"index": 0, "text": "x", "finish_reason": "stop"}
    assert completions.body_containers({"choices": [first, "junk"]}) == [(first, "stop")]
    assert completions.body_containers([]) is None


@pytest.mark.parametrize(
    "obj", [chunk(choice("")), chunk(choice(None)), chunk(choice("", 0), choice("", 1))]
)
def test_carries_nothing(obj: dict[str, Any]) -> None:
    assert completions.carries_nothing(obj)


@pytest.mark.parametrize(
    "obj",
    [
        chunk(choice("x")),
        chunk(choice("", finish="stop")),
        chunk(choice("", logprobs={"tokens": []})),
        chunk(choice(""), usage={"total_tokens": 1}),
        chunk(choice("", delta={})),  # any other non-null field is worth sending
        chunk(),
    ],
)
def test_carries_something(obj: dict[str, Any]) -> None:
    assert not completions.carries_nothing(obj)


def test_released_event_always_has_its_text() -> None:
    last = chunk(choice("x", reasoning_content="r"), usage={"total_tokens": 3})
    assert completions.released_event(last, 0, "", "thought", "reasoning_content") == {
        **ENVELOPE,
        "choices": [
            {
                "index": 0,
                "text": "",
                "logprobs": None,
                "finish_reason": None,
                "reasoning_content": "thought",
            }
        ],
        "usage": None,
    }
    released = completions.released_event(last, 0, "a", "", "reasoning_content")
    assert released["choices"] == [
        {"index": 0, "text": "a", "logprobs": None, "finish_reason": None}
    ]


@pytest.mark.parametrize(
    ("raw", "known"),
    [
        (b'{"choices":[{"index":0,"text":"a"}]}', True),
        (b'{"choices":[{"index":3,"text":"a"}]}', False),
        (b'{"choices":[{"text":"a"}]}', False),
        (b'{"choices":[{"delta":{"content":"a"}}]}', True),  # no text key: no completions text
    ],
)
def test_channels_known(raw: bytes, known: bool) -> None:
    assert completions.channels_known(raw, {0: None}) is known
