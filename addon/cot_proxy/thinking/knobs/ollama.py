"""Ollama's native `think` (/api/chat, /api/generate): true/false, or "low"…"max".

ollama api/types.go ThinkValue: a bool or one of "high", "medium", "low", "max". server/
routes.go (ChatHandler, GenerateHandler): a model whose capabilities hold `thinking` thinks
when `think` is absent; any other model answers 400 `"<model>" does not support thinking` to a
think that is true or a level. Older servers took levels only for gpt-oss ("think value
\"medium\" is not supported for this model", ollama/ollama#12561), so a level is written only
for a model whose shape takes efforts, true for the others; and true only for a model known to
think (unknown: nothing, which is thinking for a model that can). Pure logic, no mitmproxy
import.
"""

from __future__ import annotations

from typing import Any

from cot_proxy.thinking.levels import OFF
from cot_proxy.thinking.levels import ON
from cot_proxy.thinking.levels import Level
from cot_proxy.thinking.levels import Shape
from cot_proxy.thinking.levels import client_effort
from cot_proxy.thinking.levels import express

KEY = "think"


class Think:
    name = "think"

    def read(self, body: dict[str, Any], endpoint: str | None) -> Level | None:
        value = body.get(KEY)
        if isinstance(value, bool):
            return "on" if value else "off"
        level = client_effort(value)
        return level if level != "off" else None  # "none" is no think value

    def remove(self, body: dict[str, Any], endpoint: str | None) -> bool:
        return body.pop(KEY, None) is not None

    def write(
        self, body: dict[str, Any], level: Level, shape: Shape, endpoint: str | None
    ) -> str | None:
        said = express(level, shape)
        if said is None:
            return None
        value: bool | str = False if said == OFF else True if said == ON else said
        if value is not False and shape.thinks is not True:
            return None  # not known to think: no think at all (the 400 above)
        body[KEY] = value
        return f"{KEY}={str(value).lower() if isinstance(value, bool) else value}"


THINK = Think()
