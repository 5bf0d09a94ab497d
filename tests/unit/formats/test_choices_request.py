"""Chat and completions, the request side (`cot_proxy.formats.choices_request`): the suffix,
the history and the model list. Chat's is also what a body of a path of no known format gets:
these go through `rewrite_request` without a format."""

import copy
import dataclasses

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.formats.choices_request import merge_models_list
from cot_proxy.rewrite import rewrite_request
from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import parse_config
from cot_proxy.think import ThinkConfig


def chat(*messages, **fields):
    return {"model": "m", "messages": list(messages), **fields}


def user(content):
    return {"role": "user", "content": content}


def assistant(content, **fields):
    return {"role": "assistant", "content": content, **fields}


# The history is stripped with the request's own think settings.
THINK = ThinkConfig()


# --- suffix --------------------------------------------------------------------------------

SUFFIX = "\n\n/no_think"


def suffix_rule(suffix=SUFFIX):
    return ModelRule("m", append_to_last_user_message=suffix)


def test_suffix_appended_to_string_content():
    body = chat(user("first"), assistant("a"), user("hello"))
    assert rewrite_request(body, suffix_rule()) == ["appended suffix"]
    assert body["messages"][-1]["content"] == "hello\n\n/no_think"
    assert body["messages"][0]["content"] == "first"


def test_suffix_appended_to_last_text_part():
    parts = [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
        {"type": "image_url", "image_url": {"url": "data:"}},
    ]
    body = chat(user(parts))
    assert rewrite_request(body, suffix_rule()) == ["appended suffix"]
    assert parts[1]["text"] == "b\n\n/no_think"
    assert parts[0]["text"] == "a"


def test_suffix_as_new_text_part():
    parts = [{"type": "image_url", "image_url": {"url": "data:"}}]
    body = chat(user(parts))
    assert rewrite_request(body, suffix_rule()) == ["appended suffix as a new text part"]
    assert parts[-1] == {"type": "text", "text": "/no_think"}


@pytest.mark.parametrize(
    "messages",
    [
        [user("hi"), assistant("prefill")],
        [user("hi"), {"role": "tool", "content": "42", "tool_call_id": "1"}],
        [{"role": "system", "content": "s"}],
        [],
    ],
)
def test_suffix_as_new_user_message(messages):
    body = chat(*messages)
    assert rewrite_request(body, suffix_rule()) == ["appended suffix as a new user message"]
    assert body["messages"][-1] == {"role": "user", "content": "/no_think"}
    assert len(body["messages"]) == len(messages) + 1


def test_suffix_to_null_content():
    body = chat(user(None))
    rewrite_request(body, suffix_rule())
    assert body["messages"][-1]["content"] == "/no_think"


def test_suffix_not_appended_twice():
    body = chat(user("hello"))
    rewrite_request(body, suffix_rule())
    assert rewrite_request(body, suffix_rule()) == []
    assert body["messages"][-1]["content"] == "hello\n\n/no_think"


@pytest.mark.parametrize(
    ("prompt", "expected", "change"),
    [
        ("Say hi", "Say hi\n\n/no_think", "appended suffix to prompt"),
        (["a", "b"], ["a\n\n/no_think", "b\n\n/no_think"], "appended suffix to 2 prompt(s)"),
        (
            ["a\n\n/no_think", "b"],
            ["a\n\n/no_think", "b\n\n/no_think"],
            "appended suffix to 1 prompt(s)",
        ),
    ],
)
def test_suffix_appended_to_completions_prompt(prompt, expected, change):
    body = {"model": "m", "prompt": prompt}
    changes = rewrite_request(body, suffix_rule())
    assert body["prompt"] == expected
    assert changes == [change]
    assert rewrite_request(body, suffix_rule()) == []  # not appended twice


@pytest.mark.parametrize("prompt", [[1, 2, 3], [[1, 2]], [], None, 5, ["a", 1]])
def test_suffix_leaves_token_and_odd_prompts_alone(prompt):
    body = {"prompt": copy.deepcopy(prompt)}
    assert rewrite_request(body, suffix_rule()) == []
    assert body == {"prompt": prompt}


