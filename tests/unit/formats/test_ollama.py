"""Ollama's native API: the rewriter of /api/chat and /api/generate lines, and buffered answers.

The lines are Go's bytes (tests/e2e/ollama_fixtures.py says where each shape comes from); `run`
plays the conductor's part of the contract (cot_proxy.formats._api): passes, event, end.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import ollama
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.filters import Filters
from cot_proxy.formats import EVENT_FORMATS
from cot_proxy.formats import ollama as fmt_ollama
from cot_proxy.formats._api import SAME
from cot_proxy.jsonbytes import encode_json
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from cot_proxy.wholetext import remove_think_blocks
from tests.e2e.ollama_fixtures import chat_line
from tests.e2e.ollama_fixtures import error_line
from tests.e2e.ollama_fixtures import go_json
from tests.e2e.ollama_fixtures import line_of
from tests.e2e.ollama_fixtures import ndjson
from tests.e2e.ollama_fixtures import stream_lines
from tests.e2e.ollama_fixtures import tool_call

STRIP = ThinkConfig()
REASONING = ThinkConfig(mode="reasoning")
INLINE = ThinkConfig(mode="inline")
ENDPOINTS = ["chat", "generate"]
FORMAT = {"chat": fmt_ollama.chat, "generate": fmt_ollama.generate}


def run(
    endpoint: str, config: ThinkConfig, lines: list[bytes]
) -> tuple[list[bytes], fmt_ollama.OllamaRewriter]:
    """The lines a client gets (what the conductor would send), and the rewriter."""
    rewriter = FORMAT[endpoint].rewriter(config, Filters(config))
    out: list[bytes] = []
    for raw in lines:
        if rewriter.passes(raw):
            out.append(raw)
            continue
        result = rewriter.event(json.loads(raw))
        for item in [SAME] if result is None else result:
            out.append(raw if item is SAME else encode_json(item) + b"\n")
    out += [encode_json(item) + b"\n" for item in rewriter.end()]
    return out, rewriter


def body(endpoint: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Where the text is: the message (chat) or the line itself (generate)."""
    return obj.get("message", {}) if endpoint == "chat" else obj


def seen(endpoint: str, out: list[bytes]) -> tuple[str, str, list[dict[str, Any]]]:
    """(text, thinking, the lines) as a client reads them; every line must be one JSON object."""
    objs = [json.loads(raw) for raw in out]
    assert all(raw.endswith(b"\n") and raw.count(b"\n") == 1 for raw in out)
    key = "content" if endpoint == "chat" else "response"
    text = "".join(body(endpoint, o).get(key, "") for o in objs)
    thinking = "".join(body(endpoint, o).get("thinking", "") for o in objs)
    return text, thinking, objs


def streamed(endpoint: str, pieces: list[str], **kw: Any) -> list[bytes]:
    return ndjson(stream_lines(endpoint, pieces, **kw))


def test_registered_for_both_endpoints() -> None:
    assert EVENT_FORMATS["ollama_chat"] is fmt_ollama.chat
    assert EVENT_FORMATS["ollama_generate"] is fmt_ollama.generate
    assert fmt_ollama.chat.name == "ollama_chat" and fmt_ollama.generate.name == "ollama_generate"
    assert fmt_ollama.chat.framing == fmt_ollama.generate.framing == "ndjson"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_go_escaped_tags_split_across_lines_are_removed(endpoint: str) -> None:
    lines = streamed(endpoint, ["<thi", "nk>The user", " greets me.</th", "ink>\n\nHel", "lo!"])
    assert b"\\u003cthi" in lines[0]  # as Go sends it
    out, rewriter = run(endpoint, STRIP, lines)
    text, thinking, objs = seen(endpoint, out)
    assert (text, thinking) == ("Hello!", "")
    assert objs[-1]["done"] is True and objs[-1]["done_reason"] == "stop"
    assert objs[-1]["eval_count"] == 57 and rewriter.finished and rewriter.answered
    assert len(objs) == 3  # the think-only lines are dropped; "Hel", "lo!" and the done line


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_reasoning_moves_think_text_to_thinking(endpoint: str) -> None:
    pieces = ["<think>a", "b</think>A", "<think>c</think>", "B"]
    text, thinking, _ = seen(endpoint, run(endpoint, REASONING, streamed(endpoint, pieces))[0])
    assert (text, thinking) == ("AB", "ab\n\nc")  # blocks apart: one field, as clients join it


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_several_blocks_and_custom_tags(endpoint: str) -> None:
    config = ThinkConfig(tags=(("<think>", "</think>"), ("[T]", "[/T]")))
    pieces = ["<think>x</think>One ", "[T]y[/", "T] two"]
    assert seen(endpoint, run(endpoint, config, streamed(endpoint, pieces))[0])[0] == "One two"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_implicit_start_holds_until_the_end_tag(endpoint: str) -> None:
    config = ThinkConfig(implicit_start=True, mode="reasoning")
    out, _ = run(endpoint, config, streamed(endpoint, ["plan", " more</thi", "nk>Answer"]))
    assert seen(endpoint, out)[:2] == ("Answer", "plan more")


