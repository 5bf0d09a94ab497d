"""The Prometheus series of cot-proxy (`GET /metrics`), with prometheus_client, and their labels.

With WORKERS > 1, entrypoint.sh points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the
workers start; prometheus_client then keeps every value in per-process files there (it chooses
at import), and a scrape answered by any worker reads them all (`MultiProcessCollector`).
Without it, the values live in this process, in the registry of its `Series`.

Labels carry no request content and no credential: the endpoint, a model name that appears in
the rules (any other is `other`, so that clients cannot add series), a status, a kind.

Stdlib and prometheus_client only, no mitmproxy import.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client import multiprocess

from cot_proxy.rules import DEFAULT_PATTERN
from cot_proxy.rules import RuleSet
from cot_proxy.think import THINK_MODES

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER = "other"

# Answers of LLM servers take from milliseconds (/models) to minutes (long reasoning).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)

UPSTREAM_ERROR_KINDS = ("connect", "tls", "timeout", "closed_early")
FALLBACK_REASONS = ("oversized", "error", "encoding")
RELOAD_RESULTS = ("ok", "error")
BUDGET_OUTCOMES = ("within", "native", "forced")
RESTORE_RESULTS = ("hit", "miss")


class Series:
    """Every series, created once per process (one `Series` per addon instance)."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multiprocess mode the values are in files; the scrape builds its own registry.
        self.registry: CollectorRegistry | None = None if self.multiprocess else CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "cot_proxy_requests",
            "Requests answered, by endpoint, model (from the rules, else other) and status (the "
            "HTTP status, or error / timeout when no whole answer reached the client).",
            ["endpoint", "model", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "cot_proxy_request_duration_seconds",
            "From the request's first byte to the end of the answer.",
            ["endpoint", "model"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.first_answer = Histogram(
            "cot_proxy_first_answer_seconds",
            "From the request's first byte to the first answer text the client got, after any "
            "think block (buffered answers: when the answer went out).",
            ["endpoint", "model"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.think_chars = Counter(
            "cot_proxy_think_chars",
            "Think characters removed (strip) or moved to the reasoning field (reasoning).",
            ["mode"],
            registry=registry,
        )
        self.streams = Gauge(
            "cot_proxy_streams_in_progress",
            "Streamed answers being passed to clients now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.upstream_errors = Counter(
            "cot_proxy_upstream_errors",
            "Failures of the target: connect, tls, timeout (silent past API_REQUEST_TIMEOUT), "
            "closed_early (closed before the end of its answer).",
            ["kind"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "cot_proxy_stream_fallbacks",
            "Streams the proxy could not filter (an oversized event, a filter error, or a "
            "content encoding it cannot decode): ended with an error event in strip mode, "
            "passed through unfiltered in the others.",
            ["reason"],
            registry=registry,
        )
        self.rule_reloads = Counter(
            "cot_proxy_rule_reloads",
            "Reloads of the rules (LLM_PARAMS, CONFIG_FILE) after the first load, by result.",
            ["result"],
            registry=registry,
        )
        self.think_budget = Counter(
            "cot_proxy_think_budget",
            "Requests with a thinking budget, by outcome: within (the proxy held it and the model "
            "stayed within), native (the server holds it), forced (the proxy ended the thought "
            "at the budget and asked for the answer).",
            ["outcome"],
            registry=registry,
        )
        self.history_restored = Counter(
            "cot_proxy_history_restored",
            "Assistant turns of a request's history that lacked their reasoning (history_restore): "
            "hit, the reasoning memory put it back; miss, it knew no reasoning of that turn.",
            ["result"],
            registry=registry,
        )
        # Known label values start at 0, so that a scrape shows them before the first event.
        for mode in THINK_MODES:
            if mode != "keep":
                self.think_chars.labels(mode)
        for kind in UPSTREAM_ERROR_KINDS:
            self.upstream_errors.labels(kind)
        for reason in FALLBACK_REASONS:
            self.fallbacks.labels(reason)
        for result in RELOAD_RESULTS:
            self.rule_reloads.labels(result)
        for outcome in BUDGET_OUTCOMES:
            self.think_budget.labels(outcome)
        for result in RESTORE_RESULTS:
            self.history_restored.labels(result)

    def render(self) -> bytes:
        """The text exposition of every series, over all workers in multiprocess mode."""
        if self.registry is not None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


def model_names(rules: RuleSet) -> frozenset[str]:
    """The model names the `model` label may take: the exact (non-glob) patterns of the rules,
    and NAME@LABEL for each of their variants."""
    exact = [r for r in rules if not r.is_glob and r.pattern != DEFAULT_PATTERN]
    return frozenset(
        [r.pattern for r in exact] + [f"{r.pattern}@{label}" for r in exact for label in r.variants]
    )


def model_label(model: str | None, known: Iterable[str]) -> str:
    return model if model is not None and model in known else OTHER


def fallback_label(reason: str | None) -> str:
    """`FilterStream.fallback_reason` ("oversized event", "error: KeyError", "encoding") as a label."""
    if reason is None or reason.startswith("error"):
        return "error"
    return "oversized" if reason.startswith("oversized") else "encoding"


def upstream_error_kind(
    message: str, *, timed_out: bool, connected: bool, tls_wanted: bool, tls_done: bool
) -> str | None:
    """What failed, for a flow that ended in an error; None when the target is not to blame."""
    if timed_out:
        return "timeout"
    if message.startswith("Client "):  # mitmproxy's words for the client leaving or misbehaving
        return None
    if not connected:
        return "connect"
    if tls_wanted and not tls_done:
        return "tls"
    return "closed_early"
