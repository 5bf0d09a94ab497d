"""The rows of the report's main table, one function per group of rows, in the table's order:
the load scenarios (their figures, then their answers), the think filter, the JSON codec, the
slow streams, the sweep and the sizing, the soak, the whole run's peak RSS.
"""

from __future__ import annotations

from soak import GROWTH_LIMIT_MB

from cotbench.report import Report
from cotbench.report import Row
from cotbench.report import fmt
from cotbench.report import fmt_ratio
from cotbench.report import med
from cotbench.report import paired_ratio
from cotbench.scenarios import LOAD_SCENARIOS
from cotbench.scenarios import SLOW_RSS_LIMIT_MB
from cotbench.scenarios import THINK_FILTER_BASELINE
from cotbench.scenarios import THINK_FILTER_SLACK
from cotbench.scenarios import Figure

MISS = "**MISS**"
EXACT = "0 errors, all exact"


def main_rows(report: Report) -> list[Row]:
    main = report.main_targets()
    rows: list[Row] = []
    for scenario in LOAD_SCENARIOS:
        if scenario.name in report.results:
            rows += [metric_row(report, scenario.name, figure, main) for figure in scenario.figures]
            rows.append(answers_row(report, scenario.name, main))
    rows += think_filter_rows(report)
    rows += json_codec_rows(report)
    rows += slow_rows(report, main)
    rows += sweep_rows(report, main)
    rows += soak_rows(report)
    if report.rss:
        rows.append(
            Row("whole run", "peak RSS MB", {t: fmt(report.rss.get(t), "MB") for t in main})
        )
    return rows


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else MISS)


def metric_row(report: Report, scenario: str, figure: Figure, main: list[str]) -> Row:
    key = figure.key
    values = {t: fmt(med(report.series(scenario, t, key)), figure.unit) for t in main}
    project = report.series(scenario, "project", key)
    vs_floor = paired_ratio(project, report.series(scenario, "floor", key))
    vs_direct = (
        paired_ratio(project, report.series(scenario, "direct", key)) if figure.vs_direct else None
    )
    target = verdict = ""
    bound = figure.bound
    if figure.check and bound is not None:
        target = f"{'≥' if figure.check == 'min' else '≤'} {bound}× floor"
        if vs_floor is None:
            verdict = _verdict(None)
        else:
            verdict = _verdict(vs_floor >= bound if figure.check == "min" else vs_floor <= bound)
    return Row(
        scenario,
        figure.label,
        values,
        fmt_ratio(vs_floor),
        fmt_ratio(vs_direct) if figure.vs_direct else "",
        target,
        verdict,
    )


def answers_row(report: Report, scenario: str, main: list[str]) -> Row:
    values = {}
    bad = 0
    for t in main:
        counts = report.counts(scenario, t)
        if counts is None:
            values[t] = "–"
            continue
        requests, ok, errors, inexact = counts
        values[t] = f"{ok}/{requests} ok, {errors} err, {inexact} inexact"
        passed = sum(s.get("passed_through", 0) for s in report.results[scenario].get(t, []) if s)
        if passed and t == "project":
            values[t] += f" ({passed} passed through unfiltered)"
        if t == "project":
            bad = errors + inexact + (requests - ok)
    measured = report.counts(scenario, "project") is not None
    return Row(
        scenario,
        "answers (all rounds)",
        values,
        target=EXACT,
        verdict=_verdict(bad == 0 if measured else None),
    )


def think_filter_rows(report: Report) -> list[Row]:
    """ "No slower than now": each figure is also taken relative to json.loads of the same events
    in the same round (a machine twice as busy halves both), and that ratio is held against the
    one measured at THINK_FILTER_BASELINE["commit"]."""
    rounds = report.filter_rounds
    if not rounds:
        return []
    rows = []
    for label, key, exact_key in (
        ("pass-through events/s", "pass_events_per_s", "pass_exact"),
        ("in-think events/s", "think_events_per_s", "think_exact"),
        ("pass-through, 64 events/chunk, events/s", "batched_events_per_s", None),
    ):
        value = med([r[key] for r in rounds])
        relative = med(
            [r[key] / r["json_loads_per_s"] for r in rounds if r.get("json_loads_per_s")]
        )
        exact = all(r[exact_key] for r in rounds) if exact_key else True
        baseline = THINK_FILTER_BASELINE.get(key)
        verdict = target = ""
        if baseline is not None and relative is not None:
            floor = THINK_FILTER_SLACK * baseline  # the baseline less one round's noise
            target = (
                f"≥ {floor:.2f}× json.loads ({THINK_FILTER_SLACK} × {baseline:.2f}, "
                f"as at {THINK_FILTER_BASELINE['commit']})"
            )
            verdict = _verdict(relative >= floor and exact)
            if not exact:
                verdict += " (output wrong)"
        rows.append(
            Row(
                "think-filter",
                label,
                {"project": fmt(value, "")},
                ratio_floor="" if relative is None else f"{relative:.2f}× json.loads",
                target=target,
                verdict=verdict,
            )
        )
    return rows


