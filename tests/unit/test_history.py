"""The history forms (`history`) × turns (`history_turns`) × formats, on exact bodies.

One conversation per format, the shapes its official client sends: turn 1 reasons and calls a
tool, turn 2 reasons and answers after the tool's result, turn 3 (the last assistant turn)
reasons and answers the next question. Each turn's reasoning is in one of three states: in the
format's own place (`FIELD`: chat `reasoning_content`, Ollama `thinking`, a Messages `thinking`
block, a Responses `reasoning` item: where a client that kept it, or the proxy's restore, puts
it), inline in the text (`INLINE`: `<think>…</think>` before it) or gone (`NONE`). A form
turns the state of every turn that keeps reasoning into its own; the other turns lose it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cot_proxy.formats import messages
from cot_proxy.formats import ollama
from cot_proxy.formats import responses
from cot_proxy.formats.choices import chat
from cot_proxy.history import History
from cot_proxy.history import before_text
from cot_proxy.think import ThinkConfig

THINK = ThinkConfig()
FIELD, INLINE, NONE = "field", "inline", "none"
R = ("I should look it up.", "The tool says 4.", "Twice 4 is 8.")
T = ("", "It is 4.", "It is 8.")  # turn 1 only calls the tool
FORMS = ("keep", "strip", "to_field", "to_inline")
TURNS = ("all", "tool_calls", "last")
KEEPS = {
    "all": (True, True, True),
    "tool_calls": (True, False, False),
    "last": (False, False, True),
}


def inline(n: int) -> str:
    return before_text(f"<think>{R[n]}</think>", T[n])


def chat_body(states: tuple[str, str, str], field: str = "reasoning_content") -> dict[str, Any]:
    def turn(n: int, **extra: Any) -> dict[str, Any]:
        state = states[n]
        content: Any = inline(n) if state == INLINE else (T[n] or None)
        message = {"role": "assistant", "content": content, **extra}
        if state == FIELD:
            message[field] = R[n]
        return message

    call = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
    return {
        "model": "m",
        "messages": [
            {"role": "user", "content": "2+2?"},
            turn(0, tool_calls=[call]),
            {"role": "tool", "tool_call_id": "call_1", "content": "4"},
            turn(1),
            {"role": "user", "content": "Twice that?"},
            turn(2),
            {"role": "user", "content": "Thanks."},
        ],
    }


def ollama_body(states: tuple[str, str, str]) -> dict[str, Any]:
    body = chat_body(states, field="thinking")
    for message in body["messages"]:
        if message["role"] == "assistant":
            message["content"] = message["content"] or ""  # Ollama sends a string
            for call in message.get("tool_calls", []):
                del call["id"], call["type"]
    return body


def messages_body(states: tuple[str, str, str]) -> dict[str, Any]:
    def turn(n: int, *rest: dict[str, Any]) -> dict[str, Any]:
        state = states[n]
        blocks: list[dict[str, Any]] = []
        if state == FIELD:
            blocks.append({"type": "thinking", "thinking": R[n], "signature": ""})
        if state == INLINE or T[n]:
            blocks.append({"type": "text", "text": inline(n) if state == INLINE else T[n]})
        return {"role": "assistant", "content": [*blocks, *rest]}

    use = {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4"}
    return {
        "model": "m",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "2+2?"},
            turn(0, use),
            {"role": "user", "content": [result]},
            turn(1),
            {"role": "user", "content": "Twice that?"},
            turn(2),
            {"role": "user", "content": "Thanks."},
        ],
    }


def responses_body(states: tuple[str, str, str]) -> dict[str, Any]:
    def turn(n: int) -> list[dict[str, Any]]:
        state = states[n]
        items: list[dict[str, Any]] = []
        if state == FIELD:
            parts = [{"type": "reasoning_text", "text": R[n]}]
            items.append({"type": "reasoning", "id": f"rs_{n}", "summary": [], "content": parts})
        if n == 0:
            if state == INLINE:
                items.append({"type": "message", "role": "assistant", "content": inline(0)})
            items.append(
                {"type": "function_call", "call_id": "c1", "name": "add", "arguments": "{}"}
            )
        else:
            text = inline(n) if state == INLINE else T[n]
            part = {"type": "output_text", "text": text, "annotations": []}
            items.append(
                {"type": "message", "role": "assistant", "id": f"msg_{n}", "content": [part]}
            )
        return items

    return {
        "model": "m",
        "input": [
            {"role": "user", "content": "2+2?"},
            *turn(0),
            {"type": "function_call_output", "call_id": "c1", "output": "4"},
            *turn(1),
            {"role": "user", "content": "Twice that?"},
            *turn(2),
            {"role": "user", "content": "Thanks."},
        ],
    }


FORMATS: dict[str, tuple[Any, Callable[[tuple[str, str, str]], dict[str, Any]]]] = {
    "chat": (chat, chat_body),
    "ollama_chat": (ollama.chat, ollama_body),
    "messages": (messages, messages_body),
    "responses": (responses, responses_body),
}


def expected(start: tuple[str, str, str], form: str, turns: str) -> tuple[str, str, str]:
    target = {"keep": None, "strip": NONE, "to_field": FIELD, "to_inline": INLINE}[form]
    keeps = KEEPS[turns] if form != "strip" else (False, False, False)
    states = [
        (target or state) if keep and state != NONE else NONE
        for state, keep in zip(start, keeps, strict=True)
    ]
    return states[0], states[1], states[2]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("turns", TURNS)
@pytest.mark.parametrize("form", FORMS)
def test_reasoning_in_its_place_takes_the_form_on_the_turns_that_keep_it(fmt, form, turns):
    rewriter, build = FORMATS[fmt]
    body = build((FIELD, FIELD, FIELD))
    changes = rewriter.rewrite_history(body, History.of(THINK, form, turns))
    assert body == build(expected((FIELD, FIELD, FIELD), form, turns))
    assert bool(changes) == (body != build((FIELD, FIELD, FIELD)))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("turns", TURNS)
@pytest.mark.parametrize("form", ("keep", "strip", "to_inline"))
def test_inline_reasoning_takes_the_form_on_the_turns_that_keep_it(fmt, form, turns):
    # (to_field from inline text: tests/unit/formats/test_*_request.py, ids of its own. The
    # tool turn has no text here: a think block alone stripped leaves an empty text.)
    rewriter, build = FORMATS[fmt]
    start = (NONE, INLINE, INLINE)
    body = build(start)
    rewriter.rewrite_history(body, History.of(THINK, form, turns))
    assert body == build(expected(start, form, turns))


@pytest.mark.parametrize("fmt", FORMATS)
def test_to_inline_keeps_a_think_block_already_in_the_text_and_drops_the_copy(fmt):
    rewriter, build = FORMATS[fmt]
    both = build((INLINE, INLINE, INLINE))
    fielded = build((FIELD, FIELD, FIELD))
    if fmt in ("chat", "ollama_chat"):  # a client that sends the text and the field
        for message, kept in zip(both["messages"], fielded["messages"], strict=True):
            message.update(
                {k: v for k, v in kept.items() if k in ("reasoning_content", "thinking")}
            )
    else:
        return  # blocks and items: tested below
    rewriter.rewrite_history(both, History.of(THINK, "to_inline"))
    assert both == build((INLINE, INLINE, INLINE))


def test_to_inline_uses_the_models_first_tag_pair():
    gemma = ThinkConfig(tags=(("<|channel>thought\n", "<channel|>"), ("<|channel>", "<channel|>")))
    body = chat_body((NONE, FIELD, NONE))
    chat.rewrite_history(body, History.of(gemma, "to_inline"))
    assert (
        body["messages"][3]["content"]
        == "<|channel>thought\nThe tool says 4.<channel|>\n\nIt is 4."
    )


def test_messages_to_inline_drops_redacted_thinking_and_inserts_text_where_blocks_were():
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "thinking", "thinking": "Look it up.", "signature": "s"},
                    {"type": "tool_use", "id": "t", "name": "f", "input": {}},
                ],
            }
        ]
    }
    changes = messages.rewrite_history(body, History.of(THINK, "to_inline"))
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "<think>Look it up.</think>"},
        {"type": "tool_use", "id": "t", "name": "f", "input": {}},
    ]
    assert changes == ["history: think moved inline in 1 assistant message(s)"]


def test_responses_to_inline_reads_summaries_and_drops_items_without_text():
    summary = [{"type": "summary_text", "text": "Short."}]
    body = {
        "input": [
            {"role": "user", "content": "q"},
            {"type": "reasoning", "id": "rs_a", "encrypted_content": "opaque", "summary": []},
            {"type": "reasoning", "id": "rs_b", "summary": summary},
            {"type": "message", "role": "assistant", "content": "A."},
        ]
    }
    changes = responses.rewrite_history(body, History.of(THINK, "to_inline"))
    assert body["input"][1:] == [
        {"type": "message", "role": "assistant", "content": "<think>Short.</think>\n\nA."}
    ]
    assert changes == [
        "history: think moved inline in 1 assistant message(s)",
        "history: 1 reasoning item(s) removed",
    ]


def test_turns_change_nothing_with_strip():
    for turns in TURNS:
        body = chat_body((FIELD, INLINE, FIELD))
        chat.rewrite_history(body, History.of(THINK, "strip", turns))
        assert body == chat_body((NONE, NONE, NONE))


def test_keep_on_all_turns_touches_nothing_and_other_forms_leave_plain_turns_alone():
    assert not History.of(THINK, "keep").touches
    body = chat_body((NONE, NONE, NONE))
    sent = copy.deepcopy(body)
    messages_before = [id(m) for m in body["messages"]]
    for form in FORMS:
        for turns in TURNS:
            assert chat.rewrite_history(body, History.of(THINK, form, turns)) == []
    assert body == sent
    assert [id(m) for m in body["messages"]] == messages_before


def test_the_log_line_names_each_form_it_applied():
    body = chat_body((FIELD, FIELD, FIELD))
    changes = chat.rewrite_history(body, History.of(THINK, "to_inline", "tool_calls"))
    assert changes == [
        "history: think removed from 2 assistant message(s)",
        "history: think moved inline in 1 assistant message(s)",
    ]


# --- odd shapes: left as they are or rewritten, never a traceback -----------------------------

WORDS = ["reasoning", "tool_use", "function_call", "message", "assistant", "output_text"]
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.sampled_from([*WORDS, "thinking", "text", "<think>a</think>b", "r"])
    | st.text(alphabet="<>/thinkab ", max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["role", "content", "type", "text", "thinking", "tool_calls", "reasoning_content"]
                + ["summary", "signature"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=24,
)


@given(
    fmt=st.sampled_from(sorted(FORMATS)),
    turns=st.lists(JSON, max_size=5),
    form=st.sampled_from(FORMS),
    which=st.sampled_from(TURNS),
)
def test_any_history_shape_is_rewritten_or_left_without_error(fmt, turns, form, which):
    rewriter, _ = FORMATS[fmt]
    for item in turns:
        if isinstance(item, dict) and "role" not in item:
            item["role"] = "assistant"
    key = "input" if fmt == "responses" else "messages"
    body = {key: turns}
    work = copy.deepcopy(body)
    changes = rewriter.rewrite_history(work, History.of(THINK, form, which))
    assert all(isinstance(c, str) for c in changes)
    if not changes:
        assert work == body  # nothing reported, nothing changed
    if form in ("keep", "to_inline"):  # the form reached: a second pass changes nothing
        again = copy.deepcopy(work)
        assert rewriter.rewrite_history(again, History.of(THINK, form, which)) == []
        assert again == work
