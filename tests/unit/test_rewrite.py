import copy
from typing import Any

from cot_proxy.rewrite import rewrite_request
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
