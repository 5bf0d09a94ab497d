"""cot_proxy.rules.checks: the validators and display helpers shared by both grammars."""

from typing import Any

import pytest

from cot_proxy.rules import ConfigError
from cot_proxy.rules import show_value
from cot_proxy.rules.checks import CLIP
from cot_proxy.rules.checks import Invalid
from cot_proxy.rules.checks import assign
from cot_proxy.rules.checks import check_key
from cot_proxy.rules.checks import clip
from cot_proxy.rules.checks import flatten
from cot_proxy.rules.checks import kind
from cot_proxy.rules.checks import want_bool
from cot_proxy.rules.checks import want_str
from cot_proxy.rules.checks import want_tags


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)
    assert not issubclass(Invalid, ValueError)  # never escapes a grammar as is


def test_check_key_splits_dotted_keys():
    assert check_key("a") == ["a"]
    assert check_key("chat_template_kwargs.enable_thinking") == [
        "chat_template_kwargs",
        "enable_thinking",
    ]


@pytest.mark.parametrize(
    "key, err",
    [
        (1, "key 1 must be a string"),
        ("", "empty key"),
        ("a..b", "key 'a..b' has an empty part"),
        ("a.", "key 'a.' has an empty part"),
        ("top k", "key 'top k' contains whitespace, quotes or brackets"),
        ('a"b', "contains whitespace, quotes or brackets"),
        ("a[0]", "contains whitespace, quotes or brackets"),
    ],
)
def test_check_key_errors(key, err):
    with pytest.raises(Invalid) as e:
        check_key(key)
    assert str(e.value) == err or err in str(e.value)


def test_assign_nests_and_merges():
    target: dict[str, Any] = {}
    assign(target, "a.b", 1, reserved=())
    assign(target, "a.c.d", 2, reserved=())
    assign(target, "e", [3], reserved=())
    assert target == {"a": {"b": 1, "c": {"d": 2}}, "e": [3]}


@pytest.mark.parametrize(
    "first, second, err",
    [
        ("k", "k", "duplicate key 'k'"),
        ("k", "k.x", "key 'k.x' conflicts with 'k'"),
        ("k.x", "k", "duplicate key 'k'"),
        ("k.x.y", "k.x.y", "duplicate key 'k.x.y'"),
    ],
)
def test_assign_never_overwrites(first, second, err):
    target: dict[str, Any] = {}
    assign(target, first, 1, reserved=())
    with pytest.raises(Invalid, match=err):
        assign(target, second, 2, reserved=())


@pytest.mark.parametrize(
    "key, err",
    [
        ("think_mode", "'think_mode' is a rule setting, not a request field"),
        ("think_mode.x", "'think_mode.x': 'think_mode' is a rule setting, not a request field"),
        ("model", "'model' is set by model/upstream_model_name, not a request field"),
        ("model.x", "'model.x': 'model' is set by model/upstream_model_name"),
    ],
)
def test_assign_refuses_reserved_keys(key, err):
    with pytest.raises(Invalid, match=err):
        assign({}, key, 1, reserved=("think_mode",))
    assign({}, "x.think_mode", 1, reserved=("think_mode",))  # only the first part counts


def test_want_str():
    assert want_str("k", "v") == "v"
    assert want_str("k", "", empty_ok=True) == ""
    with pytest.raises(Invalid, match="^k must be a non-empty string, got string ''$"):
        want_str("k", "")
    with pytest.raises(Invalid, match="^k must be a string, got number 1$"):
        want_str("k", 1, empty_ok=True)


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "false", "False"])
def test_want_bool_lenient_accepts_any_case(value):
    assert want_bool("k", value, lenient=True) is (value.lower() == "true")
    with pytest.raises(Invalid, match="^k must be true or false, got string "):
        want_bool("k", value, lenient=False)


def test_want_bool():
    assert want_bool("k", True, lenient=False) is True
    assert want_bool("k", False, lenient=True) is False
    with pytest.raises(Invalid, match="^k must be true or false, got number 1$"):
        want_bool("k", 1, lenient=True)
    with pytest.raises(Invalid, match="got string 'yes'"):
        want_bool("k", "yes", lenient=True)


def test_want_tags():
    assert want_tags("t", [["<a>", "</a>"], ("<b>", "</b>")]) == (("<a>", "</a>"), ("<b>", "</b>"))


@pytest.mark.parametrize(
    "value, got",
    [
        ([], "got a list"),
        ("<think>", "got string '<think>'"),
        (None, "got null"),
        ([["a"]], "got item ['a']"),
        ([["a", ""]], "got item ['a', '']"),
        ([["a", 1]], "got item ['a', 1]"),
        (["ab"], "got item 'ab'"),
    ],
)
def test_want_tags_errors(value, got):
    with pytest.raises(Invalid) as e:
        want_tags("think_tags", value)
    assert str(e.value) == (
        f"think_tags must be a non-empty list of [start, end] pairs of non-empty strings, {got}"
    )


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "null"),
        (True, "a boolean"),
        ("x", "string 'x'"),
        (1, "number 1"),
        (1.5, "number 1.5"),
        ([], "a list"),
        ({}, "a mapping"),
        ({1}, "set"),
    ],
)
def test_kind(value, text):
    assert kind(value) == text


def test_clip():
    assert clip("x" * CLIP) == "x" * CLIP
    assert clip("x" * (CLIP + 1)) == "x" * (CLIP - 1) + "…"
    assert clip("abcdef", 4) == "abc…"


def test_show_value():
    assert show_value({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'
    assert show_value("line\nbreak") == '"line\\nbreak"'
    assert len(show_value("x" * 500)) == CLIP


def test_flatten():
    nested = {"a": {"b": 1, "c": {"d": [2]}}, "e": {}, "f": None}
    assert list(flatten(nested)) == [("a.b", 1), ("a.c.d", [2]), ("e", {}), ("f", None)]
