"""cot_proxy.rules.llm_params: the LLM_PARAMS grammar."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.rules import parse_llm_params


def one(text: str) -> ModelRule:
    rules = parse_llm_params(text)
    assert len(rules) == 1
    return rules[0]


# --- LLM_PARAMS: structure -----------------------------------------------------------------


def test_parse_groups_pairs_and_whitespace():
    rules = parse_llm_params(" model = a , temperature = 0.5 ;\n model=b,top_k=40 ; ")
    assert [r.pattern for r in rules] == ["a", "b"]
    assert rules[0].params == {"temperature": 0.5}
    assert rules[1].params == {"top_k": 40}
    assert [r.source for r in rules] == ["LLM_PARAMS group 1", "LLM_PARAMS group 2"]


@pytest.mark.parametrize("text", ["", "   ", ";", ";;\n;", "model=a;", ";model=a;;"])
def test_empty_groups_are_fine(text):
    assert [r.pattern for r in parse_llm_params(text)] == (["a"] if "model" in text else [])


def test_group_number_counts_empty_groups():
    # the number is the group's position, so the user can count semicolons
    rule = parse_llm_params(";;model=a")[0]
    assert rule.source == "LLM_PARAMS group 3"


def test_empty_pairs_are_ignored():
    assert one("model=a,,temperature=1,").params == {"temperature": 1}


def test_value_split_on_first_equals():
    assert one("model=a,logit_bias_note=x=y=z").params == {"logit_bias_note": "x=y=z"}


def test_model_only_group():
    rule = one("model=a")
    assert rule == ModelRule(pattern="a", source="LLM_PARAMS group 1")


def test_quoted_model_name():
    assert one('model="a,b",x=1').pattern == "a,b"


@pytest.mark.parametrize(
    "text, params",
    [
        ('model=a,stop=["</s>","<|im_end|>"]', {"stop": ["</s>", "<|im_end|>"]}),
        ('model=a,stop=[";", ","],x=1', {"stop": [";", ","], "x": 1}),
        (
            'model=a,obj={"a": [1, {"b": ";"}], "c": "]"},x=1',
            {"obj": {"a": [1, {"b": ";"}], "c": "]"}, "x": 1},
        ),
        ('model=a,s="x,y;z",x=1', {"s": "x,y;z", "x": 1}),
        (r'model=a,s="say \"hi, there\"",x=1', {"s": 'say "hi, there"', "x": 1}),
        ('model=a,s="[",x=1', {"s": "[", "x": 1}),
    ],
)
def test_brackets_and_quotes_do_not_split(text, params):
    assert one(text).params == params


def test_semicolon_inside_brackets_does_not_split_groups():
    rules = parse_llm_params('model=a,stop=[";"];model=b')
    assert [r.pattern for r in rules] == ["a", "b"]
    assert rules[0].params == {"stop": [";"]}


# --- LLM_PARAMS: typed values --------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, value",
    [
        ("2", 2),
        ("-3", -3),
        ("0.05", 0.05),
        ("1e-3", 0.001),
        ("true", True),
        ("false", False),
        ("null", None),
        ("", None),
        ('"quoted"', "quoted"),
        ('"42"', "42"),
        ('"a\\nb"', "a\nb"),
        ('[1, 2.5, "x"]', [1, 2.5, "x"]),
        ('{"a": {"b": null}}', {"a": {"b": None}}),
        ("hello world", "hello world"),
        ("True", "True"),  # JSON is lowercase; anything else is text
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("0x10", "0x10"),
        ("[THINK]", "[THINK]"),  # balanced but not JSON: text
        ("[</s>]", "[</s>]"),
        ("<|im_end|>", "<|im_end|>"),
        ("\\n\\n/no_think", "\n\n/no_think"),
        ("a\\tb", "a\tb"),
        ("c:\\\\dir", "c:\\dir"),
        ("\\x", "\\x"),  # other escapes are kept as written
        ("\\\\n", "\\n"),
        ("it's", "it's"),  # a single quote is not a quote
    ],
)
def test_typed_values(raw, value):
    got = one(f"model=a,k={raw}").params["k"]
    assert got == value
    assert type(got) is type(value)


def test_mirostat_is_an_integer():
    assert one("model=a,mirostat=2,min_p=0.05").params == {"mirostat": 2, "min_p": 0.05}


def test_huge_number_is_rejected():
    with pytest.raises(ConfigError, match="out of range"):
        parse_llm_params("model=a,x=1e999")


def test_deeply_nested_value_is_a_config_error():
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_llm_params("model=a,x=" + "[" * 100_000 + "]" * 100_000)


# --- LLM_PARAMS: dotted keys ---------------------------------------------------------------


def test_dotted_keys_nest_and_merge():
    rule = one("model=a,chat_template_kwargs.enable_thinking=false,chat_template_kwargs.x.y=1")
    assert rule.params == {"chat_template_kwargs": {"enable_thinking": False, "x": {"y": 1}}}


def test_dotted_key_into_earlier_object():
    rule = one('model=a,k={"x":1},k.y=2')
    assert rule.params == {"k": {"x": 1, "y": 2}}


# --- LLM_PARAMS: reserved keys -------------------------------------------------------------


def test_reserved_keys_are_not_params():
    rule = one(
        "model=pseudo,think_tag_start=<t>,think_tag_end=</t>,think_mode=reasoning,"
        "think_implicit_start=true,reasoning_field=reasoning,upstream_model_name=org/Real-7B,"
        "append_to_last_user_message=\\n\\n/no_think,strip_think_from_history=true"
    )
    assert rule.params == {}
    assert rule.think_tag_start == "<t>"
    assert rule.think_tag_end == "</t>"
    assert rule.think_mode == "reasoning"
    assert rule.think_implicit_start is True
    assert rule.reasoning_field == "reasoning"
    assert rule.upstream_model_name == "org/Real-7B"
    assert rule.append_to_last_user_message == "\n\n/no_think"
    assert rule.strip_think_from_history is True


def test_think_tags_as_json_in_env():
    rule = one('model=a,think_tags=[["<think>","</think>"],["[THINK]","[/THINK]"]]')
    assert rule.think_tags == (("<think>", "</think>"), ("[THINK]", "[/THINK]"))


@pytest.mark.parametrize(
    "value, mode", [("true", "strip"), ("false", "keep"), ("True", "strip"), ("FALSE", "keep")]
)
def test_enable_think_tag_filtering(value, mode):
    assert one(f"model=a,enable_think_tag_filtering={value}").think_mode == mode


@pytest.mark.parametrize("mode", ["strip", "reasoning", "keep"])
def test_think_modes(mode):
    assert one(f"model=a,think_mode={mode}").think_mode == mode


def test_text_reserved_values_stay_text():
    rule = one('model=a,upstream_model_name=1.5,think_tag_start=[THINK],think_tag_end="</x>"')
    assert rule.upstream_model_name == "1.5"
    assert rule.think_tag_start == "[THINK]"
    assert rule.think_tag_end == "</x>"


def test_empty_suffix_is_allowed():
    assert one("model=a,append_to_last_user_message=").append_to_last_user_message == ""


# --- LLM_PARAMS: errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, err",
    [
        ("temperature=1", "group 1 ('temperature=1'): must start with model=NAME"),
        ("model=a;temperature=1", "group 2 ('temperature=1'): must start with model=NAME"),
        ("model", "group 1 ('model'): 'model' is not key=value"),
        ("model=a,temperature", "'temperature' is not key=value"),
        ("model=a,=1", "empty key in '=1'"),
        ("model=", "model must be a non-empty string"),
        ("model=a,temperature=1,model=b", "model= given twice (missing ';' between groups?)"),
        ("model=a;model=b;model=a", "group 3 ('model=a'): duplicate model 'a' (also group 1)"),
        ('model=a,stop=["x"', "unclosed bracket (missing ']')"),
        ('model=a,stop=["x]', 'unclosed quote (")'),
        ("model=a,x={[}]", "unexpected '}' (expected ']')"),
        ("model=a,x=]", "unexpected ']'"),
        ("model=a,think_mode=fast", "unknown think_mode 'fast' (use strip|reasoning|keep|inline)"),
        ("model=a,think_mode=", "unknown think_mode None"),
        (
            "model=a,enable_think_tag_filtering=yes",
            "enable_think_tag_filtering must be true or false",
        ),
        (
            "model=a,think_implicit_start=1",
            "think_implicit_start must be true or false, got number 1",
        ),
        ("model=a,strip_think_from_history=null", "strip_think_from_history must be true or false"),
        ("model=a,think_tag_start=", "think_tag_start must be a non-empty string, got null"),
        ("model=a,think_tag_end=[1]", "think_tag_end must be a non-empty string, got a list"),
        ("model=a,upstream_model_name=true", "upstream_model_name must be a non-empty string"),
        ("model=a,reasoning_field={}", "reasoning_field must be a non-empty string"),
        ("model=a,append_to_last_user_message=3", "append_to_last_user_message must be a string"),
        ("model=a,think_tags=[]", "think_tags must be a non-empty list of [start, end] pairs"),
        ('model=a,think_tags=[["a"]]', "think_tags must be a non-empty list"),
        ('model=a,think_tags=[["a",""]]', "think_tags must be a non-empty list"),
        (
            "model=a,think_mode=keep,enable_think_tag_filtering=true",
            "give think_mode or enable_think_tag_filtering, not both",
        ),
        (
            'model=a,think_tags=[["a","b"]],think_tag_start=x',
            "give think_tags or think_tag_start/think_tag_end, not both",
        ),
        ("model=a,think_mode=strip,think_mode=keep", "duplicate key 'think_mode'"),
        ("model=a,top_k=1,top_k=2", "duplicate key 'top_k'"),
        ("model=a,k.x=1,k.x=2", "duplicate key 'k.x'"),
        ("model=a,k=1,k.x=2", "key 'k.x' conflicts with 'k'"),
        ("model=a,k.x=1,k={}", "duplicate key 'k'"),
        ("model=a,k..x=1", "key 'k..x' has an empty part"),
        ("model=a,.k=1", "key '.k' has an empty part"),
        ("model=a,top k=1", "key 'top k' contains whitespace"),
        ("model=a,think_mode.x=1", "'think_mode.x': 'think_mode' is a rule setting"),
        ("model=a,model.x=1", "'model.x': 'model' is set by model/upstream_model_name"),
    ],
)
def test_parse_llm_params_err(text, err):
    with pytest.raises(ConfigError, match=re.escape(err)):
        parse_llm_params(text)


@pytest.mark.parametrize(
    ("key", "setting"),
    [
        ("think_mod", "think_mode"),
        ("Think_Mode", "think_mode"),
        ("think-mode", "think_mode"),
        ("thinkmode", "think_mode"),
        ("reasoning_feild", "reasoning_field"),
        ("histroy", "history"),
        ("think_tag", "think_tags"),
        ("think_mod.x", "think_mode"),
    ],
)
def test_a_slip_of_a_rule_setting_is_refused(key: str, setting: str) -> None:
    """Within two edits of a setting: a typo, not a request field the server would get."""
    with pytest.raises(ConfigError) as e:
        parse_llm_params(f"model=a,{key}=reasoning")
    assert str(e.value) == (
        f"LLM_PARAMS group 1 ('model=a,{key}=reasoning'): "
        f"unknown key {key!r} (did you mean {setting!r}?)"
    )


REQUEST_FIELDS = [
    "temperature", "top_p", "top_k", "min_p", "max_tokens", "max_completion_tokens", "seed",
    "stop", "n", "think", "reasoning", "reasoning_effort", "chat_template_kwargs",
    "options", "presence_penalty", "frequency_penalty", "repetition_penalty", "response_format",
    "tool_choice", "tools", "logit_bias", "logprobs", "top_logprobs", "user", "store",
    "metadata", "include", "verbosity", "keep_alive", "stream_options", "parallel_tool_calls",
    "service_tier", "truncation", "instructions", "system", "format", "raw", "suffix", "template",
]  # fmt: skip


@pytest.mark.parametrize("field", REQUEST_FIELDS)
def test_real_request_fields_still_pass(field: str) -> None:
    assert one(f"model=a,{field}=1").params == {field: 1}


def test_thinking_is_the_setting_unless_it_is_anthropics_object() -> None:
    # issue 21: `thinking` became a rule setting; Anthropic's thinking object stays a field
    assert one("model=a,thinking=off").thinking == "off"
    rule = one('model=a,thinking={"type":"enabled","budget_tokens":2048}')
    assert rule.thinking is None
    assert rule.params == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert one("model=a,thinking.type=disabled").params == {"thinking": {"type": "disabled"}}
    with pytest.raises(ConfigError, match=r"unknown thinking 'hgih' \(use off\|on\|low"):
        one("model=a,thinking=hgih")


def test_error_message_is_one_line_naming_the_group():
    with pytest.raises(ConfigError) as e:
        parse_llm_params("model=a,x=1;\nmodel=b,\ny")
    assert str(e.value) == "LLM_PARAMS group 2 ('model=b,\\ny'): 'y' is not key=value"
    assert isinstance(e.value, ValueError)


def test_error_message_truncates_long_groups():
    with pytest.raises(ConfigError) as e:
        parse_llm_params("model=a," + "x" * 500)
    msg = str(e.value)
    assert "…" in msg
    assert len(msg) < 200
    assert "\n" not in msg


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_fuzz_only_config_errors(text):
    try:
        parse_llm_params(text)
    except ConfigError:
        pass


@given(st.text(alphabet='model=ab.,;[]{}"\\ \n0123tfrunlx_', max_size=80))
@settings(max_examples=500, deadline=None)
def test_fuzz_syntax_heavy_only_config_errors(text):
    try:
        rules = parse_llm_params(text)
    except ConfigError as e:
        assert "\n" not in str(e)
    else:
        RuleSet(rules).describe()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@given(json_values)
@settings(max_examples=300, deadline=None)
def test_json_values_round_trip(value):
    # Whatever JSON a user pastes after `key=` arrives unchanged (commas and all).
    rules = parse_llm_params(f"model=m,k={json.dumps(value)},z=1")
    assert rules[0].params == {"k": value, "z": 1}
