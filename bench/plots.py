"""The pictures of a benchmark run (matplotlib, PNG), drawn from its JSON report.

    python bench/plots.py bench/results/latest.json [OUT_DIR [PREFIX]]

- requests.png: req/s and CPU µs per request by scenario, for direct, floor and project;
- streams.png: TTFA p50/p99 and events/s against the number of concurrent streams (the sweep);
- soak.png: the proxy's RSS over the soak, warm-up marked.

matplotlib is a benchmark extra (bench/requirements.txt): without it no picture is drawn and
the run says so.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from cotbench.scenarios import SCENARIOS

TARGETS = ("direct", "floor", "project")
COLOURS = {"direct": "#9e9e9e", "floor": "#4e79a7", "project": "#e15759"}
REQUEST_SCENARIOS = tuple(s.name for s in SCENARIOS if s.per_request)


def _median(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _series(report: dict[str, Any], scenario: str, target: str, key: str) -> float | None:
    rounds = report.get("results", {}).get(scenario, {}).get(target, [])
    return _median([r.get(key) for r in rounds if r])


def draw(report: dict[str, Any], out_dir: Path, prefix: str = "") -> list[Path]:
    """Draw what the report has data for; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    title = f"cot-proxy bench ({report.get('mode')}, {report.get('header', {}).get('date', '')})"
    written = []

    scenarios = [s for s in REQUEST_SCENARIOS if s in report.get("results", {})]
    if scenarios:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
        width = 0.27
        for panel, (key, label, log) in enumerate(
            (
                ("req_per_s", "requests/s (log)", True),
                ("cpu_us_per_unit", "CPU µs / request", False),
            )
        ):
            ax = axes[panel]
            for i, target in enumerate(TARGETS):
                values = [_series(report, s, target, key) or 0 for s in scenarios]
                xs = [x + (i - 1) * width for x in range(len(scenarios))]
                ax.bar(xs, values, width, label=target, color=COLOURS[target])
            ax.set_xticks(range(len(scenarios)), scenarios, rotation=15)
            ax.set_ylabel(label)
            if log:
                ax.set_yscale("log")
            ax.grid(axis="y", alpha=0.3)
        axes[0].legend()
        fig.suptitle(title + ": requests")
        fig.tight_layout()
        written.append(_save(fig, out_dir, prefix + "requests"))
        plt.close(fig)

    sweep = report.get("sweep") or {}
    if sweep:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
        for target in TARGETS:
            points = sorted(
                (int(level), data) for level, data in sweep.get(target, {}).items() if data
            )
            if not points:
                continue
            xs = [p[0] for p in points]
            for key, style in (("ttfa_p50", "-"), ("ttfa_p99", ":")):
                ys = [(_median([r.get(key) for r in p[1]]) or 0) * 1000 for p in points]
                axes[0].plot(
                    xs, ys, style, marker="o", color=COLOURS[target], label=f"{target} {key[5:]}"
                )
            ys = [_median([r.get("events_per_s") for r in p[1]]) or 0 for p in points]
            axes[1].plot(xs, ys, "-", marker="o", color=COLOURS[target], label=target)
        for ax, label in ((axes[0], "TTFA ms (log)"), (axes[1], "events/s")):
            ax.set_xscale("log")
            if ax is axes[0]:
                ax.set_yscale("log")
            ax.set_xlabel("concurrent streams (20 ms/token)")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(title + ": streams")
        fig.tight_layout()
        written.append(_save(fig, out_dir, prefix + "streams"))
        plt.close(fig)

    soak = report.get("soak") or {}
    samples = soak.get("samples") or []
    if samples:
        fig, ax = plt.subplots(figsize=(9, 3.8))
        ax.plot([s[1] for s in samples], [s[2] for s in samples], color=COLOURS["project"])
        ax.axvline(soak.get("warmup_answers", 0), color="#888", linestyle="--", label="warm-up end")
        ax.set_xlabel("answers")
        ax.set_ylabel("RSS MB (project)")
        growth = soak.get("growth_mb")
        ax.set_title(
            title
            + f": soak, growth after warm-up "
            + ("–" if growth is None else f"{growth:+.1f} MB")
        )
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        written.append(_save(fig, out_dir, prefix + "soak"))
        plt.close(fig)
    return written


def _save(fig: Any, out_dir: Path, name: str) -> Path:
    path = out_dir / f"{name}.png"
    fig.savefig(path, dpi=90)
    return path


def draw_or_explain(report: dict[str, Any], out_dir: Path, prefix: str = "") -> str:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "no pictures: matplotlib is not installed (pip install -r bench/requirements.txt)"
    files = draw(report, out_dir, prefix)
    return "pictures: " + ", ".join(str(f) for f in files) if files else "no pictures (no data)"


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(sys.argv[1]).parent
    print(draw_or_explain(data, out, sys.argv[3] if len(sys.argv) > 3 else ""))
