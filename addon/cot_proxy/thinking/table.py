"""Which knob a model takes: one row per (server, family), each with its source.

Pure logic, no mitmproxy import.

The server is a `cot_proxy.detect.servers` kind; the family a tag family
(`cot_proxy.think_families`) or one of `KNOB_FAMILIES`, models whose tags need no preset but
whose knob differs (gpt-oss, DeepSeek-V3.1). `ANY` matches every server or family; the first
row that matches wins, so a server's own rows come before the rows of any server. An Ollama
server answers in three dialects, so its rows also name the endpoints they are for.
"""

from __future__ import annotations

import dataclasses
import re

from cot_proxy.thinking.levels import Shape

ANY = "*"
OLLAMA_NATIVE = frozenset({"ollama_chat", "ollama_generate"})
# The endpoints a setting is compiled on: the legacy completions prompt is sent as written
# (no chat template runs), model lists carry no knob.
COMPILED = frozenset({"chat", "responses", "messages", *OLLAMA_NATIVE})

_VLLM_DOCS = "docs.vllm.ai features/reasoning_outputs (v0.26.0)"
_ENVOY = "envoyproxy/ai-gateway#2277 (family table)"
_TEMPLATE_ON_OFF = ("qwen3", "qwen3_5", "glm", "gemma4")

# Efforts a family takes where its knob takes efforts, and whether it can stop thinking.
# gpt-oss: reasoning "low", "medium", "high", never off (openai/gpt-oss README, "Reasoning
# levels"; Ollama docs capabilities/thinking: gpt-oss takes levels, true/false are ignored).
FAMILY_SHAPES: dict[str, Shape] = {"gpt_oss": Shape(("low", "medium", "high"), can_off=False)}


@dataclasses.dataclass(frozen=True)
class KnobFamily:
    pattern: re.Pattern[str]
    family: str
    source: str


KNOB_FAMILIES: tuple[KnobFamily, ...] = (
    KnobFamily(
        re.compile(r"gpt[-_]?oss", re.IGNORECASE),
        "gpt_oss",
        f"{_VLLM_DOCS} (gpt-oss: reasoning_effort); {_ENVOY}",
    ),
    KnobFamily(
        re.compile(r"deepseek[-_]?v3[._-]?[12]", re.IGNORECASE),
        "deepseek_v3_1",
        f"{_VLLM_DOCS} (DeepSeek-V3.1: chat_template_kwargs thinking=True)",
    ),
)


def knob_family(*names: str | None) -> str | None:
    """The knob family of the first of `names` a row of KNOB_FAMILIES matches."""
    for name in names:
        for row in KNOB_FAMILIES if name else ():
            if row.pattern.search(name or ""):
                return row.family
    return None


@dataclasses.dataclass(frozen=True)
class Row:
    server: str
    families: tuple[str, ...]  # (ANY,) for every family
    knob: str
    source: str
    endpoints: frozenset[str] | None = None  # None: every compiled endpoint
    efforts: tuple[str, ...] | None = None  # None: the family's (FAMILY_SHAPES)
    on_effort: str | None = None  # the effort that says "on" (Shape.on_effort)

    def matches(self, server: str | None, family: str | None, endpoint: str) -> bool:
        return (
            self.server in (ANY, server)
            and (ANY in self.families or family in self.families)
            and (self.endpoints is None or endpoint in self.endpoints)
        )