@pytest.mark.parametrize("body", [{"messages": "x"}, chat(user({"odd": 1}))])
def test_suffix_skipped_without_usable_messages(body):
    before = copy.deepcopy(body)
    assert rewrite_request(body, suffix_rule()) == []
    assert body == before


def test_empty_suffix_is_a_no_op():
    body = chat(assistant("x"))
    assert rewrite_request(body, suffix_rule("")) == []
    assert len(body["messages"]) == 1


# --- history -------------------------------------------------------------------------------


def test_history_stripped_from_assistant_messages():
    body = chat(
        user("<think>user text is not touched</think>q1"),
        assistant("<think>a</think>answer 1"),
        assistant([{"type": "text", "text": "<think>b</think>answer 2"}, {"type": "refusal"}]),
        assistant("no think here"),
        assistant(None),
        user("q2"),
    )
    rule = ModelRule("m", strip_think_from_history=True)
    changes = rewrite_request(body, rule, THINK)
    assert changes == ["history: think removed from 2 assistant message(s)"]
    m = body["messages"]
    assert m[0]["content"] == "<think>user text is not touched</think>q1"
    assert m[1]["content"] == "answer 1"
    assert m[2]["content"][0]["text"] == "answer 2"
    assert m[3]["content"] == "no think here"


def test_history_not_stripped_when_off_or_without_think_settings():
    body = chat(assistant("<think>a</think>b"), user("q"))
    off = ModelRule("m", strip_think_from_history=False)
    assert rewrite_request(body, off, THINK) == []
    assert rewrite_request(body, ModelRule("m", strip_think_from_history=True)) == []
    assert body["messages"][0]["content"] == "<think>a</think>b"


def test_history_strip_also_removes_reasoning_fields():
    body = chat(
        assistant("<think>a</think>answer", reasoning_content="r", thinking="t"),
        assistant("plain", reasoning=None),
        assistant("plain"),
        user("q"),
    )
    rule = ModelRule("m", history="strip")
    assert rewrite_request(body, rule, THINK) == [
        "history: think removed from 2 assistant message(s)"
    ]
    assert body["messages"][:3] == [
        {"role": "assistant", "content": "answer"},
        {"role": "assistant", "content": "plain"},
        {"role": "assistant", "content": "plain"},
    ]


def test_history_to_field_moves_blocks_and_renames_fields():
    body = chat(
        assistant("<think>inline</think>\n\nanswer 1"),
        assistant("answer 2", reasoning="renamed"),
        assistant("answer 3", reasoning_content="kept"),
        assistant([{"type": "text", "text": "<think>p</think>x"}], reasoning_content="r "),
        user("<think>user</think>q"),
    )
    rule = ModelRule("m", history="to_field")
    assert rewrite_request(body, rule, THINK) == [
        "history: think moved to the reasoning field in 3 assistant message(s)"
    ]
    m = body["messages"]
    assert m[0] == {"role": "assistant", "content": "answer 1", "reasoning_content": "inline"}
    assert m[1] == {"role": "assistant", "content": "answer 2", "reasoning_content": "renamed"}
    assert m[2] == {"role": "assistant", "content": "answer 3", "reasoning_content": "kept"}
    assert m[3]["content"] == [{"type": "text", "text": "x"}]
    assert m[3]["reasoning_content"] == "r \n\np"
    assert m[4]["content"] == "<think>user</think>q"  # only assistant messages


def test_history_to_field_uses_the_configured_field():
    body = chat(assistant("<think>t</think>a", reasoning_content="r"))
    think = dataclasses.replace(THINK, reasoning_field="reasoning")
    rewrite_request(body, ModelRule("m", history="to_field"), think)
    assert body["messages"][0] == {"role": "assistant", "content": "a", "reasoning": "r\n\nt"}