@pytest.mark.parametrize(("reason", "expected"), [("stop", "all text"), ("length", "")])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_implicit_unclosed_goes_out_in_the_done_line(
    endpoint: str, reason: str, expected: str
) -> None:
    config = ThinkConfig(implicit_start=True)
    out, _ = run(endpoint, config, streamed(endpoint, ["all", " text"], done_reason=reason))
    text, _, objs = seen(endpoint, out)
    assert text == expected
    assert len(objs) == 1 and objs[0]["done"] is True  # merged into the done line


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_held_tag_start_is_released_into_the_done_line(endpoint: str) -> None:
    out, _ = run(endpoint, STRIP, streamed(endpoint, ["1 ", "<", "th"]))
    text, _, objs = seen(endpoint, out)
    assert text == "1 <th" and body(endpoint, objs[-1])[FORMAT[endpoint].text_key] == "<th"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_upstream_thinking_per_mode(endpoint: str) -> None:
    lines = streamed(endpoint, ["Hi"], thinking=["Let me", " think"])
    strip_text, strip_thinking, strip_objs = seen(endpoint, run(endpoint, STRIP, lines)[0])
    assert (strip_text, strip_thinking, len(strip_objs)) == ("Hi", "", 2)
    assert run(endpoint, REASONING, lines)[0] == lines  # already where Ollama clients look
    inline_text, inline_thinking, _ = seen(endpoint, run(endpoint, INLINE, lines)[0])
    assert (inline_text, inline_thinking) == ("<think>Let me think</think>Hi", "")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_inline_closes_at_the_done_line_or_the_end(endpoint: str) -> None:
    lines = streamed(endpoint, [], thinking=["only thought"])
    out, _ = run(endpoint, INLINE, lines)
    assert seen(endpoint, out)[0] == "<think>only thought</think>"
    out, _ = run(endpoint, INLINE, lines[:-1])  # no done line: closed at the end of stream
    text, _, objs = seen(endpoint, out)
    assert text == "<think>only thought</think>" and objs[-1]["done"] is False


def test_inline_closes_before_a_tool_call_and_keeps_it() -> None:
    calls = [tool_call("get_weather", city="Paris")]
    lines = ndjson([chat_line(thinking="weather?"), chat_line(tool_calls=calls, step=1)])
    out, rewriter = run("chat", INLINE, lines)
    _, _, objs = seen("chat", out)
    assert objs[1]["message"] == {"role": "assistant", "content": "</think>", "tool_calls": calls}
    assert rewriter.answered


def test_tool_calls_inside_a_dropped_block_are_kept() -> None:
    calls = [tool_call("search", q="a & b")]
    lines = ndjson(
        [
            chat_line("<think>I should"),
            chat_line(" search", tool_calls=calls, step=1),
            chat_line(step=2, done_reason="stop"),
        ]
    )
    out, rewriter = run("chat", STRIP, lines)
    _, _, objs = seen("chat", out)
    assert [o["message"].get("tool_calls") for o in objs] == [calls, None]
    assert objs[0]["message"]["content"] == "" and rewriter.answered


