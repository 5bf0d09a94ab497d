"""The chat format: text in choices[].delta.content (streamed) and choices[].message.content."""

from __future__ import annotations

from typing import Any

import pytest

from cot_proxy.formats import chat

ENVELOPE = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "qwen3",
    "system_fingerprint": None,
}


def chunk(*choices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**ENVELOPE, "choices": list(choices), **extra}


def choice(delta: Any, index: Any = 0, finish: Any = None, **extra: Any) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish, **extra}


def test_where_the_text_is() -> None:
    assert chat.name == "chat" and chat.text_key == "content"
    assert chat.upstream_reasoning_fields == ("reasoning_content", "reasoning")
    assert chat.done_payload == b"[DONE]"


def test_event_channels_are_the_choices_deltas() -> None:
    first, second = {"content": "a"}, {"content": "b"}
    obj = chunk(choice(first, 1), choice(second, 0, "stop"))
    assert chat.event_channels(obj) == [(1, first, None), (0, second, "stop")]
    assert chat.event_channels(obj)[0][1] is first  # the container itself, to edit in place


@pytest.mark.parametrize(
    ("index", "expected"), [(None, 1), ("0", 1), (True, 1), (2.0, 1), (3, 3), (-1, -1)]
)
def test_a_choice_without_an_int_index_is_named_by_its_position(index: Any, expected: int) -> None:
    obj = chunk(choice({}, 0), choice({}, index))
    assert chat.event_channels(obj)[1][0] == expected


@pytest.mark.parametrize("delta", [None, "text", ["content"], 5])
def test_a_choice_without_a_delta_dict_has_no_container(delta: Any) -> None:
    assert chat.event_channels(chunk(choice(delta, 0, "stop"))) == [(0, None, "stop")]


def test_a_streamed_choice_with_a_message_and_no_delta_is_read_there() -> None:
    message = {"role": "assistant", "content": "<think>a</think>b"}
    obj = chunk({"index": 0, "message": message, "finish_reason": None})
    assert chat.event_channels(obj) == [(0, message, None)]
    assert chat.event_channels(obj)[0][1] is message
    delta = {"content": "c"}
    both = chunk({"index": 0, "delta": delta, "message": message, "finish_reason": None})
    assert chat.event_channels(both) == [(0, delta, None)]  # the delta first


@pytest.mark.parametrize("obj", [[1], "x", None, {"choices": 5}, {"choices": {"0": {}}}, {}])
def test_not_an_answer_event(obj: Any) -> None:
    assert chat.event_channels(obj) is None


def test_non_dict_choices_are_skipped() -> None:
    delta: dict[str, Any] = {}
    assert chat.event_channels({"choices": [7, None, {"delta": delta}]}) == [(2, delta, None)]


def test_body_containers_are_the_messages() -> None:
    message = {"role": "assistant", "content": "x"}
    body = {"choices": [{"index": 0, "message": message}, {"index": 1, "message": None}, 3]}
    assert chat.body_containers(body) == [(message, None)]
    assert chat.body_containers({"error": {}}) is None


@pytest.mark.parametrize(
    "obj",
    [
        chunk(choice({"content": ""})),
        chunk(choice({"content": None, "reasoning_content": None})),
        chunk(choice({})),
        chunk(choice({"content": ""}), choice({}, 1), usage=None),
    ],
)
def test_carries_nothing(obj: dict[str, Any]) -> None:
    assert chat.carries_nothing(obj)


@pytest.mark.parametrize(
    "obj",
    [
        chunk(choice({"content": "x"})),
        chunk(choice({"role": "assistant", "content": ""})),
        chunk(choice({"tool_calls": []})),
        chunk(choice({"content": ""}, finish="stop")),
        chunk(choice({"content": ""}, logprobs={"content": []})),
        chunk(choice({"content": ""}), usage={"total_tokens": 1}),
        chunk(choice(None, text="")),  # "text" means nothing to chat: it is worth sending
        chunk(choice("x")),
        chunk(),  # no choices: not ours to drop
        {"choices": [7]},
    ],
)
def test_carries_something(obj: dict[str, Any]) -> None:
    assert not chat.carries_nothing(obj)


def test_released_event_is_shaped_like_the_last_one() -> None:
    last = chunk(
        choice({"role": "assistant", "content": "x"}, 1, reasoning_content="r"),
        choice({"content": "y"}, 0),
        usage={"total_tokens": 3},
    )
    event = chat.released_event(last, 1, "held", "thought", "reasoning_content")
    assert event == {
        **ENVELOPE,
        "choices": [
            {
                "index": 1,
                "delta": {"content": "held", "reasoning_content": "thought"},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
        "usage": None,  # counted once, in the upstream's own usage event
    }
    assert list(event) == [*ENVELOPE, "choices", "usage"]


def test_released_event_carries_only_the_text_it_has() -> None:
    last = chunk(choice({"content": "x"}))
    assert chat.released_event(last, 0, "", "t", "thoughts")["choices"][0]["delta"] == {
        "thoughts": "t"
    }
    assert chat.released_event(last, 0, "a", "", "thoughts")["choices"][0]["delta"] == {
        "content": "a"
    }


def test_released_event_for_a_choice_missing_from_the_last_event() -> None:
    event = chat.released_event({"id": "c", "choices": []}, 2, "a", "", "reasoning_content")
    assert event == {"id": "c", "choices": [{"index": 2, "delta": {"content": "a"}}]}


@pytest.mark.parametrize(
    ("raw", "known"),
    [
        (b'{"choices":[{"index":0,"delta":{"content":"a"}}]}', True),
        (b'{"choices":[{"index": 1,"delta":{}}]}', False),
        (b'{"choices":[{"delta":{"content":"a"}}]}', False),  # no index: a new choice, maybe
        (b'{"choices":[],"usage":{}}', True),
        (b'{"choices":[{"text":"a"}]}', True),  # no delta: no chat text
        (b"[DONE]", True),
    ],
)
def test_channels_known(raw: bytes, known: bool) -> None:
    assert chat.channels_known(raw, {0: None}) is known
