import copy
import dataclasses
from typing import Any

import pytest

from cot_proxy.rewrite import merge_models_list
from cot_proxy.rewrite import rewrite_request
from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from cot_proxy.think import ThinkConfig


def chat(*messages, **fields):
    return {"model": "m", "messages": list(messages), **fields}


def user(content):
    return {"role": "user", "content": content}


def assistant(content, **fields):
    return {"role": "assistant", "content": content, **fields}


# The history is stripped with the request's own think settings.
THINK = ThinkConfig()


# --- params, defaults, drop ----------------------------------------------------------------


def test_rule_with_nothing_changes_nothing():
    body = chat(user("hi"), assistant("<think>x</think>y"), temperature=1)
    before = copy.deepcopy(body)
    assert rewrite_request(body, ModelRule("m"), THINK) == []
    assert body == before


def test_forced_params_replace_client_values():
    body = chat(user("hi"), temperature=1.0, top_p=0.95)
    rule = ModelRule("m", params={"temperature": 0.6, "top_p": 0.95, "top_k": 20})
    changes = rewrite_request(body, rule)
    assert body["temperature"] == 0.6
    assert body["top_k"] == 20
    # top_p was already right: not reported
    assert changes == ["temperature=0.6", "top_k=20"]


def test_forced_value_type_change_is_reported():
    body = chat(user("hi"), n=True)
    assert rewrite_request(body, ModelRule("m", params={"n": 1})) == ["n=1"]
    assert body["n"] == 1 and body["n"] is not True


def test_forced_nested_params_merge_with_client_dict():
    body = chat(user("hi"), chat_template_kwargs={"enable_thinking": True, "custom": 1})
    rule = one_env("model=m,chat_template_kwargs.enable_thinking=false")
    assert rewrite_request(body, rule) == ["chat_template_kwargs.enable_thinking=false"]
    assert body["chat_template_kwargs"] == {"enable_thinking": False, "custom": 1}


def test_forced_dict_replaces_non_dict_client_value():
    body = chat(user("hi"), chat_template_kwargs=None)
    rewrite_request(body, ModelRule("m", params={"chat_template_kwargs": {"a": 1}}))
    assert body["chat_template_kwargs"] == {"a": 1}


def test_forced_values_are_copied_not_shared():
    rule = ModelRule("m", params={"stop": ["</s>"], "kw": {"a": 1}})
    body = chat(user("hi"))
    rewrite_request(body, rule)
    body["stop"].append("x")
    body["kw"]["a"] = 2
    assert rule.params == {"stop": ["</s>"], "kw": {"a": 1}}


def test_defaults_only_when_not_sent():
    body = chat(user("hi"), max_tokens=10, temperature=None)
    rule = ModelRule("m", defaults={"max_tokens": 4096, "temperature": 0.7, "seed": 1})
    changes = rewrite_request(body, rule)
    assert body["max_tokens"] == 10
    assert body["temperature"] == 0.7  # an explicit null counts as not sent
    assert body["seed"] == 1
    assert changes == ["default temperature=0.7", "default seed=1"]


def test_nested_defaults():
    body = chat(user("hi"), chat_template_kwargs={"enable_thinking": True})
    rule = ModelRule("m", defaults={"chat_template_kwargs": {"enable_thinking": False, "other": 1}})
    assert rewrite_request(body, rule) == ["default chat_template_kwargs.other=1"]
    assert body["chat_template_kwargs"] == {"enable_thinking": True, "other": 1}


def test_forced_wins_over_default():
    body = chat(user("hi"))
    rule = ModelRule("m", params={"max_tokens": 100}, defaults={"max_tokens": 4096})
    rewrite_request(body, rule)
    assert body["max_tokens"] == 100


def test_drop_top_level_and_nested():
    body = chat(
        user("hi"),
        frequency_penalty=0.5,
        stream_options={"include_usage": True, "x": 1},
    )
    rule = ModelRule(
        "m", drop=("frequency_penalty", "stream_options.include_usage", "absent", "a.b.c")
    )
    changes = rewrite_request(body, rule)
    assert "frequency_penalty" not in body
    assert body["stream_options"] == {"x": 1}
    assert changes == ["dropped frequency_penalty", "dropped stream_options.include_usage"]


def test_drop_through_non_dict_is_harmless():
    body = chat(user("hi"), a=[1])
    assert rewrite_request(body, ModelRule("m", drop=("a.b", "messages.x"))) == []
    assert body["a"] == [1]


def test_drop_happens_before_forced_params():
    body = chat(user("hi"), temperature=1)
    rule = ModelRule("m", drop=("temperature",), params={"temperature": 0.2})
    rewrite_request(body, rule)
    assert body["temperature"] == 0.2


# --- model rename --------------------------------------------------------------------------


def test_model_renamed():
    body = chat(user("hi"))
    body["model"] = "fast"
    assert rewrite_request(body, ModelRule("fast", upstream_model_name="org/M-7B")) == [
        "model→org/M-7B"
    ]
    assert body["model"] == "org/M-7B"


def test_model_set_when_request_has_none():
    body: dict[str, Any] = {"messages": [user("hi")]}
    rewrite_request(body, ModelRule("default", upstream_model_name="org/M"))
    assert body["model"] == "org/M"


def test_model_already_upstream_name():
    body = chat(user("hi"))
    assert rewrite_request(body, ModelRule("x", upstream_model_name="m")) == []


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


# --- all together --------------------------------------------------------------------------


def test_full_rule_in_order():
    (rule,) = parse_config(
        """
models:
  - model: pseudo
    params: {temperature: 0.6, chat_template_kwargs.enable_thinking: false}
    defaults: {max_tokens: 4096}
    drop: [frequency_penalty]
    upstream_model_name: Qwen/Qwen3-32B
    append_to_last_user_message: "\\n\\n/no_think"
    strip_think_from_history: true
"""
    )
    body = chat(
        user("q1"), assistant("<think>t</think>a1"), user("q2"), frequency_penalty=1, temperature=1
    )
    body["model"] = "pseudo"
    changes = rewrite_request(body, rule, THINK)
    assert changes == [
        "dropped frequency_penalty",
        "default max_tokens=4096",
        "temperature=0.6",
        "chat_template_kwargs.enable_thinking=false",
        "model→Qwen/Qwen3-32B",
        "appended suffix",
        "history: think removed from 1 assistant message(s)",
    ]
    assert body == {
        "model": "Qwen/Qwen3-32B",
        "messages": [user("q1"), assistant("a1"), user("q2\n\n/no_think")],
        "temperature": 0.6,
        "max_tokens": 4096,
        "chat_template_kwargs": {"enable_thinking": False},
    }


def test_non_dict_body_is_ignored():
    assert rewrite_request([1, 2], ModelRule("m", params={"a": 1})) == []  # type: ignore[arg-type]


def test_long_values_are_clipped_in_changes():
    (change,) = rewrite_request(chat(user("x")), ModelRule("m", params={"stop": ["x" * 500]}))
    assert len(change) < 80 and change.endswith("…")


def one_env(text):
    (rule,) = parse_llm_params(text)
    return rule


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
