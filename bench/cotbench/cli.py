"""The command line of bench/run.py: the options, the plan they make, the phases in order, and
the report written at the end."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from plots import draw_or_explain
from upstream import raise_nofile

from cotbench import phases
from cotbench.lab import Lab
from cotbench.lab import Proc
from cotbench.lab import machine_header
from cotbench.paths import ADDON
from cotbench.paths import RESULTS
from cotbench.phases import AFTER_ROUNDS
from cotbench.phases import Plan
from cotbench.profiling import PROFILE_SECONDS
from cotbench.profiling import profile_scenario
from cotbench.report import Report
from cotbench.scenarios import BY_NAME
from cotbench.scenarios import NAMES
from cotbench.scenarios import RUNS
from cotbench.scenarios import Mode
from cotbench.tables import markdown

# What a full run profiles unless told otherwise: the request shapes whose targets are hardest.
FULL_PROFILES = ("long-context", "small-32")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="cot-proxy benchmark (see bench/README.md)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller counts, 3 rounds (~1-2 min)")
    size.add_argument(
        "--smoke",
        action="store_true",
        help="tiny: 1 round, direct + project, no 1000-stream or WORKERS scenario",
    )
    parser.add_argument("--rounds", type=int, help="rounds of the interleaved scenarios")
    parser.add_argument("--only", help=f"comma-separated scenarios, of: {', '.join(NAMES)}")
    parser.add_argument("--no-workers", action="store_true", help="skip the WORKERS=2 target")
    parser.add_argument(
        "--no-loops",
        action="store_true",
        help="skip the event-loop comparison (floor and project on uvloop)",
    )
    parser.add_argument("--soak", action="store_true", help="the soak only")
    parser.add_argument("--no-soak", action="store_true", help="everything but the soak")
    parser.add_argument(
        "--soak-expect",
        choices=("strip", "keep"),
        default="strip",
        help="what the soak expects of the project: strip (right), or keep, a self-test of the "
        "checker (the think blocks are gone, so every such answer must count as wrong)",
    )
    parser.add_argument(
        "--profile",
        default=None,
        help="comma-separated load scenarios to run once more against the floor and the "
        "project under py-spy (needs py-spy in the venv); summaries go to the report. A full "
        f"run profiles {','.join(FULL_PROFILES)} unless given another list ('' for none)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds the whole run may take (rounds are dropped to stay inside it)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="markdown output (default bench/results/latest.md, which `make bench-publish` "
        "copies to bench/LATEST.md and docs/performance.md after a full run)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="does nothing: the run installs nothing (`make bench` installs bench/requirements.txt)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 3 when any answer was wrong or failed"
    )
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan | str:
    """The run the options ask for, or why there is none."""
    mode: Mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    scenarios = NAMES if not args.only else [s.strip() for s in args.only.split(",")]
    if args.soak:
        scenarios = ["soak"]
    if args.no_soak:
        scenarios = [s for s in scenarios if s != "soak"]
    unknown = set(scenarios) - set(NAMES)
    if unknown:
        return f"unknown scenario(s): {', '.join(sorted(unknown))}"
    return Plan(
        mode=mode,
        scenarios=[s for s in scenarios if BY_NAME[s].runs_in(mode)],
        rounds=args.rounds or RUNS[mode].rounds,
        budget=args.budget or RUNS[mode].budget,
        targets=["direct", "project"] if mode == "smoke" else ["direct", "floor", "project"],
        workers=not args.no_workers,
        loops=not args.no_loops,
    )


def main(argv: list[str] | None = None) -> int:
    if str(ADDON) not in sys.path:  # the micro-benchmarks import the project
        sys.path.insert(0, str(ADDON))
    args = parse_args(argv)
    plan = make_plan(args)
    if isinstance(plan, str):
        print(plan, file=sys.stderr)
        return 2
    nofile = raise_nofile()  # inherited by the upstream and mitmdump processes
    started_at = time.monotonic()

    RESULTS.mkdir(parents=True, exist_ok=True)
    out_md: Path = args.out or (RESULTS / ("smoke.md" if plan.mode == "smoke" else "latest.md"))
    out_dir = out_md.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="cot-bench-home-"))

    report = Report(plan.mode, plan.targets)
    report.official = plan.mode == "full" and args.out is None and not args.only and not args.soak
    if nofile < 4096 and ("slow-1000" in plan.scenarios or "sweep" in plan.scenarios):
        report.notes.append(
            f"open-file limit is only {nofile}: 1,000 streams may fail for lack of fds"
        )

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # the Lab's `with` stops every process

    signal.signal(signal.SIGTERM, on_signal)
    header = machine_header()
    try:
        with Lab(logs, home) as lab:
            profiles = run(lab, report, plan, args, out_dir, started_at + plan.budget)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    header["run time"] = f"{time.monotonic() - started_at:.0f} s"
    write_report(report, header, profiles, args, out_md)
    if args.strict and report.any_wrong():
        return 3
    return 0


def run(
    lab: Lab, report: Report, plan: Plan, args: argparse.Namespace, out_dir: Path, hard_stop: float
) -> list[str]:
    """Every phase in order; returns the profiles' summaries (markdown)."""
    procs = phases.start_targets(lab, report, plan)
    phases.warm_up(procs)
    after = [s for s in AFTER_ROUNDS if s in plan.scenarios]
    if args.profile is None:
        names = list(FULL_PROFILES) if plan.mode == "full" else []
    else:
        names = [n.strip() for n in args.profile.split(",") if n.strip()]
    # The profiles' time is reserved with the later phases', so that the rounds give way, not
    # the slow streams or the soak.
    profiling = len(names) * 2 * (PROFILE_SECONDS + 4)
    reserve = phases.phase_seconds(after, plan.mode, len(plan.targets)) + profiling
    phases.run_rounds(report, procs, plan, hard_stop, reserve)
    if "sweep" in plan.scenarios:
        rest = phases.phase_seconds(
            [s for s in after if s != "sweep"], plan.mode, len(plan.targets)
        )
        phases.run_sweep(report, procs, plan, hard_stop - rest - profiling)
    for name in ("floor", "project", "project-w2"):
        proc = procs.get(name)
        if proc is not None:
            report.rss[name] = proc.peak_rss_mb()
    profiles = run_profiles(report, procs, plan, names, out_dir)

    # The rest runs against fresh processes, the others stopped.
    for name in list(procs):
        if name != "direct":
            procs.pop(name).stop()
    if "slow-1000" in plan.scenarios:
        soak_s = phases.phase_seconds(["soak"], plan.mode, 1) if "soak" in plan.scenarios else 0
        phases.run_slow(report, lab, plan, hard_stop - soak_s)
    if "soak" in plan.scenarios:
        phases.run_soak_phase(report, lab, plan, hard_stop, stripped=args.soak_expect == "strip")
    return profiles


