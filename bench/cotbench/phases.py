"""The phases of a run, each filling the report: the targets started, the warm-up, the
interleaved rounds (load scenarios and micro-benchmarks), then the sweep, the slow streams and
the soak, which run once.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from load import Result
from load import Spec
from load import measure
from load import percentile
from soak import soak as run_soak
from upstream import uvloop_module

from cotbench.lab import Lab
from cotbench.lab import Proc
from cotbench.lab import client_cpu_seconds
from cotbench.lab import machine_busy
from cotbench.lab import machine_ticks
from cotbench.lab import workers_supported
from cotbench.micro import json_codec_round
from cotbench.micro import think_filter_round
from cotbench.paths import HOST
from cotbench.report import Report
from cotbench.scenarios import LOAD_SCENARIOS
from cotbench.scenarios import LONG_MODEL
from cotbench.scenarios import MEASURE_DEADLINE
from cotbench.scenarios import Events
from cotbench.scenarios import Load
from cotbench.scenarios import Mode
from cotbench.scenarios import Repeat
from cotbench.scenarios import Soak
from cotbench.scenarios import Sweep
from cotbench.scenarios import load_spec
from cotbench.scenarios import scenario

AFTER_ROUNDS = ("sweep", "slow-1000", "soak")  # run once, after the rounds, in this order


@dataclasses.dataclass
class Plan:
    """What a run measures: the mode's sizes, the scenarios, against which targets."""

    mode: Mode
    scenarios: list[str]
    rounds: int
    budget: float
    targets: list[str]
    workers: bool = True  # also start project-w2, for the scenarios measured with WORKERS=2
    loops: bool = True  # also start floor-uvloop and project-uvloop

    def load_scenarios(self) -> list[str]:
        return [s.name for s in LOAD_SCENARIOS if s.name in self.scenarios]


def start_targets(lab: Lab, report: Report, plan: Plan) -> dict[str, Proc]:
    """The upstream (the `direct` target) and the proxies, by target name."""
    load = {s.name: s for s in LOAD_SCENARIOS if s.name in plan.scenarios}
    procs: dict[str, Proc] = {"direct": lab.start_upstream()}
    if "floor" in plan.targets:
        procs["floor"] = lab.start_floor()
    procs["project"] = lab.start_project()
    if plan.mode != "smoke" and plan.workers and any(s.workers for s in load.values()):
        if workers_supported():
            procs["project-w2"] = lab.start_project("project-w2", workers=2)
        else:
            report.workers_note = "skipped: WORKERS not supported"
    if plan.mode != "smoke" and plan.loops and any(s.loops for s in load.values()):
        if uvloop_module() is not None:
            procs["floor-uvloop"] = lab.start_floor("floor-uvloop", event_loop="uvloop")
            procs["project-uvloop"] = lab.start_project("project-uvloop", event_loop="uvloop")
        else:
            report.loop_note = "skipped: uvloop is not installed"
    print(
        f"upstream :{procs['direct'].port} ({lab.upstream_loop}), "
        + ", ".join(f"{n} :{p.port}" for n, p in procs.items() if n != "direct"),
        flush=True,
    )
    return procs


def warm_up(procs: dict[str, Proc]) -> None:
    """Untimed: imports, first connections, caches."""
    for name, proc in procs.items():
        for warm in (
            Spec(stream=False, connections=4, requests_per_conn=10, tokens=16, think_tokens=8),
            Spec(stream=True, connections=4, requests_per_conn=2, tokens=20, think_tokens=5),
        ):
            warm.stripped = name.startswith("project")
            warm.deadline = 30
            measure(HOST, proc.port, warm)


def measure_target(
    procs: dict[str, Proc], name: str, spec: Spec, per_request: bool = False
) -> tuple[Result, dict[str, Any]]:
    """One measurement against one target, with the CPU it cost (per request or upstream event)."""
    proc = procs[name]
    cpu_before = proc.cpu_seconds()
    machine_before = machine_ticks()
    client_before = client_cpu_seconds()
    result = measure(HOST, proc.port, spec)
    summary = result.summary()
    summary["client_cpu_s"] = client_cpu_seconds() - client_before
    summary["machine_busy"] = machine_busy(machine_before, machine_ticks())
    # CPU of the proxy (of the upstream, for direct) per request or upstream event:
    # steadier than throughput on a noisy machine.
    units = result.upstream_events if spec.stream and not per_request else result.ok
    cpu = proc.cpu_seconds() - cpu_before
    summary["cpu_s"] = cpu
    summary["cpu_us_per_unit"] = cpu / units * 1e6 if units else None
    return result, summary


