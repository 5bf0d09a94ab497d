import json
import pathlib
import re

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.rules import load_config_file
from cot_proxy.rules import merge_rules
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from cot_proxy.think import ThinkConfig

REPO_CONFIG = pathlib.Path(__file__).resolve().parents[2] / "config.yaml"


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
        ("model=a,think_mode=fast", "unknown think_mode 'fast' (use strip|reasoning|keep)"),
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


# --- matching ------------------------------------------------------------------------------


def ruleset(*patterns: str) -> RuleSet:
    return RuleSet(ModelRule(pattern=p, source=f"r{i}") for i, p in enumerate(patterns))


@pytest.mark.parametrize(
    "patterns, model, expected",
    [
        (["qwen3-*", "qwen3-32b"], "qwen3-32b", "qwen3-32b"),  # exact beats an earlier glob
        (["qwen3-*", "qwen*"], "qwen3-8b", "qwen3-*"),  # first glob wins
        (["qwen*", "qwen3-*"], "qwen3-8b", "qwen*"),
        (["qwen3-*"], "Qwen3-8b", None),  # case-sensitive
        (["qwen3-?b"], "qwen3-8b", "qwen3-?b"),
        (["qwen3-[0-9]b"], "qwen3-8b", "qwen3-[0-9]b"),
        (["a"], "b", None),
        (["default", "*"], None, "default"),
        (["default", "*"], "", "default"),
        (["default", "*"], "x", "*"),  # default only when no model is named
        (["default"], "default", None),
        (["*"], None, None),
        (["a"], None, None),
    ],
)
def test_match(patterns, model, expected):
    rule = ruleset(*patterns).match(model)
    assert (rule.pattern if rule else None) == expected


def test_match_non_string_model():
    assert ruleset("*").match(7) is None  # type: ignore[arg-type]


def test_first_duplicate_wins():
    rules = RuleSet([ModelRule("a", source="first"), ModelRule("a", source="second")])
    assert rules.match("a").source == "first"


def test_pseudo_models():
    rules = RuleSet(
        [
            ModelRule("fast", upstream_model_name="org/Model-7B"),
            ModelRule("qwen-*", upstream_model_name="Qwen/Qwen3"),  # glob: not a name
            ModelRule("default", upstream_model_name="org/Default"),
            ModelRule("plain"),
            ModelRule("smart", upstream_model_name="org/Model-70B"),
        ]
    )
    assert rules.pseudo_models() == [("fast", "org/Model-7B"), ("smart", "org/Model-70B")]
    assert len(rules) == 5


def test_describe_is_one_compact_line_per_rule():
    rules = RuleSet(
        parse_llm_params(
            "model=q*,temperature=0.6,chat_template_kwargs.enable_thinking=false,"
            "think_mode=strip,append_to_last_user_message=\\n\\n/no_think;model=plain"
        )
    )
    lines = rules.describe()
    assert lines == [
        "q* [LLM_PARAMS group 1]: temperature=0.6, chat_template_kwargs.enable_thinking=false, "
        'think_mode=strip, append_to_last_user_message="\\n\\n/no_think"',
        "plain [LLM_PARAMS group 2]: (no changes)",
    ]


# --- think_config --------------------------------------------------------------------------


def test_think_config_unset_keeps_base():
    base = ThinkConfig(mode="reasoning", tags=(("<a>", "</a>"),), implicit_start=True)
    assert ModelRule("x").think_config(base) == base


def test_think_config_overlay():
    rule = ModelRule(
        "x",
        think_mode="keep",
        think_tags=(("<t>", "</t>"), ("<u>", "</u>")),
        think_implicit_start=True,
        reasoning_field="reasoning",
    )
    assert rule.think_config(ThinkConfig()) == ThinkConfig(
        mode="keep",
        tags=(("<t>", "</t>"), ("<u>", "</u>")),
        implicit_start=True,
        reasoning_field="reasoning",
    )


