"""The report as markdown: one renderer per table (the main table, WORKERS=2, the event loop),
then the definitions and the notes. `markdown` puts them together.
"""

from __future__ import annotations

from cotbench.report import Report
from cotbench.report import Row
from cotbench.report import fmt
from cotbench.report import fmt_ratio
from cotbench.report import med
from cotbench.report import paired_ratio
from cotbench.rows import main_rows
from cotbench.scenarios import LOAD_SCENARIOS
from cotbench.scenarios import LOOP_TARGETS

DEFINITIONS = (
    "Ratios are medians of per-round ratios (targets measured back to back, "
    "order rotated each round). direct = client → upstream; floor = plain mitmdump "
    "streaming event streams; project = ./entrypoint.sh, THINK_MODE=strip, INFO log "
    "to a file. TTFA = time to the first answer character (after the think block). "
    "events/s = upstream SSE events of completed streams per second. CPU µs = user+system CPU "
    "time of the proxy process (for direct: of the upstream) per request or per "
    "upstream event, from /proc (10 ms ticks); steadier than throughput on a busy "
    "machine."
)
CEILING = (
    "ceiling = direct ÷ one process: the most any number of workers could "
    "reach with this upstream and client. machine CPU busy = all cores, "
    "while WORKERS=2 ran (the client and the upstream share them)."
)


def markdown(report: Report, header: dict[str, str]) -> str:
    rounds = report.rounds_done
    lines = [
        f"### cot-proxy benchmark ({report.mode}, {rounds} round"
        f"{'s' if rounds != 1 else ''}, medians)",
        "",
        " · ".join(f"{k}: {v}" for k, v in header.items()),
        "",
    ]
    lines += main_table(report)
    lines += workers_table(report)
    lines += loops_table(report)
    lines += ["", DEFINITIONS]
    lines += [f"- {note}" for note in notes(report)]
    return "\n".join(lines) + "\n"


def main_table(report: Report) -> list[str]:
    main = report.main_targets()
    lines = [
        "| scenario | metric | "
        + " | ".join(main)
        + " | project/floor | project/direct | target | result |",
        "|---|---|" + "---:|" * len(main) + "---:|---:|---|---|",
    ]
    for row in main_rows(report):
        cells = [
            row.scenario,
            row.metric,
            *(row.values.get(t, "") for t in main),
            row.ratio_floor,
            row.ratio_direct,
            row.target,
            row.verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def workers_table(report: Report) -> list[str]:
    rows = worker_rows(report)
    if not rows:
        return []
    lines = [
        "",
        "| WORKERS=2 | metric | one process | WORKERS=2 | ratio | ceiling | "
        "machine CPU busy | target | result |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        v = row.values
        lines.append(
            f"| {row.scenario} | {row.metric} | {v.get('project', '')} | "
            f"{v.get('project-w2', '')} | {row.ratio_floor} | "
            f"{v.get('ceiling', '')} | {v.get('busy', '')} | "
            f"{row.target} | {row.verdict} |"
        )
    if not report.workers_note:
        lines += ["", CEILING]
    return lines


def worker_rows(report: Report) -> list[Row]:
    if report.workers_note:
        return [Row("WORKERS=2", report.workers_note, {})]
    rows = []
    for scenario in LOAD_SCENARIOS:
        name, bound = scenario.name, scenario.workers_target
        if not scenario.workers or "project-w2" not in report.results.get(name, {}):
            continue
        key, label = (
            ("req_per_s", "req/s") if scenario.per_request else ("events_per_s", "events/s")
        )
        one = report.series(name, "project", key)
        two = report.series(name, "project-w2", key)
        ratio = paired_ratio(two, one)
        # What the upstream and the client allow at most (the same load without a proxy),
        # and how busy the whole machine was while WORKERS=2 ran.
        ceiling = paired_ratio(report.series(name, "direct", key), one)
        busy = med(report.series(name, "project-w2", "machine_busy"))
        counts = report.counts(name, "project-w2")
        bad = counts is None or counts[2] + counts[3] + counts[0] - counts[1] > 0
        if bound is None:
            verdict = "(info)" if not bad else "**MISS**"
        else:
            verdict = (
                "n/a" if ratio is None else ("PASS" if ratio >= bound and not bad else "**MISS**")
            )
        if counts and bad:
            verdict += f" ({counts[2]} err, {counts[3]} inexact)"
        rows.append(
            Row(
                name,
                label,
                {
                    "project": fmt(med(one), ""),
                    "project-w2": fmt(med(two), ""),
                    "ceiling": fmt_ratio(ceiling),
                    "busy": "–" if busy is None else f"{busy:.0%}",
                },
                ratio_floor=fmt_ratio(ratio),
                target=f"≥ {bound}× one process" if bound else "",
                verdict=verdict,
            )
        )
    return rows


def loops_table(report: Report) -> list[str]:
    rows = loop_rows(report)
    if not rows:
        return []
    lines = [
        "",
        "| event loop | metric | floor | floor on uvloop | project | project on uvloop | "
        "uvloop gain, floor | uvloop gain, project | project on uvloop / floor | "
        "project / floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        v = row.values
        lines.append(
            f"| {row.scenario} | {row.metric} | "
            + " | ".join(v.get(t, "") for t in LOOP_TARGETS)
            + f" | {v.get('floor gain', '')} | {v.get('project gain', '')} | "
            f"{v.get('uvloop/floor', '')} | {row.ratio_floor} |"
        )
    return lines


def loop_rows(report: Report) -> list[Row]:
    """uvloop against asyncio's own loop, for the floor and the project, in the same rounds.

    mitmproxy starts its loop before loading any addon, so the project could only select
    uvloop through a launcher in entrypoint.sh; these rows are the figures that decide it."""
    if report.loop_note:
        return [Row("event loop", report.loop_note, {})]
    rows = []
    for scenario in LOAD_SCENARIOS:
        per = report.results.get(scenario.name, {})
        if "project-uvloop" not in per and "floor-uvloop" not in per:
            continue
        key = "req_per_s" if scenario.per_request else "events_per_s"
        for label, k in ((key.replace("_per_s", "/s"), key), ("CPU µs/unit", "cpu_us_per_unit")):
            series = {t: report.series(scenario.name, t, k) for t in LOOP_TARGETS}

            def gain(num: str, den: str) -> str:
                return fmt_ratio(paired_ratio(series[num], series[den]))

            values = {t: fmt(med(series[t]), "") for t in LOOP_TARGETS}
            values["floor gain"] = gain("floor-uvloop", "floor")
            values["project gain"] = gain("project-uvloop", "project")
            values["uvloop/floor"] = gain("project-uvloop", "floor")
            rows.append(Row(scenario.name, label, values, ratio_floor=gain("project", "floor")))
    return rows


def notes(report: Report) -> list[str]:
    """The run's notes, and which measurements the time limit cut short."""
    cut = sorted(
        {
            f"{scenario} {target}"
            for scenario, per_target in report.results.items()
            for target, series in per_target.items()
            for summary in series
            if summary.get("deadline_hit")
        }
    )
    cut += [f"slow-1000 {t}" for t, summary in report.slow.items() if summary.get("deadline_hit")]
    found = list(report.notes)
    if cut:
        found.append(
            "the time limit cut these measurements short (fewer requests than "
            "planned): " + ", ".join(cut)
        )
    return found