def print_result(label: str, result: Result) -> None:
    bad = result.errors + result.inexact
    print(
        f"{label} req/s {result.req_per_s:9.1f}  events/s {result.events_per_s:9.0f}  "
        f"ttfa p50 {_ms(percentile(result.ttfa, 50))}  "
        f"lat p50 {_ms(percentile(result.latencies, 50))}"
        + (
            f"  ERRORS {result.errors} inexact {result.inexact}: {result.error_samples[:2]}"
            if bad
            else ""
        ),
        flush=True,
    )


def _ms(value: float | None) -> str:
    return "     –   " if value is None else f"{value * 1000:7.1f}ms"


def run_rounds(
    report: Report, procs: dict[str, Proc], plan: Plan, hard_stop: float, reserve: float
) -> None:
    """The interleaved rounds: every load scenario against every target, back to back, the
    order rotated each round; whole rounds are dropped to stay inside the budget."""
    load = plan.load_scenarios()
    in_process = {"think-filter", "json-codec"} & set(plan.scenarios)
    round_times: list[float] = []
    for round_no in range(plan.rounds if load or in_process else 0):
        round_start = time.monotonic()
        if round_times and round_start + max(round_times) + reserve > hard_stop:
            report.notes.append(
                f"stopped after {round_no} of {plan.rounds} rounds to stay within "
                f"the {plan.budget:.0f} s budget"
            )
            break
        for name in load:
            row = scenario(name)
            names = list(plan.targets)
            if row.workers and "project-w2" in procs:
                names.append("project-w2")
            if row.loops and "project-uvloop" in procs:
                names += ["floor-uvloop", "project-uvloop"]
            shift = round_no % len(names)
            for target in names[shift:] + names[:shift]:
                deadline = min(MEASURE_DEADLINE, max(5.0, hard_stop - time.monotonic()))
                spec = load_spec(row, plan.mode, target.startswith("project"), deadline)
                result, summary = measure_target(procs, target, spec, row.per_request)
                report.add(name, target, round_no, summary)
                print_result(f"round {round_no + 1} {name:<16} {target:<15}", result)
        run_micro(report, plan, round_no)
        report.rounds_done = round_no + 1
        round_times.append(time.monotonic() - round_start)


def run_micro(report: Report, plan: Plan, round_no: int) -> None:
    """The in-process micro-benchmarks of one round."""
    if "think-filter" in plan.scenarios:
        events = scenario("think-filter").sized(plan.mode, Events).events
        figures = think_filter_round(events)
        report.filter_rounds.append(figures)
        print(
            f"round {round_no + 1} think-filter pass {figures['pass_events_per_s']:,.0f}/s "
            f"in-think {figures['think_events_per_s']:,.0f}/s "
            f"batched {figures['batched_events_per_s']:,.0f}/s "
            f"json.loads {figures['json_loads_per_s']:,.0f}/s",
            flush=True,
        )
    if "json-codec" in plan.scenarios:
        codec = json_codec_round(scenario("json-codec").sized(plan.mode, Repeat).repeat)
        report.codec_rounds.append(codec)
        print(
            f"round {round_no + 1} json-codec 200 KB body: json {codec['long_json_us']:,.0f} µs, "
            f"jsonbytes {codec['long_ours_us']:,.0f} µs (orjson: {codec['orjson']})",
            flush=True,
        )