def test_answered_means_answer_text_or_a_tool_call_went_out() -> None:
    rewriter = fmt_ollama.chat.rewriter(STRIP, Filters(STRIP))
    assert rewriter.event(chat_line("<think>hm")) == [] and not rewriter.answered
    assert rewriter.event(chat_line("</think>")) == [] and not rewriter.answered
    assert rewriter.event(chat_line("", tool_calls=[tool_call("f")])) is None
    assert rewriter.answered and not rewriter.finished


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_fields_other_than_the_text_come_as_they_came(endpoint: str) -> None:
    extra = {"logprobs": [{"token": "x", "logprob": -0.1}], "remote_host": "https://ollama.com"}
    last = line_of(endpoint, "</think>ok", step=3, done_reason="length", **extra)
    if endpoint == "chat":
        last["message"]["images"] = ["aGk="]
    out, _ = run(endpoint, STRIP, ndjson([line_of(endpoint, "<think>x"), last]))
    got = json.loads(out[-1])
    expected = json.loads(go_json(last))
    body(endpoint, expected)[FORMAT[endpoint].text_key] = "ok"
    assert got == expected and list(got) == list(expected)  # key order too


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_think_only_line_with_logprobs_is_not_dropped(endpoint: str) -> None:
    line = line_of(endpoint, "<think>x", logprobs=[{"token": "x", "logprob": -1.0}])
    out, _ = run(endpoint, STRIP, ndjson([line]))
    assert json.loads(out[0])["logprobs"] == line["logprobs"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_error_and_unexpected_lines_pass_unchanged(endpoint: str) -> None:
    odd = [b'{"status":"pulling manifest"}\n', b'{"message":"text"}\n', b"[1,2]\n"]
    lines = streamed(endpoint, ["<think>x</think>A"])[:-1] + odd + [error_line("boom <3")]
    out, _ = run(endpoint, STRIP, lines)
    assert out[1:] == lines[1:]  # the error line byte for byte
    assert b"\\u003c3" in out[-1]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_held_text_goes_out_before_an_error_line(endpoint: str) -> None:
    lines = ndjson([line_of(endpoint, "A <")]) + [error_line("model runner stopped")]
    out, rewriter = run(endpoint, STRIP, lines)
    text, _, objs = seen(endpoint, out)
    assert text == "A <" and out[-1] == lines[-1]
    assert not rewriter.finished and rewriter.end() == []


def test_held_text_goes_out_before_a_done_line_of_another_shape() -> None:
    lines = ndjson([chat_line("A <")]) + [b'{"done":true,"done_reason":"stop"}\n']
    out, rewriter = run("chat", STRIP, lines)
    assert seen("chat", out)[0] == "A <"
    assert json.loads(out[-1]) == {"done": True, "done_reason": "stop"} and rewriter.finished


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_heartbeat_is_an_empty_chunk_the_client_accepts(endpoint: str) -> None:
    rewriter = FORMAT[endpoint].rewriter(STRIP, Filters(STRIP))
    assert rewriter.heartbeat() is None  # nothing seen yet
    line = line_of(endpoint, "<think>long", step=4, remote_model="qwen3:235b")
    assert rewriter.event(line) == []
    beat = rewriter.heartbeat()
    text: dict[str, Any] = {"response": ""}
    if endpoint == "chat":
        text = {"message": {"role": "assistant", "content": ""}}
    expected = {
        "model": line["model"],
        "remote_model": "qwen3:235b",
        "created_at": line["created_at"],
        **text,
        "done": False,
    }
    assert beat == expected and list(beat) == list(expected)
    parsed = (ollama.ChatResponse if endpoint == "chat" else ollama.GenerateResponse)(**beat)
    assert parsed.done is False


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_end_without_a_done_line_releases_held_text(endpoint: str) -> None:
    out, rewriter = run(endpoint, REASONING, ndjson([line_of(endpoint, "A<think>unfinished")]))
    text, thinking, objs = seen(endpoint, out)
    assert (text, thinking) == ("A", "unfinished")
    assert objs[-1]["done"] is False and not rewriter.finished


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_plain_lines_pass_unparsed_once_answered(endpoint: str) -> None:
    rewriter = FORMAT[endpoint].rewriter(STRIP, Filters(STRIP))
    plain, tagged, done = ndjson(
        [line_of(endpoint, "Hi"), line_of(endpoint, "a<b"), line_of(endpoint, done_reason="stop")]
    )
    assert not rewriter.passes(plain)  # read until the first answer
    rewriter.event(json.loads(plain))
    assert rewriter.passes(plain)
    assert not rewriter.passes(tagged) and not rewriter.passes(done)
    assert not rewriter.passes(ndjson([line_of(endpoint, thinking="t")])[0])


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_word_passed_unparsed_keeps_its_space_after_a_block(endpoint: str) -> None:
    # "Hello" passes unparsed; the filter still learns that the answer does not end in a space.
    out, _ = run(endpoint, STRIP, streamed(endpoint, ["Hi", " Hello", "<think>x</think> world"]))
    assert seen(endpoint, out)[0] == "Hi Hello world"
    out, _ = run(endpoint, STRIP, streamed(endpoint, ["Hi", " Hello ", "<think>x</think> world"]))
    assert seen(endpoint, out)[0] == "Hi Hello world"


# -- buffered answers ("stream": false) ---------------------------------------------------------


def buffered(endpoint: str, text: str, thinking: str = "", reason: str = "stop") -> dict[str, Any]:
    return json.loads(go_json(line_of(endpoint, text, thinking=thinking, done_reason=reason)))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("config", "expected_text", "expected_thinking"),
    [
        (STRIP, "Answer", None),
        (REASONING, "Answer", "upstream. \n\ninline"),
        (INLINE, "<think>upstream. </think><think>inline</think>\n\nAnswer", None),
    ],
)
def test_filter_body(
    endpoint: str, config: ThinkConfig, expected_text: str, expected_thinking: str | None
) -> None:
    obj = buffered(endpoint, "<think>inline</think>\n\nAnswer", thinking="upstream. ")
    assert FORMAT[endpoint].filter_body(obj, config, Filters(config))
    key = FORMAT[endpoint].text_key
    assert body(endpoint, obj)[key] == expected_text
    assert body(endpoint, obj).get("thinking") == expected_thinking
    assert obj["eval_count"] == 57 and obj["done_reason"] == "stop"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_filter_body_leaves_other_bodies_alone(endpoint: str) -> None:
    new = Filters(STRIP)  # noqa: E731
    plain = buffered(endpoint, "no tags here")
    assert not FORMAT[endpoint].filter_body(plain, STRIP, new)
    others: list[Any] = [{"error": "model 'x' not found"}, {"models": []}, [1], "text"]
    for other in others:
        assert not FORMAT[endpoint].filter_body(other, STRIP, new)
    cut = buffered(endpoint, "thinking, cut off", reason="length")
    implicit = ThinkConfig(implicit_start=True)
    assert FORMAT[endpoint].filter_body(cut, implicit, Filters(implicit))
    assert body(endpoint, cut)[FORMAT[endpoint].text_key] == ""


