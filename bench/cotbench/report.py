"""The report's data: every per-round summary of a run, the statistics over rounds, and the
formats of the figures. The tables are rendered from it by cotbench.rows and cotbench.tables.
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

MAIN_TARGETS = ("direct", "floor", "project")


def med(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def paired_ratio(num: list[float | None], den: list[float | None]) -> float | None:
    """The median over rounds of num/den, each round's pair measured back to back."""
    return med([a / b if a is not None and b else None for a, b in zip(num, den)])


@dataclasses.dataclass
class Row:
    scenario: str
    metric: str
    values: dict[str, str]  # by target
    ratio_floor: str = ""
    ratio_direct: str = ""
    target: str = ""
    verdict: str = ""


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "ms":
        return f"{value * 1000:.1f}"
    if unit == "MB":
        return f"{value:.1f}"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


class Report:
    """What a run measured: results[scenario][target] holds one summary per round."""

    def __init__(self, mode: str, targets: list[str]) -> None:
        self.mode = mode
        self.targets = targets
        # results[scenario][target] = list of per-round summaries (None where not measured)
        self.results: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.filter_rounds: list[dict[str, Any]] = []
        self.codec_rounds: list[dict[str, Any]] = []
        self.slow: dict[str, dict[str, Any]] = {}
        self.rss: dict[str, float | None] = {}
        self.notes: list[str] = []
        self.rounds_done = 0
        self.workers_note = ""
        self.loop_note = ""
        # sweep[target][level] = per-round summaries; soak = Soak.summary() of the project
        self.sweep: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.soak: dict[str, Any] = {}
        self.official = False  # a full run of everything: what `make bench-publish` publishes

    def main_targets(self) -> list[str]:
        """The targets of the main table's columns."""
        return [t for t in MAIN_TARGETS if t in self.targets]

    def add(self, scenario: str, target: str, round_no: int, summary: dict[str, Any]) -> None:
        per_target = self.results.setdefault(scenario, {})
        series = per_target.setdefault(target, [])
        while len(series) < round_no:
            series.append({})
        series.append(summary)

    def series(self, scenario: str, target: str, key: str) -> list[float | None]:
        rounds = self.results.get(scenario, {}).get(target, [])
        return [summary.get(key) for summary in rounds] + [None] * (self.rounds_done - len(rounds))

    def counts(self, scenario: str, target: str) -> tuple[int, int, int, int] | None:
        rounds = [s for s in self.results.get(scenario, {}).get(target, []) if s]
        if not rounds:
            return None
        return (
            sum(s["requests"] for s in rounds),
            sum(s["ok"] for s in rounds),
            sum(s["errors"] for s in rounds),
            sum(s["inexact"] for s in rounds),
        )

    def sweep_level(self, target: str, level: int, key: str) -> float | None:
        return med([r.get(key) for r in self.sweep.get(target, {}).get(str(level), []) if r])

    def sizing(self) -> int | None:
        """The most concurrent streams of the sweep one project process carried with its TTFA
        p50 within 1.1× direct's, every answer right (None: no sweep)."""
        project = self.sweep.get("project", {})
        if not project:
            return None
        best = 0
        for level in sorted(int(level) for level in project):
            runs = [r for r in project[str(level)] if r]
            ours = self.sweep_level("project", level, "ttfa_p50")
            direct = self.sweep_level("direct", level, "ttfa_p50")
            if not runs or any(r["errors"] or r["inexact"] for r in runs):
                break
            if ours is None or direct is None or ours > 1.1 * direct:
                break
            best = level
        return best

    def to_json(self, header: dict[str, str]) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "header": header,
            "rounds": self.rounds_done,
            "targets": self.targets,
            "results": self.results,
            "think_filter": self.filter_rounds,
            "json_codec": self.codec_rounds,
            "slow": self.slow,
            "rss": self.rss,
            "notes": self.notes,
            "workers_note": self.workers_note,
            "loop_note": self.loop_note,
            "sweep": self.sweep,
            "sizing": self.sizing(),
            "soak": self.soak,
            "official": self.official,
        }

    def any_wrong(self) -> bool:
        """Any answer wrong or failed, anywhere in the run (`--strict` exits 3)."""
        wrong = any(
            s.get("errors") or s.get("inexact") or s.get("ok") != s.get("requests")
            for per_target in self.results.values()
            for series in per_target.values()
            for s in series
            if s
        )
        wrong = wrong or any(not (r["pass_exact"] and r["think_exact"]) for r in self.filter_rounds)
        wrong = wrong or any(s["errors"] or s["inexact"] for s in self.slow.values())
        wrong = wrong or any(
            r["errors"] or r["inexact"]
            for per in self.sweep.values()
            for rs in per.values()
            for r in rs
        )
        return wrong or bool(self.soak and not self.soak.get("exact"))