def json_codec_rows(report: Report) -> list[Row]:
    rounds = report.codec_rounds
    rows = []
    for label, key in (("small request", "small"), ("200 KB request", "long")):
        if not rounds:
            break
        ours = med([r[f"{key}_ours_us"] for r in rounds])
        stdlib = med([r[f"{key}_json_us"] for r in rounds])
        same = all(r[f"{key}_same"] for r in rounds)
        size = rounds[0][f"{key}_bytes"]
        rows.append(
            Row(
                "json-codec",
                f"{label}, {size:,} bytes: parse + write, µs (json module → jsonbytes)",
                {"project": f"{fmt(stdlib, '')} → {fmt(ours, '')}"},
                ratio_floor=fmt_ratio(ours / stdlib if ours and stdlib else None),
                target="same result",
                verdict=_verdict(same),
            )
        )
    return rows


def slow_rows(report: Report, main: list[str]) -> list[Row]:
    slow = report.slow
    if not slow:
        return []
    values, rss = {}, {}
    for t in main:
        summary = slow.get(t)
        if summary is None:
            values[t] = rss[t] = "–"
            continue
        values[t] = (
            f"{summary['ok']}/{summary['requests']} ok, {summary['errors']} err, "
            f"{summary['inexact']} inexact"
        )
        rss[t] = fmt(summary.get("peak_rss_mb"), "MB") if t != "direct" else "–"
    project = slow.get("project")
    bad = (
        None
        if project is None
        else (project["errors"] + project["inexact"] + project["requests"] - project["ok"])
    )
    peak = None if project is None else project.get("peak_rss_mb")
    ttfa = {t: fmt(slow[t].get("ttfa_p50"), "ms") if t in slow else "–" for t in main}
    return [
        Row(
            "slow-1000",
            "answers",
            values,
            target=EXACT,
            verdict=_verdict(None if bad is None else bad == 0),
        ),
        Row(
            "slow-1000",
            "peak RSS MB (fresh process)",
            rss,
            target=f"≤ {SLOW_RSS_LIMIT_MB} MB",
            verdict=_verdict(None if peak is None else peak <= SLOW_RSS_LIMIT_MB),
        ),
        Row("slow-1000", "TTFA p50 ms", ttfa),
    ]


def sweep_rows(report: Report, main: list[str]) -> list[Row]:
    rows: list[Row] = []
    levels = sorted({int(level) for per in report.sweep.values() for level in per})
    for level in levels:
        for label, key, unit in (
            ("TTFA p50 ms", "ttfa_p50", "ms"),
            ("TTFA p99 ms", "ttfa_p99", "ms"),
            ("events/s", "events_per_s", ""),
        ):
            values = {t: fmt(report.sweep_level(t, level, key), unit) for t in main}
            project = report.sweep_level("project", level, key)
            floor = report.sweep_level("floor", level, key)
            direct = report.sweep_level("direct", level, key)
            rows.append(
                Row(
                    f"sweep {level} streams",
                    label,
                    values,
                    fmt_ratio(project / floor if project and floor else None),
                    fmt_ratio(project / direct if project and direct else None),
                )
            )
        runs = report.sweep.get("project", {}).get(str(level), [])
        bad = sum(r["errors"] + r["inexact"] for r in runs if r)
        if bad:
            rows.append(Row(f"sweep {level} streams", f"project: {bad} wrong or failed", {}))
    sizing = report.sizing()
    if sizing is not None:
        rows.append(
            Row(
                "sizing",
                "streams at 20 ms/token, TTFA p50 ≤ 1.1× direct",
                {"project": f"{sizing}"},
                target="(what one process carries)",
            )
        )
    return rows


def soak_rows(report: Report) -> list[Row]:
    soak = report.soak
    if not soak:
        return []
    answers = (
        f"{soak['ok']}/{soak['total']} ok, {soak['errors']} err, {soak['inexact']} inexact"
        f" ({soak['requests']} sent)"
    )
    growth = soak.get("growth_mb")
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(soak.get("by_kind", {}).items()))
    return [
        Row(
            "soak",
            "answers (mixed: " + kinds + ")",
            {"project": answers},
            target=EXACT,
            verdict=_verdict(bool(soak.get("exact"))),
        ),
        Row(
            "soak",
            "RSS growth after warm-up MB",
            {"project": fmt(growth, "MB")},
            target=f"≤ {GROWTH_LIMIT_MB:.0f} MB",
            verdict=_verdict(None if growth is None else growth <= GROWTH_LIMIT_MB),
        ),
        Row(
            "soak",
            f"peak RSS MB, req/s over {soak['wall']:.0f} s",
            {"project": f"{fmt(soak.get('peak_rss_mb'), 'MB')}, {soak['req_per_s']:.0f}"},
        ),
    ]