# -- any split of the text into lines -----------------------------------------------------------

ALPHABET = st.sampled_from(["<think>", "</think>", "<", "/", "think", ">", "a", " ", "\n", "&"])
CONFIGS = st.sampled_from(
    [
        STRIP,
        REASONING,
        ThinkConfig(implicit_start=True),
        dataclasses.replace(REASONING, tags=(("[T]", "[/T]"),)),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    config=CONFIGS,
    parts=st.lists(st.lists(ALPHABET, max_size=4).map("".join), max_size=10),
    reason=st.sampled_from(["stop", "length"]),
)
def test_any_split_into_lines_gives_the_whole_text_answer(
    endpoint: str, config: ThinkConfig, parts: list[str], reason: str
) -> None:
    out, rewriter = run(endpoint, config, streamed(endpoint, parts, done_reason=reason))
    text, thinking, objs = seen(endpoint, out)
    assert (text, thinking) == remove_think_blocks("".join(parts), config, reason)
    assert objs[-1]["done"] is True and rewriter.finished
    assert all(o["done"] is False for o in objs[:-1])


# -- through the conductor (FilterStream): network chunks cut anywhere ---------------------------


def conducted(endpoint: str, config: ThinkConfig, data: bytes, cuts: list[int]) -> bytes:
    stream = FilterStream(config, EVENT_FORMATS[f"ollama_{endpoint}"])
    out: list[bytes] = []
    start = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        if cut > start:  # mitmproxy sends b"" only at the end
            out += stream(data[start:cut])
            start = cut
    out += stream(b"")
    assert not stream.passthrough
    return b"".join(out)


def rich_stream(endpoint: str, parts: list[str], thinking: list[str]) -> bytes:
    """Thinking lines, text lines (one with a tool call on chat), and the done line."""
    lines = stream_lines(endpoint, parts, thinking=thinking)
    if endpoint == "chat" and len(lines) > 2:
        lines[-2]["message"]["tool_calls"] = [tool_call("f", x="<1>")]
    return b"".join(ndjson(lines))


@settings(max_examples=200, deadline=None)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    config=st.sampled_from([STRIP, REASONING, INLINE, ThinkConfig(implicit_start=True)]),
    parts=st.lists(st.lists(ALPHABET, max_size=4).map("".join), max_size=8),
    thinking=st.lists(st.sampled_from(["hm", " <b>", "&"]), max_size=3),
    data=st.data(),
)
def test_any_split_into_network_chunks_gives_the_same_bytes(
    endpoint: str, config: ThinkConfig, parts: list[str], thinking: list[str], data: Any
) -> None:
    raw = rich_stream(endpoint, parts, thinking)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12))
    whole = conducted(endpoint, config, raw, [])
    assert conducted(endpoint, config, raw, cuts) == whole
    text, _, objs = seen(endpoint, whole.splitlines(keepends=True))
    if config.mode != "inline":
        assert text == remove_think_blocks("".join(parts), config, "stop")[0]
    assert objs[-1]["done"] is True and objs[-1]["eval_count"] == 57