def test_think_tag_start_end_replace_first_pair():
    base = ThinkConfig(tags=(("<think>", "</think>"), ("<x>", "</x>")))
    rule = one("model=a,think_tag_start=[THINK]")
    assert rule.think_config(base).tags == (("[THINK]", "</think>"), ("<x>", "</x>"))
    rule = one("model=a,think_tag_start=[THINK],think_tag_end=[/THINK]")
    assert rule.think_config(base).tags == (("[THINK]", "[/THINK]"), ("<x>", "</x>"))
    assert rule.think_config(ThinkConfig(tags=())).tags == (("[THINK]", "[/THINK]"),)


# --- config.yaml ---------------------------------------------------------------------------

FULL = """
models:
  - model: qwen3-*
    params: {temperature: 0.6, top_p: 0.95, chat_template_kwargs.enable_thinking: false}
    defaults: {max_tokens: 4096}
    drop: [frequency_penalty, stream_options.include_usage]
    think_mode: strip
    think_tags: [["<think>", "</think>"], ["<thinking>", "</thinking>"]]
    think_implicit_start: false
    reasoning_field: reasoning_content
    upstream_model_name: Qwen/Qwen3-32B
    append_to_last_user_message: "\\n\\n/no_think"
    strip_think_from_history: true
  - model: legacy
    think_tag_start: "[THINK]"
    enable_think_tag_filtering: false
"""


def test_yaml_full_rule():
    first, second = parse_config(FULL, "/etc/cot/config.yaml")
    assert first == ModelRule(
        pattern="qwen3-*",
        params={
            "temperature": 0.6,
            "top_p": 0.95,
            "chat_template_kwargs": {"enable_thinking": False},
        },
        defaults={"max_tokens": 4096},
        drop=("frequency_penalty", "stream_options.include_usage"),
        think_mode="strip",
        think_tags=(("<think>", "</think>"), ("<thinking>", "</thinking>")),
        think_implicit_start=False,
        reasoning_field="reasoning_content",
        upstream_model_name="Qwen/Qwen3-32B",
        append_to_last_user_message="\n\n/no_think",
        strip_think_from_history=True,
        source="config.yaml rule 1",
    )
    assert second.think_tag_start == "[THINK]"
    assert second.think_mode == "keep"
    assert second.source == "config.yaml rule 2"


def test_load_config_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(FULL, encoding="utf-8")
    rules = load_config_file(str(path))
    assert [r.pattern for r in rules] == ["qwen3-*", "legacy"]
    assert rules[0].source == "rules.yaml rule 1"


@pytest.mark.parametrize("text", ["", "# only comments\n", "models:\n", "models: []\n"])
def test_yaml_empty(text):
    assert parse_config(text) == []


def test_yaml_aliases_are_not_shared():
    text = (
        "models:\n - {model: a, params: &p {k: {x: 1}}}\n - {model: b, params: {<<: *p, k.y: 2}}\n"
    )
    a, b = parse_config(text)
    assert a.params == {"k": {"x": 1}}
    assert b.params == {"k": {"x": 1, "y": 2}}


def test_repo_config_yaml_loads_and_is_harmless():
    rules = load_config_file(str(REPO_CONFIG))
    assert rules, "the documented example should show rules"
    assert all(r.pattern.startswith("example-") for r in rules)
    ruleset_ = RuleSet(rules)
    for model in [None, "", "gpt-4o", "qwen3-32b", "default", "llama-3.1-8b"]:
        assert ruleset_.match(model) is None
    assert ruleset_.pseudo_models() == [] or all(
        p.startswith("example-") for p, _ in ruleset_.pseudo_models()
    )