ROWS: tuple[Row, ...] = (
    # Ollama: native think; Anthropic's thinking on /v1/messages; reasoning_effort on /v1.
    Row(
        "ollama",
        (ANY,),
        "think",
        "ollama api/types.go (ThinkValue), server/routes.go ChatHandler/GenerateHandler",
        endpoints=OLLAMA_NATIVE,
    ),
    Row(
        "ollama",
        (ANY,),
        "anthropic",
        "ollama anthropic/anthropic.go FromMessagesRequest (thinking, output_config.effort)",
        endpoints=frozenset({"messages"}),
    ),
    Row(
        "ollama",
        (ANY,),
        "reasoning_effort",
        "ollama openai/openai.go thinkFromReasoningEffort (reasoning.effort, reasoning_effort)",
    ),
    Row(
        "anthropic",
        (ANY,),
        "anthropic",
        "Anthropic Messages API: thinking disabled/adaptive, output_config.effort low…max "
        "(decolua/9router PR #2635; BerriAI/litellm PR #36507)",
        efforts=("low", "medium", "high", "max"),
    ),
    # llama.cpp: reasoning_effort goes to the template (gpt-oss reads it), but cannot turn
    # thinking off against --reasoning on (ggml-org/llama.cpp PR #27221, open); measured:
    # "chat_template_kwargs is the only parameter that reliably disables thinking on llama.cpp"
    # (NousResearch/hermes-agent PR #64153).
    Row(
        "llamacpp",
        ("gpt_oss",),
        "reasoning_effort",
        'llama.cpp tools/server/README.md (reasoning_effort: "Otherwise, the value is made '
        'available to the jinja template")',
    ),
    Row(
        "llamacpp",
        (ANY,),
        "enable_thinking",
        "llama.cpp tools/server/README.md (chat_template_kwargs); ggml-org/llama.cpp PR #27221; "
        "NousResearch/hermes-agent PR #64153",
    ),
    Row(
        "lmstudio",
        ("qwen3",),
        "no_think_suffix",
        "lmstudio-ai/lmstudio-bug-tracker#1990 (enableThinking ignored); Qwen3 model card "
        "(/no_think soft switch)",
    ),
    Row(
        "lmstudio",
        (ANY,),
        "reasoning_effort",
        "LM Studio blog v0.3.29 (reasoning effort for gpt-oss)",
    ),
    # Any other server (vLLM, SGLang, an OpenAI-compatible one): by family. vLLM's Responses
    # API takes no chat_template_kwargs (vllm/entrypoints/openai/responses/protocol.py
    # ResponsesRequest); it hands reasoning.effort to the template and, since PR #43401, turns
    # it into enable_thinking ("none" → false). Its /v1/messages takes chat_template_kwargs
    # (vllm/entrypoints/anthropic/protocol.py AnthropicMessagesRequest).
    Row(
        ANY,
        _TEMPLATE_ON_OFF,
        "reasoning_effort",
        "vLLM vllm/entrypoints/openai/responses/protocol.py (ResponsesRequest."
        "build_chat_params: reasoning_effort); vllm-project/vllm PR #43401 (effort → "
        "enable_thinking)",
        endpoints=frozenset({"responses"}),
        efforts=("low", "medium", "high"),
        on_effort="medium",
    ),
    Row(
        ANY,
        _TEMPLATE_ON_OFF,
        "enable_thinking",
        f"{_VLLM_DOCS} (Qwen3, GLM-4.5, Gemma 4: enable_thinking); SGLang docs "
        f"advanced_features/separate_reasoning (enable_thinking); {_ENVOY}",
    ),
    Row(
        ANY,
        ("granite", "deepseek_v3_1"),
        "thinking",
        f"{_VLLM_DOCS} (Granite 3.2, DeepSeek-V3.1: chat_template_kwargs thinking=True)",
    ),
    Row(ANY, ("gpt_oss",), "reasoning_effort", f"{_VLLM_DOCS} (gpt-oss); {_ENVOY}"),
    Row(
        ANY,
        ("kimi_k2",),
        "thinking",
        "SGLang docs basic_usage/kimi_k2_5 (Kimi K2.5 instant mode: chat_template_kwargs "
        "thinking=false); llama.cpp models/templates/Kimi-K3.jinja (reads thinking); Kimi K2 "
        "Thinking always thinks and its template ignores it",
    ),
    Row(
        ANY,
        ("command_r",),
        "reasoning",
        "CohereLabs/command-a-reasoning-08-2025 model card (the 'reasoning' parameter); "
        "llama.cpp models/templates/Cohere2MoE.jinja (reasoning, default true)",
    ),
    # Mistral Medium 3.5 and Small 4 think only when asked; Magistral always thinks (its
    # system prompt asks it to) and takes no effort.
    Row(
        ANY,
        ("mistral",),
        "reasoning_effort",
        "pydantic/pydantic-ai#5285 (Mistral API reasoning_effort: high or none)",
        efforts=("high",),
        on_effort="high",
    ),
    Row(
        ANY,
        ("deepseek_r1", "minimax"),
        "none",
        f"{_ENVOY} (DeepSeek-R1/QwQ: always on); vLLM vllm/reasoning/"
        "minimax_m2_reasoning_parser.py (always writes </think>)",
    ),
)


def row_for(server: str | None, family: str | None, endpoint: str) -> Row | None:
    """The first row for the model; None: no knob is known for it (the request is left as it
    is). A server that is not known matches only the rows of any server."""
    return next((row for row in ROWS if row.matches(server, family, endpoint)), None)


def shape_for(row: Row | None, family: str | None, thinks: bool | None) -> Shape:
    """What the model's knob can say, from its family and the row."""
    base = FAMILY_SHAPES.get(family or "", Shape())
    efforts = row.efforts if row is not None and row.efforts is not None else base.efforts
    on_effort = row.on_effort if row is not None else None
    return Shape(efforts, base.can_off, thinks, on_effort)