def run_sweep(report: Report, procs: dict[str, Proc], plan: Plan, stop_at: float) -> None:
    """Concurrent paced streams, from one to many: where TTFA and events/s give way."""
    params = scenario("sweep").sized(plan.mode, Sweep)
    targets = plan.targets
    for round_no in range(params.rounds):
        for level in params.levels:
            if time.monotonic() > stop_at:
                report.notes.append(f"sweep: stopped at {level} streams, out of time budget")
                return
            shift = round_no % len(targets)
            for name in targets[shift:] + targets[:shift]:
                spec = Spec(
                    stream=True,
                    connections=level,
                    requests_per_conn=1,
                    tokens=params.tokens,
                    think_tokens=params.think_tokens,
                    delay=params.delay,
                    stripped=name.startswith("project"),
                    deadline=MEASURE_DEADLINE,
                )
                result, summary = measure_target(procs, name, spec)
                report.sweep.setdefault(name, {}).setdefault(str(level), []).append(summary)
                print_result(f"sweep {level:>5} streams {name:<10}", result)


def run_slow(report: Report, lab: Lab, plan: Plan, stop_at: float) -> None:
    """1,000 slow streams against fresh processes, so that the peak RSS is this scenario's own."""
    row = scenario("slow-1000")
    size = row.sized(plan.mode, Load)
    for name in plan.targets:
        if time.monotonic() > stop_at:
            report.notes.append(f"slow-1000 {name}: skipped, out of time budget")
            continue
        proc = None
        if name == "floor":
            proc = lab.start_floor("floor-slow")
        elif name == "project":
            proc = lab.start_project("project-slow")
        assert lab.upstream is not None
        port = proc.port if proc else lab.upstream.port
        spec = load_spec(row, plan.mode, name == "project", MEASURE_DEADLINE)
        result = measure(HOST, port, spec)
        summary = result.summary()
        if proc is not None:
            summary["peak_rss_mb"] = proc.peak_rss_mb()
            proc.stop()
        report.slow[name] = summary
        print(
            f"slow-1000 {name:<8} ok {result.ok}/{result.requests} errors {result.errors} "
            f"inexact {result.inexact} peak RSS {summary.get('peak_rss_mb') or 0:.1f} MB "
            f"({size.connections} streams, {size.delay} s/token)"
            + (f" {result.error_samples[:2]}" if result.errors + result.inexact else ""),
            flush=True,
        )


def run_soak_phase(
    report: Report, lab: Lab, plan: Plan, stop_at: float, stripped: bool = True
) -> None:
    """The soak against a fresh project process (its RSS from the start)."""
    params = scenario("soak").sized(plan.mode, Soak)
    deadline = min(params.deadline, max(10.0, stop_at - time.monotonic()))
    proc = lab.start_project("project-soak")
    try:
        print(f"soak: {params.total:,} mixed requests, at most {deadline:.0f} s ...", flush=True)
        result = run_soak(
            HOST,
            proc.port,
            proc.mitmdump_pids() or [proc.pid],
            params.total,
            params.connections,
            deadline,
            stripped=stripped,
            long_model=LONG_MODEL,
        )
    finally:
        proc.stop()
    report.soak = result.summary()
    growth = result.growth_mb()
    print(
        f"soak: {result.result.ok}/{result.total} ok, {result.result.errors} errors, "
        f"{result.result.inexact} inexact, {result.result.req_per_s:.0f} req/s, RSS growth "
        f"{'–' if growth is None else f'{growth:+.1f}'} MB, peak {result.peak_mb() or 0:.1f} MB"
        + (f" {result.result.error_samples[:2]}" if not result.exact() else ""),
        flush=True,
    )


def phase_seconds(scenarios: list[str], mode: Mode, n_targets: int) -> float:
    """About how long the phases after the rounds take (reserved out of the budget)."""
    total = 5.0
    if "sweep" in scenarios:
        p = scenario("sweep").sized(mode, Sweep)
        stream_s = (p.tokens + p.think_tokens + 4) * p.delay + 3
        total += p.rounds * len(p.levels) * n_targets * stream_s
    slow = scenario("slow-1000")
    if "slow-1000" in scenarios and slow.runs_in(mode):
        s = slow.sized(mode, Load)
        total += n_targets * ((s.tokens + s.think_tokens + 4) * s.delay + 12)
    if "soak" in scenarios:
        total += scenario("soak").sized(mode, Soak).deadline + 10
    return total