@settings(max_examples=50, deadline=None)
@given(endpoint=st.sampled_from(ENDPOINTS), data=st.data())
def test_keep_mode_is_byte_identical(endpoint: str, data: Any) -> None:
    raw = rich_stream(endpoint, ["<think>x</think>", "y"], ["t"])
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8))
    assert conducted(endpoint, ThinkConfig(mode="keep"), raw, cuts) == raw


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_long_dropped_block_sends_a_valid_chunk_every_5_s(endpoint: str) -> None:
    now = [0.0]
    stream = FilterStream(STRIP, EVENT_FORMATS[f"ollama_{endpoint}"], clock=lambda: now[0])
    lines = streamed(endpoint, ["<think>"] + ["thinking "] * 20 + ["</think>Done"])
    out: list[bytes] = []
    for line in lines:
        now[0] += 1.0  # a line a second
        out += stream(line)
    out += stream(b"")
    assert 3 <= len(out) - 2 <= 5  # 21 s of think lines: a beat each 5 s, then answer and done
    model = ollama.ChatResponse if endpoint == "chat" else ollama.GenerateResponse
    parts = [model(**json.loads(raw)) for raw in out]  # what the official client makes of each
    assert [p.done for p in parts] == [False] * (len(out) - 1) + [True]
    assert seen(endpoint, out)[0] == "Done"


def test_strip_sees_a_generate_line_with_only_thinking() -> None:
    """A line with neither `response` nor `done` is still read when it carries `thinking`."""
    lines = [
        b'{"model":"m","created_at":"t","thinking":"secret"}\n',
        b'{"model":"m","created_at":"t","response":"Hi","done":false}\n',
        b'{"model":"m","created_at":"t","response":"","done":true,"done_reason":"stop"}\n',
    ]
    out, _ = run("generate", STRIP, lines)
    text, thinking, _ = seen("generate", out)
    assert (text, thinking) == ("Hi", "") and b"secret" not in b"".join(out)