def test_history_keep_beats_the_old_spelling_only_when_given():
    assert ModelRule("m").history_mode == "keep"
    assert ModelRule("m", strip_think_from_history=True).history_mode == "strip"
    assert ModelRule("m", history="to_field").history_mode == "to_field"
    with pytest.raises(ConfigError, match="give history or strip_think_from_history, not both"):
        parse_config("models: [{model: a, history: keep, strip_think_from_history: true}]")
    with pytest.raises(ConfigError, match="unknown history 'drop' .use keep|strip|to_field"):
        parse_config("models: [{model: a, history: drop}]")


# --- merge_models_list ---------------------------------------------------------------------

UPSTREAM = {
    "object": "list",
    "data": [
        {"id": "org/M-7B", "object": "model", "created": 123, "owned_by": "vllm", "max_len": 8192},
        {"id": "other", "object": "model", "created": 5, "owned_by": "x"},
    ],
}


def test_models_list_adds_pseudo_models():
    upstream = copy.deepcopy(UPSTREAM)
    merged = merge_models_list(upstream, [("fast", "org/M-7B"), ("ghost", "not/listed")])
    assert merged == {
        "object": "list",
        "data": [
            *UPSTREAM["data"],
            {"id": "fast", "object": "model", "created": 123, "owned_by": "vllm", "max_len": 8192},
            {"id": "ghost", "object": "model", "created": 0, "owned_by": "cot-proxy"},
        ],
    }
    assert upstream == UPSTREAM  # the input is not modified
    merged["data"][2]["created"] = 0
    assert upstream["data"][0]["created"] == 123


def test_models_list_no_duplicates():
    merged = merge_models_list(
        copy.deepcopy(UPSTREAM), [("other", "org/M-7B"), ("fast", "org/M-7B"), ("fast", "other")]
    )
    assert [e["id"] for e in merged["data"]] == ["org/M-7B", "other", "fast"]
    assert merged["data"][2]["owned_by"] == "vllm"


def test_models_list_keeps_other_keys_and_empty_pseudo_list():
    upstream = {"object": "list", "data": [], "models": [{"name": "x"}]}
    assert merge_models_list(upstream, []) == upstream
    merged = merge_models_list(upstream, [("p", "u")])
    assert merged["models"] == [{"name": "x"}]
    assert merged["data"] == [{"id": "p", "object": "model", "created": 0, "owned_by": "cot-proxy"}]


def test_models_list_tolerates_odd_entries():
    upstream = {"data": ["junk", {"id": 7}, {"no": "id"}]}
    merged = merge_models_list(upstream, [("p", "u")])
    assert merged["data"][:3] == upstream["data"]
    assert merged["data"][3]["id"] == "p"


@pytest.mark.parametrize(
    "upstream", [None, [], "text", {"object": "list"}, {"data": {"id": "x"}}, {"data": None}, 42]
)
def test_models_list_wrong_shape(upstream):
    assert merge_models_list(upstream, [("p", "u")]) is None


# A turn with string content and no reasoning field takes a shorter path in history._chat: it
# must end as the same turn sent as one text part does (the general path).
_PIECES = ["<think>", "</think>", "<tool_call>", "a", " ", "\n", "b<"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join), max_size=4),
    st.sampled_from(["strip", "to_field"]),
    st.sampled_from([THINK, ThinkConfig(reasoning_field="both"), ThinkConfig(end_markers=())]),
)
def test_history_string_turns_as_text_parts(texts, mode, think):
    rule = ModelRule("m", history=mode)
    as_strings = chat(*(assistant(text) for text in texts))
    as_parts = chat(*(assistant([{"type": "text", "text": text}]) for text in texts))
    assert rewrite_request(as_strings, rule, think) == rewrite_request(as_parts, rule, think)
    for turn, twin in zip(as_strings["messages"], as_parts["messages"], strict=True):
        assert [{"type": "text", "text": turn.pop("content")}] == twin.pop("content")
        assert turn == twin
