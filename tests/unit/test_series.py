"""The Prometheus series and their labels (cot_proxy.series)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cot_proxy.rules import RuleSet
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from cot_proxy.series import Series
from cot_proxy.series import fallback_label
from cot_proxy.series import model_label
from cot_proxy.series import model_names
from cot_proxy.series import upstream_error_kind


def test_model_label_takes_only_exact_rule_names():
    rules = RuleSet(
        parse_llm_params(
            "model=qwen3,temperature=0.6;model=glm-*,temperature=1;model=default,temperature=0"
        )
    )
    known = model_names(rules)
    assert known == {"qwen3"}
    assert model_label("qwen3", known) == "qwen3"
    for name in ["glm-4", "default", "anything", "", None, "qwen3 "]:
        assert model_label(name, known) == "other"


def test_model_label_takes_the_variants_of_exact_rules():
    rules = RuleSet(
        parse_config("models: [{model: q, variants: {a: {}}}, {model: g-*, variants: {b: {}}}]")
    )
    assert model_names(rules) == {"q", "q@a"}


@pytest.mark.parametrize(
    "message, kw, kind",
    [
        ("[Errno 111] Connect call failed", dict(connected=False), "connect"),
        ("Name or service not known", dict(connected=False), "connect"),
        ("TLS handshake failed", dict(connected=True, tls_wanted=True), "tls"),
        ("server closed connection", dict(connected=True), "closed_early"),
        (
            "server closed connection",
            dict(connected=True, tls_wanted=True, tls_done=True),
            "closed_early",
        ),
        ("Client disconnected.", dict(connected=True), None),
        ("Client disconnected.", dict(connected=True, timed_out=True), "timeout"),
    ],
)
def test_upstream_error_kind(message, kw, kind):
    args = {"timed_out": False, "connected": True, "tls_wanted": False, "tls_done": False, **kw}
    assert upstream_error_kind(message, **args) == kind


def test_fallback_label():
    assert fallback_label("oversized event") == "oversized"
    assert fallback_label("error: KeyError") == "error"
    assert fallback_label("encoding") == "encoding"


def test_series_render_in_one_process():
    series = Series()
    assert not series.multiprocess
    series.requests.labels("chat", "other", "200").inc()
    series.streams.inc()
    families = {f.name: f for f in text_string_to_metric_families(series.render().decode())}
    assert families["cot_proxy_requests"].samples[0].value == 1
    assert families["cot_proxy_streams_in_progress"].samples[0].value == 1
    # Known label values are there from the start, at 0.
    kinds = {
        s.labels["kind"]
        for s in families["cot_proxy_upstream_errors"].samples
        if s.name.endswith("_total")
    }
    assert kinds == {"connect", "tls", "timeout", "closed_early"}
    assert Series().render().count(b"cot_proxy_requests_total{") == 0  # a registry of its own
