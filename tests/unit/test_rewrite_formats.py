"""Per-model rules on every wire format: suffix, history, params/drop and rename by endpoint.

Request shapes follow the official clients' parameter types in the shared venv:
openai.types.responses (ResponseInputParam, EasyInputMessageParam, ResponseReasoningItemParam),
anthropic.types (MessageParam, ThinkingBlockParam) and ollama's API (api/types.go ChatRequest,
GenerateRequest: `messages[].content`/`thinking` strings, `prompt`, `system`, `options`).
"""

import copy
import dataclasses

import pytest
from anthropic.types import MessageParam
from hypothesis import given
from hypothesis import strategies as st
from openai.types.responses import ResponseInputParam
from openai.types.responses import ResponseReasoningItem
from pydantic import TypeAdapter

from cot_proxy.rewrite import rewrite_request
from cot_proxy.rules import ModelRule
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from cot_proxy.think import ThinkConfig

THINK = ThinkConfig()
SUFFIX = "\n\n/no_think"
ENDPOINTS = [
    "chat",
    "completions",
    "responses",
    "messages",
    "ollama_chat",
    "ollama_generate",
    None,
]


def suffix_rule():
    return ModelRule("m", append_to_last_user_message=SUFFIX)


def strip_rule():
    return ModelRule("m", history="strip")


def to_field_rule():
    return ModelRule("m", history="to_field")


def output_text(text):
    return {"type": "output_text", "text": text, "annotations": []}


def assistant_item(*parts, **fields):
    return {
        "type": "message",
        "role": "assistant",
        "id": "msg_1",
        "status": "completed",
        "content": list(parts),
        **fields,
    }


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


# --- Anthropic Messages ----------------------------------------------------------------------


def test_messages_suffix_to_string_and_last_text_block_system_untouched():
    body = {
        "model": "m",
        "max_tokens": 100,
        "system": "sys",
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "a"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "url", "url": "http://x/i.png"}},
                ],
            },
        ],
    }
    assert rewrite_request(body, suffix_rule(), THINK, "messages") == ["appended suffix"]
    assert body["system"] == "sys"
    assert body["messages"][0]["content"] == "first"
    assert body["messages"][2]["content"][0] == {"type": "text", "text": "look\n\n/no_think"}
    body = {
        "system": [{"type": "text", "text": "s"}],
        "messages": [{"role": "user", "content": "q"}],
    }
    rewrite_request(body, suffix_rule(), THINK, "messages")
    assert body == {
        "system": [{"type": "text", "text": "s"}],
        "messages": [{"role": "user", "content": "q\n\n/no_think"}],
    }


def test_messages_suffix_after_tool_result_blocks():
    blocks = [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]
    body = {"messages": [{"role": "user", "content": blocks}]}
    changes = rewrite_request(body, suffix_rule(), THINK, "messages")
    assert changes == ["appended suffix as a new text part"]
    assert blocks[-1] == {"type": "text", "text": "/no_think"}
    TypeAdapter(list[MessageParam]).validate_python(body["messages"])


def messages_history():
    return [
        {"role": "user", "content": "<think>user</think>q1"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "native", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "<think>t1</think>answer 1"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}]},
        {"role": "assistant", "content": "<think>t2</think>answer 2"},
        {"role": "assistant", "content": [{"type": "text", "text": "plain"}]},
        {"role": "user", "content": "q2"},
    ]


def test_messages_history_strip():
    body = {"messages": messages_history()}
    changes = rewrite_request(body, strip_rule(), THINK, "messages")
    assert changes == ["history: think removed from 2 assistant message(s)"]
    expected = messages_history()
    expected[1]["content"] = [
        {"type": "text", "text": "answer 1"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
    ]
    expected[3]["content"] = "answer 2"
    assert body["messages"] == expected


def test_messages_history_strip_counts_a_message_with_only_native_thinking():
    message = {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "s"},
            {"type": "text", "text": "a"},
        ],
    }
    body = {"messages": [message]}
    assert rewrite_request(body, strip_rule(), THINK, "messages") == [
        "history: think removed from 1 assistant message(s)"
    ]
    assert message["content"] == [{"type": "text", "text": "a"}]


