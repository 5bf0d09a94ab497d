"""ThinkingControl: one thinking setting per request, compiled into the knob its model takes.

The request rules call it (`parts/request_rules.py`): `take_header` before the rule is matched
(a bad `X-Thinking` is answered 400 at once, and the header is never forwarded), `compile`
once the body is rewritten by the rule and the model's detection has settled, so that it sees
the body the upstream gets and what detection recorded. It never probes: the server comes from
the rule's `server`, else what the detector knows (TARGET_SERVER, the host, the start-up probe);
the family and whether the model thinks from the detection of the flow's model, the configured
family, or the name tables (`cot_proxy.thinking.table`, `cot_proxy.detect.names`).

Why a helper of RequestRules and not a part of its own: the setting needs the body the rule
made and the detection the rule's settle step waits for; a part of its own would parse the body
again and repeat that wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.budget.plan import plan_budget
from cot_proxy.budget.settings import Mode
from cot_proxy.budget.settings import choose_budget
from cot_proxy.budget.settings import parse_budget
from cot_proxy.detect.names import NameVerdict
from cot_proxy.detect.names import read_name
from cot_proxy.detect.servers import AUTO
from cot_proxy.flow import answer_error
from cot_proxy.flow import notes
from cot_proxy.rules import ModelRule
from cot_proxy.rules.checks import clip
from cot_proxy.thinking.compile import Target
from cot_proxy.thinking.compile import choose
from cot_proxy.thinking.compile import compile_thinking
from cot_proxy.thinking.levels import LEVELS
from cot_proxy.thinking.levels import Level
from cot_proxy.thinking.levels import parse_level
from cot_proxy.thinking.table import OLLAMA_NATIVE
from cot_proxy.thinking.table import knob_family

if TYPE_CHECKING:
    from cot_proxy.parts.detection import Detection

THINKING_HEADER = "X-Thinking"
BUDGET_HEADER = "X-Think-Budget"
T = TypeVar("T")
# Where a budget is read: the generating endpoints (model lists carry none).
BUDGETED = frozenset({"chat", "completions", "responses", "messages", "ollama_chat"})


class ThinkingControl:
    def __init__(self, detect: Detection | None = None) -> None:
        self.detect = detect

    def take_header(self, flow: http.HTTPFlow) -> tuple[bool, Level | None]:
        """(whether the request goes on, the `X-Thinking` header's level). The header is
        removed; a value that is no level is answered 400 `invalid_thinking` in the client's
        API's error shape."""
        # parse_level: a level in any case; "true" and the like are none
        expected = f"one of {', '.join(LEVELS)}"
        return _take(flow, THINKING_HEADER, parse_level, expected, "invalid_thinking")

    def take_budget_header(self, flow: http.HTTPFlow) -> tuple[bool, int | None]:
        """(whether the request goes on, the `X-Think-Budget` header's tokens). The header is
        removed; a value that is no whole number ≥ 1 is answered 400 `invalid_think_budget`."""
        expected = "a whole number of tokens ≥ 1"
        return _take(flow, BUDGET_HEADER, parse_budget, expected, "invalid_think_budget")

    def compile(
        self,
        flow: http.HTTPFlow,
        body: dict[str, Any],
        rule: ModelRule | None,
        header: Level | None,
        endpoint: str | None,
        budget_header: int | None = None,
    ) -> list[str]:
        """Compile the request's setting and budget into `body` (in place); what changed. The
        budget's plan goes into the flow's notes (`parts/think_budget.py` reads it)."""
        setting = choose(header, rule.thinking if rule else None, body, endpoint)
        budget = None
        if endpoint in BUDGETED:  # read before the thinking knobs move Anthropic's object
            mode: Mode | None = rule.think_budget_mode if rule else None  # type: ignore[assignment]
            budget = choose_budget(
                budget_header,
                rule.think_budget if rule else None,
                body,
                mode,
                rule.think_budget_message if rule else None,
            )
        changes: list[str] = []
        target = None
        if setting is not None:
            target = self.target(flow, body, rule, endpoint)
            changes = compile_thinking(body, setting, target, endpoint)
        if budget is not None and (setting is None or setting.level != "off"):
            server = target.server if target is not None else self._server(rule, endpoint)
            plan = plan_budget(body, budget, server, endpoint)
            notes(flow).budget = plan
            changes.append(plan.note)
        return changes

    def target(
        self,
        flow: http.HTTPFlow,
        body: dict[str, Any],
        rule: ModelRule | None,
        endpoint: str | None,
    ) -> Target:
        model = body.get("model")
        name = model if isinstance(model, str) else None
        decision = self.detect.decision(flow, rule) if self.detect is not None else None
        family = knob_family(name)
        if family is None and decision is not None:
            family = decision.family
        if family is None:
            family = self._configured_family(rule)
        named = read_name(name) if family is None or decision is None else None
        if family is None and named is not None:
            family = named.family
        return Target(
            self._server(rule, endpoint),
            family,
            _thinks(family, decision.thinks if decision and not decision.failed else None, named),
            rule.thinking_knob if rule else None,
        )

    def _configured_family(self, rule: ModelRule | None) -> str | None:
        family = rule.think_family if rule is not None else None
        if family is None:
            family = ctx.options.think_family.strip() or None
        return family if family != AUTO else None

    def _server(self, rule: ModelRule | None, endpoint: str | None) -> str | None:
        if rule is not None and rule.server not in (None, AUTO):
            return rule.server
        # TARGET_SERVER, the host, or the start-up probe: what the detector knows now
        known = self.detect.server() if self.detect is not None else None
        if known is None and endpoint in OLLAMA_NATIVE:
            return "ollama"  # only Ollama speaks its native API
        return known


def _thinks(family: str | None, detected: bool | None, named: NameVerdict | None) -> bool | None:
    """Whether the model thinks: what detection found (Ollama's capabilities, a template), or
    gpt-oss; a name says only that a model does not (a name that says it does may be a build
    whose template cannot, and Ollama answers a think to that with a 400)."""
    if detected is not None:
        return detected
    if family == "gpt_oss":
        return True
    return False if named is not None and not named.thinks else None


def _take(
    flow: http.HTTPFlow,
    header: str,
    parse: Callable[[str], T | None],
    expected: str,
    code: str,
) -> tuple[bool, T | None]:
    """One of our request headers, removed (it is not the target's) and parsed: (whether the
    request goes on, its value). A value `parse` refuses is answered 400 `code`."""
    sent = flow.request.headers.get(header)
    if sent is None:
        return True, None
    del flow.request.headers[header]
    value = parse(sent)
    if value is None:
        message = f"{header} must be {expected}, not {clip(repr(sent))}"
        answer_error(flow, 400, message, "invalid_request_error", code)
        return False, None
    return True, value
