"""`reasoning_effort` (OpenAI chat), and `reasoning.effort` (OpenAI Responses, OpenRouter).

Servers: OpenAI's chat API takes `reasoning_effort`, its Responses API `reasoning.effort`;
OpenRouter takes `reasoning.effort` / `reasoning.enabled` on chat too (openrouter.ai
reasoning-tokens docs). Ollama's /v1 reads `reasoning.effort` first, then `reasoning_effort`,
"none" → think false (ollama openai/openai.go thinkFromReasoningEffort); llama.cpp: "If `none`,
reasoning/thinking is disabled. Otherwise, the value is made available to the jinja template"
(llama.cpp tools/server/README.md). Written as `reasoning.effort` on the Responses endpoint,
as `reasoning_effort` elsewhere. Thinking on at the model's default effort is no field at all,
unless the effort is the model's only switch (vLLM's Responses API: any effort turns
`enable_thinking` on, vllm-project/vllm PR #43401), where the row names the effort for on.
Pure logic, no mitmproxy import.
"""

from __future__ import annotations

from typing import Any

from cot_proxy.thinking.levels import OFF
from cot_proxy.thinking.levels import ON
from cot_proxy.thinking.levels import Level
from cot_proxy.thinking.levels import Shape
from cot_proxy.thinking.levels import client_effort
from cot_proxy.thinking.levels import express

TOP = "reasoning_effort"
REASONING = "reasoning"


class ReasoningEffort:
    name = "reasoning_effort"

    def read(self, body: dict[str, Any], endpoint: str | None) -> Level | None:
        reasoning = body.get(REASONING)
        if isinstance(reasoning, dict):
            # Ollama's order: reasoning.effort before reasoning_effort (openai.go FromChatRequest)
            if (level := client_effort(reasoning.get("effort"))) is not None:
                return level
            enabled = reasoning.get("enabled")  # OpenRouter
            if isinstance(enabled, bool) and TOP not in body:
                return "on" if enabled else "off"
        return client_effort(body.get(TOP))

    def remove(self, body: dict[str, Any], endpoint: str | None) -> bool:
        removed = body.pop(TOP, None) is not None or False
        reasoning = body.get(REASONING)
        if isinstance(reasoning, dict):
            for key in ("effort", "enabled"):
                if key in reasoning:
                    del reasoning[key]
                    removed = True
            if not reasoning:
                del body[REASONING]  # summary, exclude, ... stay when the client sent them
        return removed

    def write(
        self, body: dict[str, Any], level: Level, shape: Shape, endpoint: str | None
    ) -> str | None:
        said = express(level, shape)
        if said == ON:
            said = shape.on_effort
        if said is None:
            return None  # the model's default effort
        value = "none" if said == OFF else said
        if endpoint == "responses":
            reasoning = body.get(REASONING)
            if reasoning is None:
                reasoning = body[REASONING] = {}
            if not isinstance(reasoning, dict):
                return None
            reasoning["effort"] = value
            return f"reasoning.effort={value}"
        body[TOP] = value
        return f"{TOP}={value}"


REASONING_EFFORT = ReasoningEffort()
