"""OpenAI Responses, the request side (`cot_proxy.formats.responses_request`): the suffix and the history.

Request shapes follow the official clients' parameter types in the shared venv (openai.types.responses: ResponseInputParam, EasyInputMessageParam, ResponseReasoningItemParam).
"""

import copy

import pytest
from openai.types.responses import ResponseInputParam
from openai.types.responses import ResponseReasoningItem
from pydantic import TypeAdapter

from cot_proxy.rules import ModelRule
from tests.unit.formats.requests import THINK
from tests.unit.formats.requests import assistant_item
from tests.unit.formats.requests import output_text
from tests.unit.formats.requests import rewrite_request
from tests.unit.formats.requests import strip_rule
from tests.unit.formats.requests import suffix_rule
from tests.unit.formats.requests import to_field_rule

# --- OpenAI Responses: suffix ----------------------------------------------------------------


def test_responses_suffix_to_string_input():
    body = {"model": "m", "input": "Hi", "instructions": "Be brief."}
    assert rewrite_request(body, suffix_rule(), THINK, "responses") == ["appended suffix to input"]
    assert body == {"model": "m", "input": "Hi\n\n/no_think", "instructions": "Be brief."}
    assert rewrite_request(body, suffix_rule(), THINK, "responses") == []  # not twice


@pytest.mark.parametrize("typed", [True, False])
def test_responses_suffix_to_last_user_message_string(typed):
    first = {"role": "user", "content": "first"}
    last = {"role": "user", "content": "second", **({"type": "message"} if typed else {})}
    body = {"input": [first, assistant_item(output_text("a")), last]}
    assert rewrite_request(body, suffix_rule(), THINK, "responses") == ["appended suffix"]
    assert body["input"][2]["content"] == "second\n\n/no_think"
    assert body["input"][0]["content"] == "first"


def test_responses_suffix_to_last_input_text_part():
    parts = [
        {"type": "input_text", "text": "a"},
        {"type": "input_text", "text": "b"},
        {"type": "input_image", "image_url": "data:", "detail": "auto"},
    ]
    body = {"input": [{"type": "message", "role": "user", "content": parts}]}
    assert rewrite_request(body, suffix_rule(), THINK, "responses") == ["appended suffix"]
    assert [p.get("text") for p in parts] == ["a", "b\n\n/no_think", None]
    TypeAdapter(ResponseInputParam).validate_python(body["input"])


def test_responses_suffix_as_new_input_text_part():
    parts = [{"type": "input_image", "image_url": "data:", "detail": "auto"}]
    body = {"input": [{"role": "user", "content": parts}]}
    changes = rewrite_request(body, suffix_rule(), THINK, "responses")
    assert changes == ["appended suffix as a new text part"]
    assert parts[-1] == {"type": "input_text", "text": "/no_think"}


@pytest.mark.parametrize(
    "last",
    [
        assistant_item(output_text("prefill")),
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
        {"role": "system", "content": "s"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
    ],
)
def test_responses_suffix_as_new_user_message_item(last):
    body = {"input": [{"role": "user", "content": "q"}, last]}
    changes = rewrite_request(body, suffix_rule(), THINK, "responses")
    assert changes == ["appended suffix as a new user message"]
    assert body["input"] == [
        {"role": "user", "content": "q"},
        last,
        {"type": "message", "role": "user", "content": "/no_think"},
    ]
    TypeAdapter(ResponseInputParam).validate_python(body["input"])


@pytest.mark.parametrize("body", [{"previous_response_id": "r1"}, {"input": 5}, {"input": None}])
def test_responses_suffix_skipped_without_input(body):
    before = copy.deepcopy(body)
    assert rewrite_request(body, suffix_rule(), THINK, "responses") == []
    assert body == before


def test_responses_suffix_does_not_touch_messages_key():
    # The endpoint decides: a Responses body is not read as chat even if it has `messages`.
    body = {"input": "Hi", "messages": [{"role": "user", "content": "x"}]}
    rewrite_request(body, suffix_rule(), THINK, "responses")
    assert body["messages"] == [{"role": "user", "content": "x"}]


# --- OpenAI Responses: history ---------------------------------------------------------------


def responses_history():
    return [
        {"role": "user", "content": "<think>the user's own text</think>q1"},
        {"type": "reasoning", "id": "rs_a", "summary": [], "encrypted_content": "opaque"},
        assistant_item(
            output_text("<think>t1</think>answer 1"),
            {"type": "refusal", "refusal": "no"},
            output_text("<think>t2</think> more"),
        ),
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "<think>x</think>tool"},
        {"role": "assistant", "content": "<think>t3</think>answer 2"},
        {"role": "assistant", "content": "no think"},
        {"role": "user", "content": "q2"},
    ]


def test_responses_history_strip():
    body = {"input": responses_history()}
    changes = rewrite_request(body, strip_rule(), THINK, "responses")
    assert changes == [
        "history: think removed from 2 assistant message(s)",
        "history: 1 reasoning item(s) removed",
    ]
    expected = responses_history()
    del expected[1]
    expected[1]["content"][0]["text"] = "answer 1"
    expected[1]["content"][2]["text"] = "more"  # the filter drops the blank after a block
    expected[4]["content"] = "answer 2"
    assert body["input"] == expected
    TypeAdapter(ResponseInputParam).validate_python(body["input"])


def test_responses_history_to_field_inserts_reasoning_items():
    body = {"input": responses_history()}
    changes = rewrite_request(body, to_field_rule(), THINK, "responses")
    assert changes == ["history: think moved to reasoning items in 2 assistant message(s)"]
    expected = responses_history()
    expected[2]["content"][0]["text"] = "answer 1"
    expected[2]["content"][2]["text"] = "more"  # the filter drops the blank after a block
    expected[5]["content"] = "answer 2"

    def reasoning(index, text):
        return {
            "type": "reasoning",
            "id": f"rs_cot_proxy_{index}",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": text}],
        }

    expected.insert(5, reasoning(5, "t3"))
    expected.insert(2, reasoning(2, "t1\n\nt2"))
    assert body["input"] == expected
    # The inserted items are valid input items, and parse as the SDK's (and vLLM's) model.
    TypeAdapter(ResponseInputParam).validate_python(body["input"])
    parsed = ResponseReasoningItem.model_validate(body["input"][2])
    assert parsed.content and parsed.content[0].text == "t1\n\nt2"


def test_responses_history_to_field_is_the_same_when_resent():
    first = {"input": responses_history()}
    second = {"input": responses_history()}
    rewrite_request(first, to_field_rule(), THINK, "responses")
    rewrite_request(second, to_field_rule(), THINK, "responses")
    assert first == second


def test_responses_history_keep_and_string_input():
    body = {"input": responses_history()}
    assert rewrite_request(body, ModelRule("m", history="keep"), THINK, "responses") == []
    assert body["input"] == responses_history()
    body = {"input": "<think>x</think>y"}
    assert rewrite_request(body, strip_rule(), THINK, "responses") == []
    assert body["input"] == "<think>x</think>y"


def test_responses_history_strip_only_reasoning_items():
    items = [{"type": "reasoning", "id": "rs_1", "summary": []}, {"role": "user", "content": "q"}]
    body = {"input": items}
    assert rewrite_request(body, strip_rule(), THINK, "responses") == [
        "history: 1 reasoning item(s) removed"
    ]
    assert body["input"] == [{"role": "user", "content": "q"}]
    assert body["input"] is items  # edited in place
