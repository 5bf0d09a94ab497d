"""cot_proxy.detect.detector: one probe per model, a deadline, a bounded cache that expires."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from cot_proxy.detect import detector as detector_module
from cot_proxy.detect.detector import Detector
from cot_proxy.detect.http import Answer
from tests.fixtures.detect import OLLAMA_LLAMA3_TEMPLATE
from tests.fixtures.detect import OLLAMA_QWEN3_TEMPLATE
from tests.fixtures.detect import OLLAMA_VERSION
from tests.fixtures.detect import VLLM_VERSION
from tests.fixtures.detect import llamacpp
from tests.fixtures.detect import ollama_show
from tests.fixtures.detect import ollama_tags
from tests.fixtures.detect import props_with
from tests.fixtures.detect import sglang_model_info
from tests.fixtures.detect import template
from tests.fixtures.detect import vllm_models


class FakeTarget:
    """Answers (method, path) from a table; everything else 404 as llama-server says it."""

    def __init__(self, table: dict[tuple[str, str], Any], delay: float = 0.0) -> None:
        self.table = table
        self.delay = delay
        self.asked: list[tuple[str, str, bytes | None, dict[str, str]]] = []

    async def __call__(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Answer:
        self.asked.append((method, path, body, dict(headers)))
        if self.delay:
            await asyncio.sleep(self.delay)
        found = self.table.get((method, path))
        if found is None:
            return Answer(404, llamacpp("not_found"))
        if isinstance(found, Exception):
            raise found
        return Answer(200, found if isinstance(found, bytes) else json.dumps(found).encode())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_llamacpp_family_from_the_template() -> None:
    target = FakeTarget(
        {
            ("GET", "/props"): props_with(template("Qwen3.5-4B")),
            ("GET", "/props?model=qwen3.5"): props_with(template("Qwen3.5-4B")),
            ("GET", "/v1/models"): llamacpp("v1_models"),
        }
    )
    detector = Detector(target)
    decision = await detector.decide("qwen3.5", None, {"authorization": "Bearer k"})
    assert detector.server == "llamacpp"
    assert (decision.family, decision.source, decision.implicit_start) == (
        "qwen3_5",
        "template",
        True,
    )
    preset = decision.preset()
    assert preset is not None and preset.implicit_start
    # the client's credential went with every probe; no generation was asked for
    assert all(h == {"authorization": "Bearer k"} for *_, h in target.asked)
    assert all(m == "GET" for m, *_ in target.asked)


async def test_ollama_capabilities_and_template() -> None:
    target = FakeTarget(
        {
            ("GET", "/api/version"): OLLAMA_VERSION,
            ("GET", "/api/tags"): ollama_tags("qwen3:8b", "llama3.1:8b"),
        }
    )
    shows = {
        "qwen3:8b": ollama_show(
            OLLAMA_QWEN3_TEMPLATE, ["completion", "tools", "thinking"], "qwen3"
        ),
        "llama3.1:8b": ollama_show(OLLAMA_LLAMA3_TEMPLATE, ["completion", "tools"], "llama"),
    }

    async def fetch(
        method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Answer:
        if (method, path) == ("POST", "/api/show"):
            assert body is not None
            return Answer(200, json.dumps(shows[json.loads(body)["model"]]).encode())
        return await target(method, path, body, headers)

    detector = Detector(fetch)
    qwen = await detector.decide("qwen3:8b", None, {})
    assert (qwen.family, qwen.source, qwen.thinks) == ("qwen3", "template", True)
    llama = await detector.decide("llama3.1:8b", None, {})
    assert (llama.family, llama.source, llama.thinks) == (None, "capabilities", False)
    assert await detector.listed({}) == ["qwen3:8b", "llama3.1:8b"]


@pytest.mark.parametrize(
    "table,kind",
    [
        (
            {
                ("GET", "/version"): VLLM_VERSION,
                ("GET", "/v1/models"): vllm_models("chat", "google/gemma-4-31B-it"),
            },
            "vllm",
        ),
        ({("GET", "/get_model_info"): sglang_model_info("google/gemma-4-31B-it")}, "sglang"),
    ],
)
async def test_family_from_the_repository_path(
    table: dict[tuple[str, str], Any], kind: str
) -> None:
    # the client asks for a served alias: the path the server reports names the family
    detector = Detector(FakeTarget(table))
    decision = await detector.decide("chat", None, {})
    assert (detector.server, decision.family, decision.source) == (kind, "gemma4", "name")


async def test_a_rule_server_hint_skips_the_server_probe() -> None:
    target = FakeTarget({("GET", "/props?model=m"): props_with(template("GLM-4.7-Flash"))})
    decision = await Detector(target).decide("m", "llamacpp", {})
    assert (decision.family, decision.implicit_start) == ("glm", True)
    assert [path for _, path, *_ in target.asked] == ["/props?model=m"]


async def test_known_hosts_and_name_only_servers() -> None:
    target = FakeTarget({})
    detector = Detector(target, host="api.openai.com")
    decision = await detector.decide("gpt-4o", None, {})
    assert (detector.server, decision.source, decision.family) == ("openai", "default", None)
    assert target.asked == []  # nothing probed: a hosted API, a name the table does not know


async def test_a_silent_target_costs_the_timeout_once(monkeypatch: pytest.MonkeyPatch) -> None:
    target = FakeTarget({}, delay=5)
    detector = Detector(target, timeout=0.05)
    decision = await detector.decide("qwen3:8b", None, {})
    # degraded, from the name table, and remembered: the next request does not wait
    assert decision.failed and (decision.family, decision.source) == ("qwen3", "name")
    assert detector.cached("qwen3:8b") == decision
    unknown = await detector.decide("mystery", None, {})
    assert unknown.failed and unknown.source == "default" and unknown.family is None


async def test_one_probe_for_concurrent_requests() -> None:
    target = FakeTarget(
        {
            ("GET", "/props"): props_with(template("GLM-4.6")),
            ("GET", "/props?model=m"): props_with(template("GLM-4.6")),
        },
        delay=0.01,
    )
    detector = Detector(target)
    decisions = await asyncio.gather(*(detector.decide("m", None, {}) for _ in range(5)))
    assert {d.family for d in decisions} == {"glm"}
    assert sum(1 for _, path, *_ in target.asked if path == "/props?model=m") == 1
    assert sum(1 for _, path, *_ in target.asked if path == "/props") == 1


async def test_ttl_and_reload_refresh_in_the_background() -> None:
    clock = Clock()
    table: dict[tuple[str, str], Any] = {
        ("GET", "/props"): props_with(template("Qwen-Qwen3-0.6B")),
        ("GET", "/props?model=m"): props_with(template("Qwen-Qwen3-0.6B")),
    }
    target = FakeTarget(table)
    detector = Detector(target, ttl=600, clock=clock)
    assert (await detector.decide("m", None, {})).family == "qwen3"
    # the model is swapped for another behind the same name
    table[("GET", "/props?model=m")] = props_with(template("MiniMax-M2"))
    clock.now += 599
    assert detector.cached("m", {}).family == "qwen3"
    clock.now += 2
    assert detector.cached("m", {}).family == "qwen3"  # stale, used
    await asyncio.sleep(0.01)  # the background refresh
    assert detector.cached("m", {}).family == "minimax"
    table[("GET", "/props?model=m")] = props_with(template("GLM-4.6"))
    detector.stale()
    detector.cached("m", {})
    await asyncio.sleep(0.01)
    assert detector.cached("m").family == "glm"


async def test_server_probe_retried_after_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    table: dict[tuple[str, str], Any] = {}
    detector = Detector(FakeTarget(table), clock=clock)
    assert (await detector.server_facts({})).kind is None
    table[("GET", "/api/version")] = OLLAMA_VERSION
    assert (await detector.server_facts({})).kind is None  # not asked again at once
    clock.now += detector_module.RETRY_SECONDS
    assert (await detector.server_facts({})).kind == "ollama"
    lines = [r.getMessage() for r in caplog.records]
    assert sum("not recognised" in line for line in lines) == 1
    assert any("target server: ollama (GET /api/version: 0.12.6)" in line for line in lines)


async def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detector_module, "CACHE_LIMIT", 3)
    detector = Detector(FakeTarget({}), host="api.openai.com")
    for i in range(5):
        await detector.decide(f"m{i}", None, {})
    assert [d.model for d in detector.decisions()] == ["m2", "m3", "m4"]


async def test_a_configured_server_is_not_probed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    target = FakeTarget({})
    detector = Detector(target, server="ollama")
    detector.start({})
    assert detector.server == "ollama" and target.asked == []
    assert "target server: ollama (TARGET_SERVER)" in caplog.text


async def test_a_probe_without_credential_is_retried_with_one() -> None:
    clock = Clock()
    table: dict[tuple[str, str], Any] = {}
    target = FakeTarget(table)
    detector = Detector(target, clock=clock)
    assert (await detector.server_facts({})).kind is None  # start-up: no key, a 401 say
    table[("GET", "/api/version")] = OLLAMA_VERSION
    assert (await detector.server_facts({})).kind is None  # still none: not asked again
    facts = await detector.server_facts({"authorization": "Bearer client"})
    assert facts.kind == "ollama"  # the first client's credential: asked again at once