def test_messages_history_to_field_makes_thinking_blocks():
    body = {"messages": messages_history()}
    changes = rewrite_request(body, to_field_rule(), THINK, "messages")
    assert changes == ["history: think moved to thinking blocks in 2 assistant message(s)"]
    expected = messages_history()
    expected[1]["content"][2:3] = [
        {"type": "thinking", "thinking": "t1", "signature": ""},
        {"type": "text", "text": "answer 1"},
    ]
    expected[3]["content"] = [
        {"type": "thinking", "thinking": "t2", "signature": ""},
        {"type": "text", "text": "answer 2"},
    ]
    assert body["messages"] == expected
    TypeAdapter(list[MessageParam]).validate_python(body["messages"])


def test_messages_history_keep():
    body = {"messages": messages_history()}
    assert rewrite_request(body, ModelRule("m"), THINK, "messages") == []
    assert body["messages"] == messages_history()


# --- Ollama chat and generate ----------------------------------------------------------------


def test_ollama_chat_suffix_and_load_request():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi", "images": ["aGk="]}]}
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_chat") == ["appended suffix"]
    assert body["messages"] == [{"role": "user", "content": "hi\n\n/no_think", "images": ["aGk="]}]
    # `messages: []` loads the model (Ollama's docs): it must not become a generation.
    body = {"model": "m", "messages": []}
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_chat") == []
    assert body == {"model": "m", "messages": []}
    body = {"model": "m", "messages": [{"role": "tool", "content": "42", "tool_name": "f"}]}
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_chat") == [
        "appended suffix as a new user message"
    ]
    assert body["messages"][-1] == {"role": "user", "content": "/no_think"}


def ollama_history():
    return [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "answer 1", "thinking": "native"},
        {
            "role": "assistant",
            "content": "<think>inline</think>answer 2",
            "tool_calls": [{"function": {"name": "f", "arguments": {}}}],
        },
        {"role": "tool", "content": "<think>x</think>r", "tool_name": "f"},
        {"role": "assistant", "content": "answer 3", "reasoning_content": "renamed"},
        {"role": "user", "content": "q2"},
    ]


def test_ollama_chat_history_strip():
    body = {"messages": ollama_history()}
    changes = rewrite_request(body, strip_rule(), THINK, "ollama_chat")
    assert changes == ["history: think removed from 3 assistant message(s)"]
    expected = ollama_history()
    del expected[2]["thinking"]
    expected[3]["content"] = "answer 2"
    del expected[5]["reasoning_content"]
    assert body["messages"] == expected


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "both"])
def test_ollama_chat_history_to_field_is_thinking_whatever_the_reasoning_field(field):
    body = {"messages": ollama_history()}
    think = dataclasses.replace(THINK, reasoning_field=field)
    changes = rewrite_request(body, to_field_rule(), think, "ollama_chat")
    assert changes == ["history: think moved to the reasoning field in 2 assistant message(s)"]
    expected = ollama_history()
    expected[3]["content"] = "answer 2"
    expected[3]["thinking"] = "inline"
    del expected[5]["reasoning_content"]
    expected[5]["thinking"] = "renamed"
    assert body["messages"] == expected


def test_ollama_generate_suffix_to_prompt_not_system():
    body = {"model": "m", "prompt": "Why?", "system": "Be brief.", "stream": False}
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_generate") == [
        "appended suffix to prompt"
    ]
    assert body == {
        "model": "m",
        "prompt": "Why?\n\n/no_think",
        "system": "Be brief.",
        "stream": False,
    }
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_generate") == []


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m"},  # load
        {"model": "m", "prompt": ""},  # load
        {"model": "m", "prompt": "", "keep_alive": 0},  # unload
        {"model": "m", "prompt": "<|im_start|>user\nhi<|im_end|>\n", "raw": True},
        {"model": "m", "prompt": ["a"]},
    ],
)
def test_ollama_generate_suffix_skips_load_raw_and_odd_prompts(body):
    before = copy.deepcopy(body)
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_generate") == []
    assert body == before