def run_profiles(
    report: Report, procs: dict[str, Proc], plan: Plan, names: list[str], out_dir: Path
) -> list[str]:
    profiles = []
    for name in names:
        scenario = BY_NAME.get(name)
        if scenario is None or not scenario.is_load:
            report.notes.append(f"--profile {name}: not a load scenario")
            continue
        print(f"profiling {name} ...", flush=True)
        profiles.append(profile_scenario(procs, scenario, plan.mode, out_dir))
    return profiles


def write_report(
    report: Report,
    header: dict[str, str],
    profiles: list[str],
    args: argparse.Namespace,
    out_md: Path,
) -> None:
    """The markdown and the JSON, and the pictures of any run but a smoke run."""
    text = markdown(report, header)
    if profiles:
        text += "\n" + "\n".join(profiles)
    data = report.to_json(header)
    json_path = args.json or out_md.with_suffix(".json")
    json_path.write_text(json.dumps(data, indent=1))
    written = [str(out_md), str(json_path)]
    if report.mode != "smoke":
        # Beside the report (bench/results/latest-*.png); `make bench-publish` copies an
        # official run's to the committed names.
        note = draw_or_explain(data, out_md.parent, out_md.stem + "-")
        text += "\n"
        print(note, flush=True)
    print()
    print(text)
    out_md.write_text(text)
    print("written: " + ", ".join(written))
    if report.official:
        print(
            "an official run: `make bench-publish` copies it to bench/LATEST.md and docs/performance.md"
        )
