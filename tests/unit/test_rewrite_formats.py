"""Per-model rules on every wire format: params/drop and rename by endpoint, odd shapes (the
suffix and the history of each family: tests/unit/formats/test_*_request.py).

Request shapes follow the official clients' parameter types in the shared venv:
openai.types.responses (ResponseInputParam, EasyInputMessageParam, ResponseReasoningItemParam),
anthropic.types (MessageParam, ThinkingBlockParam) and ollama's API (api/types.go ChatRequest,
GenerateRequest: `messages[].content`/`thinking` strings, `prompt`, `system`, `options`).
"""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cot_proxy.rules import ModelRule
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from tests.unit.formats.requests import ENDPOINTS
from tests.unit.formats.requests import SUFFIX
from tests.unit.formats.requests import THINK
from tests.unit.formats.requests import rewrite_request

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
