"""RequestRules: validates JSON request bodies and applies the per-model rules.

The rules come from LLM_PARAMS and the config file (`cot_proxy.rules`). Per request: which
endpoint and format the path names, the body parsed once, the rule matched on its `model`, the
body rewritten (`cot_proxy.rewrite`; the history as the rule says, else as the model family's
preset says, `cot_proxy.history_presets`), and what the later hooks need written into the flow's notes.
`GET …/models` and Ollama's `GET …/api/tags` answers get the pseudo models of the rules added.
A request's `X-Think-Mode` header sets its think mode, its `X-Thinking` header its thinking
level (`parts/thinking.py`, compiled into the model's knob last); neither is forwarded. When the model's
family is to be detected (THINK_FAMILY=auto) and is not known yet, the think settings and the
rewrite wait for it (`Detection.hold`, at most the probe timeout).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeGuard

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.detect.servers import AUTO
from cot_proxy.flow import answer_error
from cot_proxy.flow import notes
from cot_proxy.formats.registry import api_of_path
from cot_proxy.formats.registry import endpoint_of
from cot_proxy.formats.registry import format_of
from cot_proxy.formats.registry import model_list_merger
from cot_proxy.history_presets import HistoryPreset
from cot_proxy.history_presets import history_for
from cot_proxy.history_presets import preset_for
from cot_proxy.history_presets import restore_for
from cot_proxy.jsonbytes import dumps_body
from cot_proxy.jsonbytes import loads_body
from cot_proxy.options import declare
from cot_proxy.options import reject
from cot_proxy.parts.think_removal import ThinkRemoval
from cot_proxy.parts.thinking import ThinkingControl
from cot_proxy.rewrite import rewrite_request
from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.rules import load_rules
from cot_proxy.rules.checks import clip
from cot_proxy.series import Series
from cot_proxy.think import THINK_MODES
from cot_proxy.think import ThinkMode
from cot_proxy.think_families import ThinkFamily
from cot_proxy.thinking.levels import Level

if TYPE_CHECKING:
    from cot_proxy.parts.detection import Detection
    from cot_proxy.parts.reasoning_memory import ReasoningMemory

logger = logging.getLogger(__name__)

THINK_MODE_HEADER = "x-think-mode"

# A request no rule names: what presets and headers apply to it, nothing else.
NO_RULE = ModelRule("")


class RequestRules:
    def __init__(
        self, think: ThinkRemoval, series: Series | None = None, detect: Detection | None = None
    ) -> None:
        self.think = think
        self.series = series
        self.detect = detect  # THINK_FAMILY=auto / think_family: auto (parts/detection.py)
        self.thinking = ThinkingControl(detect)  # X-Thinking, rule thinking (parts/thinking.py)
        self.memory: ReasoningMemory | None = None  # history_restore (parts/reasoning_memory.py)
        self.rules = RuleSet([])
        # Runs for a flow whose rules settled after the request hooks (parts/think_budget.py).
        self.settled: Callable[[http.HTTPFlow], None] | None = None
        self._loaded = False  # the first load is no reload

    def load(self, loader: addonmanager.Loader) -> None:
        declare(loader, "llm_params", "rules_file")

    def configure(self, updated: set[str]) -> None:
        if not updated & {"llm_params", "rules_file"}:
            return
        try:
            rules = load_rules(ctx.options.llm_params, ctx.options.rules_file)
        except ConfigError as e:
            self._count_reload("error")
            reject(str(e))
            return
        self._count_reload("ok")
        self._loaded = True
        self.rules = rules
        for line in rules.describe():
            logger.info("rule: %s", line)

    def reload(self, why: str) -> bool:
        """Read the rules again (LLM_PARAMS over CONFIG_FILE) and swap them in if they are valid.

        A bad file keeps the rules in force: one ERROR line names the problem.
        """
        path = ctx.options.rules_file
        try:
            rules = load_rules(ctx.options.llm_params, path)
        except ConfigError as e:
            logger.error(
                "cot-proxy: CONFIG_FILE %s not reloaded (%s), keeping the %d rules in force: %s",
                path,
                why,
                len(self.rules),
                e,
            )
            self._count_reload("error")
            return False
        self.rules = rules
        self._count_reload("ok")
        logger.info("cot-proxy: CONFIG_FILE %s reloaded (%s): %d rules", path, why, len(rules))
        return True

    def _count_reload(self, result: str) -> None:
        if self._loaded and self.series is not None:
            self.series.rule_reloads.labels(result).inc()

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response:
            return
        request = flow.request
        record = notes(flow)
        record.endpoint = endpoint_of(request.method, request.path)
        record.format = format_of(record.endpoint)
        record.api = record.format or api_of_path(request.method, request.path)
        sent = request.headers.get(THINK_MODE_HEADER)
        mode: ThinkMode | None = None
        if sent is not None:
            del request.headers[THINK_MODE_HEADER]  # ours, not the target's
            wanted = sent.strip().lower()
            if not _is_mode(wanted):
                message = (
                    f"X-Think-Mode must be one of {', '.join(THINK_MODES)}, not {clip(repr(sent))}"
                )
                answer_error(flow, 400, message, "invalid_request_error", "invalid_think_mode")
                return
            mode = wanted
        going, thinking = self.thinking.take_header(flow)
        if not going:
            return
        going, budget = self.thinking.take_budget_header(flow)
        if not going:
            return
        body = self._json_body(flow)
        if flow.response:
            return
        rule = None
        if body is not None:
            model = body.get("model")
            record.model = model if isinstance(model, str) else None
            rule = self.rules.match(record.model)
            if record.format is not None and record.model:
                rule = record.format.rule_for(record.model, rule, self.rules.match)
            settle = functools.partial(self._settle, flow, body, rule, mode, thinking, budget)
            late = functools.partial(
                self._settle, flow, body, rule, mode, thinking, budget, held=True
            )
            then = functools.partial(self._recall, flow, body, rule, late, late)
            if self.detect is not None and self.detect.hold(flow, rule, then):
                return  # settled once the model's family is known (parts/detection.py)
            self._recall(flow, body, rule, settle, late)
            return
        self._settle(flow, body, rule, mode, thinking, budget)

    def _recall(
        self,
        flow: http.HTTPFlow,
        body: dict[str, Any],
        rule: ModelRule | None,
        settle: Callable[[], None],
        late: Callable[[], None],
    ) -> bool:
        """Once the model's family is known: the reasoning memory's lookup (history_restore),
        then settle. True when the memory holds the flow while it waits for a shared store (it
        settles it `late` then, after the later parts' request hooks, and resumes it)."""
        if self.memory is not None:
            detected = self.detect.family(flow, rule) if self.detect is not None else None
            restore = restore_for(rule, self._preset(notes(flow).model, rule, detected))
            if restore and self.memory.hold(flow, body, rule, late, detected, restore):
                return True
        settle()
        return False

    def _json_body(self, flow: http.HTTPFlow) -> dict[str, Any] | None:
        """The request's JSON object, if it sends one; a body that is not JSON is answered 400."""
        request = flow.request
        if not request.headers.get("content-type", "").lower().startswith("application/json"):
            return None
        if not request.raw_content:
            return None
        try:
            body = loads_body(request.get_content(strict=True) or b"")
        except (ValueError, UnicodeDecodeError) as e:
            message = f"The request body is not valid JSON: {e}"
            answer_error(flow, 400, message, "invalid_request_error", "invalid_json")
            return None
        return body if isinstance(body, dict) else None

    def _settle(
        self,
        flow: http.HTTPFlow,
        body: dict[str, Any] | None,
        rule: ModelRule | None,
        mode: ThinkMode | None,
        thinking: Level | None = None,
        budget: int | None = None,
        held: bool = False,
    ) -> None:
        """The think settings of the request, and its body rewritten by the rule, its
        thinking setting and budget compiled last (they see the body the rule made). A flow
        that was `held` settles after the later parts' request hooks ran: `settled` (the
        budget's relay routing) runs for it here."""
        record = notes(flow)
        if body is not None:
            detected = self.detect.family(flow, rule) if self.detect is not None else None
            record.think = self.think.config_for(rule, detected)
            preset = self._preset(record.model, rule, detected)
            history = history_for(rule, record.think, preset)
            changes = self.memory.apply(flow) if self.memory is not None else []
            if rule is not None or history.touches:
                changes += rewrite_request(
                    body, rule or NO_RULE, record.think, record.format, history
                )
            changes += self.thinking.compile(flow, body, rule, thinking, record.endpoint, budget)
            if changes:
                flow.request.content = dumps_body(body)
                record.changes.extend(changes)
        if mode is not None:
            base = record.think or self.think.defaults
            record.think = dataclasses.replace(base, mode=mode)
        if held and self.settled is not None:
            self.settled(flow)

    def _preset(
        self, model: str | None, rule: ModelRule | None, detected: ThinkFamily | None
    ) -> HistoryPreset | None:
        """The history preset of the request's family or model name (`history_presets`)."""
        upstream = rule.upstream_model_name if rule is not None else None
        return preset_for(_family_in_effect(rule, detected), model, upstream)

    def response(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response
        record = notes(flow)
        merge = model_list_merger(record.endpoint)
        if record.local or merge is None:
            return
        if response.stream or response.status_code >= 400:
            return
        pseudo = self.rules.pseudo_models()
        if not pseudo:
            return
        try:
            listing = response.json()
        except ValueError:
            return
        merged = merge(listing, pseudo)
        if merged is not None:
            response.content = json.dumps(merged).encode()
            record.changes.append(f"models +{len(pseudo)} pseudo")


def _family_in_effect(rule: ModelRule | None, detected: ThinkFamily | None) -> str | None:
    """The tag family of the request: its rule's, the detected one, or THINK_FAMILY's."""
    if rule is not None and rule.think_family not in (None, AUTO):
        return rule.think_family
    if detected is not None:
        return detected.name
    family = ctx.options.think_family.strip()
    return family if family and family != AUTO else None


def _is_mode(value: str) -> TypeGuard[ThinkMode]:
    return value in THINK_MODES
