"""Where the CPU goes (`--profile`): a scenario against the floor and the project under
`py-spy record`, the samples bucketed by module and by function, per request or upstream event.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from load import measure

from cotbench.lab import Proc
from cotbench.paths import HOST
from cotbench.paths import VENV_BIN
from cotbench.scenarios import MEASURE_DEADLINE
from cotbench.scenarios import Mode
from cotbench.scenarios import Scenario
from cotbench.scenarios import load_spec

PROFILE_SECONDS = 8.0  # per target: the scenario is repeated for about this long
PROFILE_RATE = 500  # samples per second


def profile_scenario(procs: dict[str, Proc], scenario: Scenario, mode: Mode, out_dir: Path) -> str:
    """Run one scenario against the floor and the project under `py-spy record` and compare the
    CPU each spends per request (or per upstream event), by where the time goes."""
    py_spy = VENV_BIN / "py-spy"
    if not py_spy.exists():
        return (
            f"profile {scenario.name}: py-spy is not installed "
            f"({VENV_BIN / 'pip'} install py-spy: a measuring tool, not a project dependency)"
        )
    profiles: dict[str, Profile] = {}
    for name in ("floor", "project"):
        proc = procs.get(name)
        if proc is None:
            continue
        raw = out_dir / f"profile-{scenario.name}-{name}.txt"
        recorder = subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(proc.pid),
                "--rate",
                str(PROFILE_RATE),
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        time.sleep(1.0)
        units = 0
        started = time.monotonic()
        while time.monotonic() - started < PROFILE_SECONDS:
            spec = load_spec(scenario, mode, name == "project", MEASURE_DEADLINE)
            result = measure(HOST, proc.port, spec)
            per_request = scenario.per_request
            units += result.upstream_events if spec.stream and not per_request else result.ok
        time.sleep(0.3)
        recorder.send_signal(signal.SIGINT)
        try:
            _, err = recorder.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(recorder.pid, signal.SIGKILL)
            _, err = recorder.communicate()
        if not raw.exists():
            return f"profile {scenario.name}: py-spy wrote nothing: {err.decode(errors='replace')[-500:]}"
        profiles[name] = Profile(raw.read_text(errors="replace"), units)
    unit = "request" if scenario.per_request else "upstream event"
    summary = compare_profiles(profiles, unit)
    (out_dir / f"profile-{scenario.name}.md").write_text(
        f"# py-spy profile: {scenario.name}\n\n{summary}"
    )
    return f"#### profile: {scenario.name}\n\n{summary}"


def _frame_file(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"
    if frame.endswith(")") and " (" in frame:
        location = frame.rsplit(" (", 1)[1][:-1]
        return location.rsplit(":", 1)[0]
    return frame


def _frame_func(frame: str) -> str:
    name = frame.rsplit(" (", 1)[0] if " (" in frame else frame
    return f"{name} ({_frame_file(frame).rsplit('/', 1)[-1]})"


def _bucket(path: str) -> str:
    if "cot_proxy/" in path:
        return "cot_proxy/" + path.rsplit("cot_proxy/", 1)[1]
    if "mitmproxy/" in path:
        part = path.rsplit("mitmproxy/", 1)[1]
        if part.startswith("proxy/layers/http"):
            return "mitmproxy/proxy/layers/http"
        if part.startswith("addons/"):
            return "mitmproxy/" + part
        return "mitmproxy/" + part.split("/", 1)[0] + ("/" if "/" in part else "")
    for lib in ("asyncio", "logging", "json", "h11", "h2"):
        if f"/{lib}/" in path:
            return lib
    return "other: " + path.rsplit("/", 1)[-1]


class Profile:
    """py-spy raw (collapsed) stacks, boiled down to sample counts by place."""

    def __init__(self, text: str, units: int) -> None:
        self.units = units
        self.total = 0
        self.self_bucket: dict[str, int] = {}
        self.self_func: dict[str, int] = {}
        self.incl_bucket: dict[str, int] = {}
        self.incl_ours: dict[str, int] = {}  # cot_proxy functions, inclusive
        self.hook_dispatch = 0  # samples under mitmproxy's AddonManager (hook dispatch)
        self.ours = 0  # samples with a cot_proxy frame anywhere: the proxy's own share
        for line in text.splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = stack.split(";")
            self.total += count
            leaf = frames[-1]
            _add(self.self_bucket, _bucket(_frame_file(leaf)), count)
            _add(self.self_func, _frame_func(leaf), count)
            for bucket in {_bucket(_frame_file(f)) for f in frames}:
                _add(self.incl_bucket, bucket, count)
            for func in {_frame_func(f) for f in frames if "cot_proxy/" in f}:
                _add(self.incl_ours, func, count)
            if any("addonmanager.py" in f for f in frames):
                self.hook_dispatch += count
            if any("cot_proxy/" in f for f in frames):
                self.ours += count

    def per_unit(self, samples: int) -> float:
        """Microseconds of CPU per unit of work."""
        return samples / PROFILE_RATE / self.units * 1e6 if self.units else 0.0


def _add(table: dict[str, int], key: str, count: int) -> None:
    table[key] = table.get(key, 0) + count


def compare_profiles(profiles: dict[str, Profile], unit: str) -> str:
    project = profiles.get("project")
    floor = profiles.get("floor")
    if project is None or not project.total or not project.units:
        return "no samples\n"
    names = [n for n in ("floor", "project") if n in profiles]
    out = [
        f"py-spy, {PROFILE_RATE} Hz, on-CPU samples of the proxy process while the scenario "
        f"ran for ~{PROFILE_SECONDS:.0f} s per target; µs of CPU per {unit}.",
        "",
    ]
    for name in names:
        prof = profiles[name]
        out.append(
            f"- {name}: {prof.units} {unit}s, {prof.total} samples, "
            f"**{prof.per_unit(prof.total):.1f} µs per {unit}**; hook dispatch "
            f"(stacks through mitmproxy/addonmanager.py) {prof.per_unit(prof.hook_dispatch):.1f} µs"
        )
    ours = project.per_unit(project.ours)
    out.append(
        f"- project's own share (stacks through cot_proxy/): {ours:.1f} µs per {unit} "
        f"({project.ours / project.total:.0%}); mitmproxy, asyncio and the rest: "
        f"{project.per_unit(project.total - project.ours):.1f} µs"
    )
    if floor is not None and floor.units:
        extra = project.per_unit(project.total) - floor.per_unit(floor.total)
        out.append(
            f"- project − floor: {extra:+.1f} µs per {unit} "
            f"({project.per_unit(project.total) / max(floor.per_unit(floor.total), 1e-9):.2f}×)"
        )

    def table(
        title: str, proj: dict[str, int], flo: dict[str, int] | None, rows: int, by_diff: bool
    ) -> None:
        cols = names if flo is not None else ["project"]
        out.extend(
            [
                "",
                f"| {title} | "
                + " | ".join(f"{n} µs" for n in cols)
                + (" | project − floor |" if flo is not None else " |"),
                "|---|" + "---:|" * (len(cols) + (1 if flo is not None else 0)),
            ]
        )
        keys = set(proj) | (set(flo) if flo is not None else set())

        def diff(key: str) -> float:
            base = floor.per_unit(flo.get(key, 0)) if flo is not None and floor else 0.0
            return project.per_unit(proj.get(key, 0)) - base

        ordered = sorted(keys, key=(lambda k: -diff(k)) if by_diff else (lambda k: -proj.get(k, 0)))
        for key in ordered[:rows]:
            cells = []
            if floor is not None and flo is not None:
                cells.append(f"{floor.per_unit(flo.get(key, 0)):.1f}")
            cells.append(f"{project.per_unit(proj.get(key, 0)):.1f}")
            if flo is not None:
                cells.append(f"{diff(key):+.1f}")
            out.append(f"| {key} | " + " | ".join(cells) + " |")

    flo_self = floor.self_bucket if floor else None
    table("self time by module", project.self_bucket, flo_self, 14, True)
    table(
        "inclusive time by module (any frame)",
        project.incl_bucket,
        floor.incl_bucket if floor else None,
        14,
        True,
    )
    table("project: cot_proxy functions, inclusive", project.incl_ours, None, 14, False)
    table("self time by function", project.self_func, floor.self_func if floor else None, 16, True)
    return "\n".join(out) + "\n"
