"""filter_body: the channel step over a buffered (non-streamed) JSON answer."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from cot_proxy.body import filter_body
from cot_proxy.formats import FORMATS
from cot_proxy.formats import chat
from cot_proxy.formats import completions
from cot_proxy.think import ThinkConfig

USAGE = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


def chat_body(content: Any, **message: Any) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }


def cmpl_body(text: Any) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "text_completion",
        "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
    }


def test_filter_body_chat_strip() -> None:
    body = json.dumps(chat_body("<think>x</think>\nHi", reasoning_content="r")).encode()
    assert json.loads(filter_body(body, ThinkConfig(), chat) or b"") == chat_body("Hi")


def test_filter_body_chat_reasoning_appends_and_keeps_order() -> None:
    body = json.dumps(chat_body("<think>x</think>Hi", reasoning_content="up ")).encode()
    out = filter_body(body, ThinkConfig(mode="reasoning"), chat)
    assert out is not None
    message = json.loads(out)["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Hi", "reasoning_content": "up \n\nx"}
    assert list(json.loads(out)) == ["id", "object", "choices", "usage"]


def test_filter_body_reasoning_custom_field() -> None:
    body = json.dumps(chat_body("<think>x</think>Hi")).encode()
    out = filter_body(body, ThinkConfig(mode="reasoning", reasoning_field="thoughts"), chat)
    assert json.loads(out or b"")["choices"][0]["message"]["thoughts"] == "x"


def test_filter_body_implicit() -> None:
    body = json.dumps(chat_body("x</think>Hi")).encode()
    out = filter_body(body, ThinkConfig(implicit_start=True), chat)
    assert json.loads(out or b"")["choices"][0]["message"]["content"] == "Hi"


@pytest.mark.parametrize("mode", ["strip", "reasoning"])
def test_filter_body_completions(mode: str) -> None:
    body = json.dumps(cmpl_body("<think>x</think>ok")).encode()
    out = json.loads(filter_body(body, ThinkConfig(mode=mode), completions) or b"")  # type: ignore[arg-type]
    assert out["choices"][0]["text"] == "ok"
    assert out["choices"][0].get("reasoning_content") == ("x" if mode == "reasoning" else None)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(chat_body("<think>x</think>Hi")).encode(),  # keep mode
    ],
)
def test_filter_body_keep(body: bytes) -> None:
    assert filter_body(body, ThinkConfig(mode="keep"), chat) is None


@pytest.mark.parametrize(
    ("body", "endpoint"),
    [
        (b"not json", "chat"),
        (b"\xff\xfe", "chat"),
        (b"[1]", "chat"),
        (b'{"error": {"message": "<think>"}}', "chat"),
        (json.dumps(chat_body("no tags here")).encode(), "chat"),
        (json.dumps(chat_body(None, tool_calls=[])).encode(), "chat"),
        (json.dumps(cmpl_body("<think>x</think>")).encode(), "chat"),  # wrong field for chat
        (json.dumps(chat_body("<think>x</think>")).encode(), "completions"),
    ],
)
def test_filter_body_unchanged_or_not_applicable(body: bytes, endpoint: str) -> None:
    assert filter_body(body, ThinkConfig(), FORMATS[endpoint]) is None


def test_filter_body_non_ascii_output() -> None:
    body = json.dumps(chat_body("<think>x</think>日本")).encode()
    assert "日本".encode() in (filter_body(body, ThinkConfig(), chat) or b"")


def test_filter_body_n2_each_choice_filtered_on_its_own() -> None:
    body = chat_body("<think>a</think>A")
    body["choices"].append(
        {"index": 1, "message": {"content": "B<think>b"}, "finish_reason": "stop"}
    )
    out = json.loads(
        filter_body(json.dumps(body).encode(), ThinkConfig(mode="reasoning"), chat) or b""
    )
    messages = [choice["message"] for choice in out["choices"]]
    assert messages[0]["content"] == "A" and messages[0]["reasoning_content"] == "a"
    assert messages[1] == {"content": "B", "reasoning_content": "b"}


def test_filter_body_strip_deletes_upstream_reasoning_without_tags() -> None:
    body = json.dumps(chat_body("plain", reasoning="up", reasoning_content=None)).encode()
    out = json.loads(filter_body(body, ThinkConfig(), chat) or b"")
    assert out["choices"][0]["message"] == {
        "role": "assistant",
        "content": "plain",
        "reasoning_content": None,
    }


def test_filter_body_accepts_what_json_loads_accepts() -> None:
    body = b"\xef\xbb\xbf" + json.dumps(chat_body("<think>x</think>Hi")).encode()  # UTF-8 BOM
    assert json.loads(filter_body(body, ThinkConfig(), chat) or b"") == chat_body("Hi")
    utf16 = json.dumps(chat_body("<think>x</think>Hi")).encode("utf-16")
    assert json.loads(filter_body(utf16, ThinkConfig(), chat) or b"") == chat_body("Hi")


def test_filter_body_never_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(chat_body("<think>secret</think>Hi")).encode()

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret")

    monkeypatch.setattr("cot_proxy.channel.ChannelStep.apply", boom)
    with caplog.at_level(logging.ERROR, logger="cot_proxy.body"):
        assert filter_body(body, ThinkConfig(), chat) is None
    assert "RuntimeError" in caplog.text and "secret" not in caplog.text