def test_ollama_generate_history_has_nothing_to_touch():
    body = {"prompt": "<think>a</think>b", "context": [1, 2, 3]}
    before = copy.deepcopy(body)
    assert rewrite_request(body, strip_rule(), THINK, "ollama_generate") == []
    assert body == before


# --- params, defaults, drop and rename reach Ollama's options --------------------------------


def test_dotted_params_defaults_and_drop_reach_ollama_options():
    (rule,) = parse_config(
        """
models:
  - model: qwen3
    upstream_model_name: qwen3:8b
    params: {options.temperature: 0.6, options.top_k: 20, think: false}
    defaults: {options.num_ctx: 8192, options.seed: 1}
    drop: [options.mirostat, options.absent, keep_alive]
"""
    )
    body = {
        "model": "qwen3",
        "messages": [{"role": "user", "content": "hi"}],
        "options": {"temperature": 1.0, "seed": 42, "mirostat": 2, "top_p": 0.9},
        "keep_alive": "5m",
    }
    changes = rewrite_request(body, rule, THINK, "ollama_chat")
    assert body == {
        "model": "qwen3:8b",
        "messages": [{"role": "user", "content": "hi"}],
        "options": {"temperature": 0.6, "seed": 42, "top_p": 0.9, "num_ctx": 8192, "top_k": 20},
        "think": False,
    }
    assert changes == [
        "dropped options.mirostat",
        "dropped keep_alive",
        "default options.num_ctx=8192",
        "options.temperature=0.6",
        "options.top_k=20",
        "think=false",
        "model→qwen3:8b",
    ]


def test_env_dotted_options_create_the_options_object():
    (rule,) = parse_llm_params('model=m,options.temperature=0.2,options.stop=["</s>"]')
    body = {"model": "m", "prompt": "p"}
    rewrite_request(body, rule, THINK, "ollama_generate")
    assert body == {"model": "m", "prompt": "p", "options": {"temperature": 0.2, "stop": ["</s>"]}}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_params_and_rename_apply_on_every_endpoint(endpoint):
    rule = ModelRule("fast", upstream_model_name="org/M", params={"temperature": 0.1})
    body = {"model": "fast"}
    assert rewrite_request(body, rule, THINK, endpoint) == ["temperature=0.1", "model→org/M"]
    assert body == {"model": "org/M", "temperature": 0.1}


# --- chat and completions: the endpoint changes nothing -------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("chat", {"messages": [{"role": "assistant", "content": "<think>t</think>a"}]}),
        ("completions", {"prompt": ["x", "y"]}),
    ],
)
def test_chat_and_completions_same_as_without_endpoint(endpoint, body):
    rule = ModelRule("m", append_to_last_user_message=SUFFIX, history="to_field")
    named, unnamed = copy.deepcopy(body), copy.deepcopy(body)
    assert rewrite_request(named, rule, THINK, endpoint) == rewrite_request(unnamed, rule, THINK)
    assert named == unnamed


# --- odd shapes: left as they are, never a traceback ----------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="<>/thinkab ", max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["role", "content", "type", "text", "thinking", "input", "messages", "prompt"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)
ROLES = st.sampled_from(["user", "assistant", "tool", None])


@given(
    endpoint=st.sampled_from(ENDPOINTS),
    body=st.dictionaries(
        st.sampled_from(["messages", "input", "prompt", "raw", "system"]), JSON, max_size=3
    ),
    role=ROLES,
)
def test_any_body_shape_is_rewritten_or_left_without_error(endpoint, body, role):
    if isinstance(body.get("messages"), list) and body["messages"]:
        last = body["messages"][-1]
        if isinstance(last, dict) and role is not None:
            last["role"] = role
    for rule in (
        ModelRule("m", append_to_last_user_message=SUFFIX, history="strip"),
        ModelRule("m", append_to_last_user_message=SUFFIX, history="to_field"),
    ):
        work = copy.deepcopy(body)
        changes = rewrite_request(work, rule, THINK, endpoint)
        assert all(isinstance(c, str) for c in changes)
        if not changes:
            assert work == body  # nothing reported, nothing changed
