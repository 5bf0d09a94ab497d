"""The thinking knobs: one module per kind, each reading, removing and writing its own fields.

Pure logic on plain JSON values, no mitmproxy import. A knob never raises on a body of any
shape: a field of a type it does not know is left as it is (and read as no setting).
`KNOBS` holds every kind by its `thinking_knob` name; `READ_ORDER` is the order a client's
own knobs are read in (the first that says something wins).
"""

from __future__ import annotations

from typing import Any
from typing import Protocol

from cot_proxy.thinking.knobs import anthropic
from cot_proxy.thinking.knobs import effort
from cot_proxy.thinking.knobs import ollama
from cot_proxy.thinking.knobs import suffix
from cot_proxy.thinking.knobs import template
from cot_proxy.thinking.levels import Level
from cot_proxy.thinking.levels import Shape


class Knob(Protocol):
    @property
    def name(self) -> str:
        """Its `thinking_knob` name."""
        ...

    def read(self, body: dict[str, Any], endpoint: str | None) -> Level | None:
        """The setting the client's request says with this knob; None: it says nothing here."""
        ...

    def remove(self, body: dict[str, Any], endpoint: str | None) -> bool:
        """Delete this knob's fields; True when there was one."""
        ...

    def write(
        self, body: dict[str, Any], level: Level, shape: Shape, endpoint: str | None
    ) -> str | None:
        """Set this knob to `level` (as `shape` can say it); what it wrote, for the change
        list (`chat_template_kwargs.enable_thinking=false`), or None when it wrote nothing."""
        ...


class NoKnob:
    """`none`: the model takes no thinking knob (it cannot think, or always does)."""

    name = "none"

    def read(self, body: dict[str, Any], endpoint: str | None) -> Level | None:
        return None

    def remove(self, body: dict[str, Any], endpoint: str | None) -> bool:
        return False

    def write(
        self, body: dict[str, Any], level: Level, shape: Shape, endpoint: str | None
    ) -> str | None:
        return None


KNOBS: dict[str, Knob] = {
    knob.name: knob
    for knob in (
        template.ENABLE_THINKING,
        template.THINKING,
        template.REASONING,
        effort.REASONING_EFFORT,
        ollama.THINK,
        anthropic.ANTHROPIC,
        suffix.NO_THINK_SUFFIX,
        NoKnob(),
    )
}
KNOB_NAMES: tuple[str, ...] = tuple(KNOBS)

# Anthropic's thinking first (Claude Code sends it with an effort beside it), then the effort
# fields, Ollama's think, and the template switches.
READ_ORDER: tuple[Knob, ...] = (
    anthropic.ANTHROPIC,
    effort.REASONING_EFFORT,
    ollama.THINK,
    template.ENABLE_THINKING,
    template.THINKING,
    template.REASONING,
)
