"""Anthropic's `thinking` (`enabled` + `budget_tokens`, `disabled`, `adaptive`) with
`output_config.effort` ("low"…"max").

Anthropic Messages API: adaptive thinking "is off unless you explicitly set `thinking: {type:
"adaptive"}`" (Anthropic docs, quoted in decolua/9router PR #2635); `output_config.effort`
low…max (BerriAI/litellm PR #36507: Claude Code's `--effort max`). Ollama's /v1/messages reads
enabled → think true, disabled → false, else the effort as a think level (ollama anthropic/
anthropic.go FromMessagesRequest); `adaptive` alone leaves a thinking model at its default. A
client's `enabled` with its `budget_tokens` is kept when thinking stays on (older Claude models
take no `adaptive`). Pure logic, no mitmproxy import.
"""

from __future__ import annotations

from typing import Any

from cot_proxy.thinking.levels import OFF
from cot_proxy.thinking.levels import ON
from cot_proxy.thinking.levels import Level
from cot_proxy.thinking.levels import Shape
from cot_proxy.thinking.levels import client_effort
from cot_proxy.thinking.levels import express

THINKING = "thinking"
OUTPUT_CONFIG = "output_config"
TYPES = ("enabled", "disabled", "adaptive")


def _effort(body: dict[str, Any]) -> Any:
    config = body.get(OUTPUT_CONFIG)
    return config.get("effort") if isinstance(config, dict) else None


class Anthropic:
    name = "anthropic"

    def read(self, body: dict[str, Any], endpoint: str | None) -> Level | None:
        thinking = body.get(THINKING)
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if kind == "disabled":
            return "off"
        effort = client_effort(_effort(body))
        if effort is not None and effort != "off":
            return effort
        return "on" if kind in ("enabled", "adaptive") else None

    def remove(self, body: dict[str, Any], endpoint: str | None) -> bool:
        removed = False
        thinking = body.get(THINKING)
        if isinstance(thinking, dict) and thinking.get("type") in TYPES:
            del body[THINKING]
            removed = True
        config = body.get(OUTPUT_CONFIG)
        if isinstance(config, dict) and "effort" in config:
            del config["effort"]
            if not config:
                del body[OUTPUT_CONFIG]
            removed = True
        return removed

    def write(
        self, body: dict[str, Any], level: Level, shape: Shape, endpoint: str | None
    ) -> str | None:
        said = express(level, shape)
        thinking, config = body.get(THINKING), body.get(OUTPUT_CONFIG)
        if said is None or (config is not None and not isinstance(config, dict)):
            return None
        if thinking is not None and not isinstance(thinking, dict):
            return None
        if said == OFF:
            self.remove(body, endpoint)
            body[THINKING] = {"type": "disabled"}
            return "thinking.type=disabled"
        if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
            written = f"thinking.type={thinking['type']}"  # the client's, budget and all
        else:
            body[THINKING] = {"type": "adaptive"}
            written = "thinking.type=adaptive"
        if said == ON:
            if isinstance(config, dict):
                config.pop("effort", None)
                if not config:
                    del body[OUTPUT_CONFIG]
            return written
        if not isinstance(config, dict):
            config = body[OUTPUT_CONFIG] = {}
        config["effort"] = said
        return f"{written}, output_config.effort={said}"


ANTHROPIC = Anthropic()
