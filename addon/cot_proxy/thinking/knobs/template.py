"""`chat_template_kwargs.enable_thinking` and `chat_template_kwargs.thinking`: a boolean the
chat template reads (vLLM, SGLang and llama.cpp pass `chat_template_kwargs` to the template).

Qwen3, GLM and Gemma 4 templates read `enable_thinking`; Granite 3.2, DeepSeek-V3.1 and Kimi
K2.5 read `thinking` (docs.vllm.ai reasoning_outputs, "thinking can be turned on/off"; SGLang docs
basic_usage/kimi_k2_5); Cohere's Command A Reasoning reads `reasoning` (its chat_template.jinja:
`reasoning` defaults to true). Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cot_proxy.thinking.levels import OFF
from cot_proxy.thinking.levels import Level
from cot_proxy.thinking.levels import Shape
from cot_proxy.thinking.levels import express

KWARGS = "chat_template_kwargs"


@dataclasses.dataclass(frozen=True)
class TemplateFlag:
    name: str
    key: str

    def read(self, body: dict[str, Any], endpoint: str | None) -> Level | None:
        kwargs = body.get(KWARGS)
        value = kwargs.get(self.key) if isinstance(kwargs, dict) else None
        if isinstance(value, bool):
            return "on" if value else "off"
        return None

    def remove(self, body: dict[str, Any], endpoint: str | None) -> bool:
        kwargs = body.get(KWARGS)
        if not isinstance(kwargs, dict) or self.key not in kwargs:
            return False
        del kwargs[self.key]
        if not kwargs:
            del body[KWARGS]
        return True

    def write(
        self, body: dict[str, Any], level: Level, shape: Shape, endpoint: str | None
    ) -> str | None:
        said = express(level, shape)
        kwargs = body.get(KWARGS)
        if said is None or (kwargs is not None and not isinstance(kwargs, dict)):
            return None
        value = said != OFF
        if kwargs is None:
            kwargs = body[KWARGS] = {}
        kwargs[self.key] = value
        return f"{KWARGS}.{self.key}={'true' if value else 'false'}"


ENABLE_THINKING = TemplateFlag("enable_thinking", "enable_thinking")
THINKING = TemplateFlag("thinking", "thinking")
REASONING = TemplateFlag("reasoning", "reasoning")
