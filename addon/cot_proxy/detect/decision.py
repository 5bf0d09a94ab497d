"""One model's detected dialect: `Decision`, and how it is reached from what a server says.

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from typing import Literal

from cot_proxy.detect.markers import read_template
from cot_proxy.detect.names import read_name
from cot_proxy.detect.servers import OllamaModel
from cot_proxy.think_families import FAMILIES
from cot_proxy.think_families import THINK
from cot_proxy.think_families import ThinkFamily

Source = Literal["rule", "template", "capabilities", "name", "default"]
SOURCES: tuple[str, ...] = ("rule", "template", "capabilities", "name", "default")

# The plain <think> pair with the block opened by the prompt: no preset, a template said so.
_OPENED = ThinkFamily("think", (THINK,), "a chat template whose generation prompt opens <think>")


@dataclasses.dataclass(frozen=True)
class Decision:
    """What is known about one model: its family (None: the plain <think> pair), where that came
    from, whether it thinks at all (None: not known), and whether its prompt opens the block."""

    model: str
    family: str | None
    source: Source
    thinks: bool | None
    implicit_start: bool
    why: str
    server: str | None = None
    failed: bool = False  # the probe failed: asked again sooner

    def preset(self) -> ThinkFamily | None:
        """The tag settings this decision stands for; None for today's default pair."""
        if self.family is None:
            return _OPENED if self.implicit_start else None
        preset = FAMILIES[self.family]
        if self.implicit_start and not preset.implicit_start:
            return dataclasses.replace(preset, implicit_start=True)
        return preset

    @property
    def label(self) -> str:
        name = self.family or "<think> pair"
        if self.implicit_start and (
            self.family is None or not FAMILIES[self.family].implicit_start
        ):
            name += " opened by the prompt"
        return name

    def describe(self) -> str:
        """One line for the log and the flow comment."""
        on = f" on {self.server}" if self.server else ""
        return f"family {self.label} ({self.source}: {self.why}{on})"

    def summary(self) -> dict[str, Any]:
        """The model's entry in GET /cot-proxy/models."""
        return {
            "model": self.model,
            "family": self.family,
            "source": self.source,
            "thinks": self.thinks,
            "implicit_start": self.implicit_start,
            "why": self.why,
        }


def by_name(model: str, names: list[str], server: str | None, why_not: str) -> Decision:
    """From the name table over `names` (the most specific first, `model` last); `why_not` says
    why nothing better was known when no row matches either."""
    verdict = read_name(*names, model)
    if verdict is None:
        return Decision(model, None, "default", None, False, why_not, server)
    return Decision(model, verdict.family, "name", verdict.thinks, False, verdict.why, server)


def by_template(model: str, template: str, server: str | None) -> Decision:
    verdict = read_template(template)
    if verdict.family is None and not verdict.thinks:
        named = read_name(model)  # a template without markers: the name may still know better
        if named is not None and named.family is not None:
            return Decision(model, named.family, "name", named.thinks, False, named.why, server)
    return Decision(
        model,
        verdict.family,
        "template",
        verdict.thinks,
        verdict.implicit_start,
        verdict.why,
        server,
    )


def by_ollama(model: str, show: OllamaModel, server: str | None) -> Decision:
    """Ollama: the template's markers for the family, the capabilities for thinking or not."""
    thinks = None if show.capabilities is None else "thinking" in show.capabilities
    caps = "capabilities " + ", ".join(show.capabilities or ()) if show.capabilities else ""
    verdict = read_template(show.template) if show.template else None
    if verdict is not None and verdict.family is not None:
        return Decision(
            model,
            verdict.family,
            "template",
            verdict.thinks if thinks is None else thinks,
            verdict.implicit_start,
            verdict.why,
            server,
        )
    named = read_name(model, show.family)
    if named is not None and named.family is not None:
        return Decision(
            model,
            named.family,
            "name",
            named.thinks if thinks is None else thinks,
            False,
            named.why,
            server,
        )
    if thinks is not None:
        return Decision(model, None, "capabilities", thinks, False, caps, server)
    if verdict is not None:
        return Decision(
            model, None, "template", verdict.thinks, verdict.implicit_start, verdict.why, server
        )
    return Decision(model, None, "default", None, False, "/api/show said nothing useful", server)


def failed(model: str, why: str, server: str | None) -> Decision:
    """The probe did not answer: the default, from the name table when it knows the model."""
    decision = by_name(model, [], server, why)
    if decision.source == "name":
        return dataclasses.replace(decision, failed=True, why=f"{decision.why}; probe: {why}")
    return dataclasses.replace(decision, failed=True)