def test_repo_config_yaml_shows_every_setting():
    rules = load_config_file(str(REPO_CONFIG))
    text = REPO_CONFIG.read_text(encoding="utf-8")
    for key in (
        "models:",
        "model:",
        "params:",
        "defaults:",
        "drop:",
        "think_mode:",
        "think_tags:",
        "think_tag_start:",
        "think_tag_end:",
        "enable_think_tag_filtering:",
        "think_implicit_start:",
        "reasoning_field:",
        "upstream_model_name:",
        "append_to_last_user_message:",
        "strip_think_from_history:",
        "model: default",
    ):
        assert key in text, key
    first = rules[0]
    assert first.params and first.defaults and first.drop and first.think_tags
    assert first.strip_think_from_history is not None


@pytest.mark.parametrize(
    "text, err",
    [
        ("models: [\n", "cfg.yaml: YAML error at line 2, column 1:"),
        ("models:\n  - model: a\n    params: {x: 1\n", "cfg.yaml: YAML error at line"),
        ("models:\n  - {model: a}\n  - {model: b, model: c}\n", "line 3"),
        ("models: 1", "cfg.yaml: 'models' must be a list of rules, got number 1"),
        ("- model: a", "cfg.yaml: the top level must be a mapping with a 'models' list"),
        ("rules: []", "cfg.yaml: unknown top-level key 'rules' (allowed: models)"),
        ("models: [x]", "cfg.yaml rule 1: must be a mapping, got string 'x'"),
        ("models: [{params: {}}]", "cfg.yaml rule 1: missing 'model'"),
        ("models: [{model: 3}]", "cfg.yaml rule 1 (model '3'): model must be a non-empty string"),
        (
            "models: [{model: a}, {model: a}]",
            "cfg.yaml rule 2 (model 'a'): duplicate model 'a' (also rule 1)",
        ),
        (
            "models: [{model: a, think_mod: strip}]",
            "cfg.yaml rule 1 (model 'a'): unknown key 'think_mod' (did you mean 'think_mode'?)",
        ),
        (
            "models: [{model: a, temperature: 1}]",
            "unknown key 'temperature' (request fields go under params)",
        ),
        ("models: [{model: a, params: [1]}]", "params must be a mapping, got a list"),
        ("models: [{model: a, defaults: x}]", "defaults must be a mapping, got string 'x'"),
        ("models: [{model: a, drop: x}]", "drop must be a list of field names, got string 'x'"),
        ("models: [{model: a, drop: [1]}]", "key 1 must be a string"),
        ("models: [{model: a, drop: ['a..b']}]", "key 'a..b' has an empty part"),
        ("models: [{model: a, think_mode: fast}]", "unknown think_mode 'fast'"),
        (
            "models: [{model: a, think_implicit_start: 'true'}]",
            "think_implicit_start must be true or false",
        ),
        (
            "models: [{model: a, strip_think_from_history: 1}]",
            "strip_think_from_history must be true or false",
        ),
        (
            "models: [{model: a, enable_think_tag_filtering: 'yes'}]",
            "enable_think_tag_filtering must be true or false",
        ),
        ("models: [{model: a, think_tags: '<think>'}]", "think_tags must be a non-empty list"),
        ("models: [{model: a, think_tags: [[a, b, c]]}]", "think_tags must be a non-empty list"),
        ("models: [{model: a, reasoning_field: 1}]", "reasoning_field must be a non-empty string"),
        (
            "models: [{model: a, upstream_model_name: ''}]",
            "upstream_model_name must be a non-empty string",
        ),
        (
            "models: [{model: a, append_to_last_user_message: [x]}]",
            "append_to_last_user_message must be a string",
        ),
        ("models: [{model: a, params: {d: 2024-01-01}}]", "params.d: date can't be sent as JSON"),
        ("models: [{model: a, params: {x: .nan}}]", "params.x: nan is not a JSON number"),
        ("models: [{model: a, params: {x: {1: 2}}}]", "params.x: key 1 must be a string"),
        (
            "models: [{model: a, params: {think_mode: strip}}]",
            "params: 'think_mode' is a rule setting",
        ),
        (
            "models: [{model: a, defaults: {model: b}}]",
            "defaults: 'model' is set by model/upstream_model_name",
        ),
        ("models: [{model: a, params: {k: 1, k.x: 2}}]", "params: key 'k.x' conflicts with 'k'"),
    ],
)
def test_parse_config_err(text, err):
    with pytest.raises(ConfigError, match=re.escape(err)) as e:
        parse_config(text, "cfg.yaml")
    assert "\n" not in str(e.value)
    assert "Traceback" not in str(e.value)


def test_yaml_syntax_error_from_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("models:\n  - model: a\n   params: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yaml: YAML error at line 3, column \d+: ") as e:
        load_config_file(str(path))
    assert str(path) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(str(tmp_path / "nope.yaml"))


def test_not_utf8(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"models: [{model: \xff}]")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config_file(str(path))


# --- merging env over file -----------------------------------------------------------------


def test_merge_env_wins_key_by_key():
    file = parse_config(
        """
models:
  - model: q*
    params: {temperature: 0.6, top_p: 0.9, chat_template_kwargs: {enable_thinking: true, x: 1}}
    defaults: {max_tokens: 100}
    drop: [a]
    think_mode: reasoning
    think_tags: [["<t>", "</t>"], ["<u>", "</u>"]]
    upstream_model_name: file/up
    strip_think_from_history: true
"""
    )
    env = parse_llm_params(
        "model=q*,temperature=0.2,chat_template_kwargs.enable_thinking=false,"
        "enable_think_tag_filtering=false,think_tag_start=[T]"
    )
    (merged,) = merge_rules(env, file)
    assert merged.params == {
        "temperature": 0.2,
        "top_p": 0.9,
        "chat_template_kwargs": {"enable_thinking": False, "x": 1},
    }
    assert merged.defaults == {"max_tokens": 100}
    assert merged.drop == ("a",)
    assert merged.think_mode == "keep"  # env's enable_think_tag_filtering=false
    assert merged.upstream_model_name == "file/up"
    assert merged.strip_think_from_history is True
    assert merged.source == "LLM_PARAMS group 1 + config.yaml rule 1"
    # env single tag on top of the file's pairs: replaces the first pair's start
    assert merged.think_config(ThinkConfig()).tags == (("[T]", "</t>"), ("<u>", "</u>"))
    # the inputs are untouched
    assert file[0].params["temperature"] == 0.6
    assert env[0].params["chat_template_kwargs"] == {"enable_thinking": False}


def test_merge_order_and_single_source_rules():
    env = parse_llm_params("model=e-only,x=1;model=both,x=2;model=g*,x=3")
    file = parse_config(
        "models: [{model: f-only, params: {y: 1}}, {model: both, params: {y: 2}}, {model: 'g*'}]"
    )
    merged = merge_rules(env, file)
    assert [r.pattern for r in merged] == ["e-only", "both", "g*", "f-only"]
    assert merged[1].params == {"x": 2, "y": 2}
    assert merged[3].source == "config.yaml rule 1"


def test_merge_glob_priority_env_first():
    env = parse_llm_params("model=qwen*,x=1")
    file = parse_config("models: [{model: 'qwen3-*', params: {x: 2}}, {model: qwen3-8b}]")
    rules = RuleSet(merge_rules(env, file))
    assert rules.match("qwen3-32b").source == "LLM_PARAMS group 1"  # env glob listed first
    assert rules.match("qwen3-8b").source == "config.yaml rule 2"  # exact still beats globs


def test_merge_drop_lists_united():
    file = parse_config("models: [{model: a, drop: [x, y]}]")
    env = [ModelRule("a", drop=("y", "z"), source="env")]
    assert merge_rules(env, file)[0].drop == ("x", "y", "z")


def test_merge_empty():
    assert merge_rules([], []) == []
    rules = parse_llm_params("model=a")
    assert merge_rules(rules, []) == rules
    assert merge_rules([], rules) == rules


def test_yaml_scalar_that_crashes_the_yaml_library_is_a_config_error():
    # Found by tests/unit/test_fuzz.py: ruamel raises a bare ValueError for "._".
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("._", "fuzz.yaml")
