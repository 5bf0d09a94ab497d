"""Publishing a run (`make bench-publish`, an explicit step: `make bench` writes only under
bench/results/): its markdown to bench/LATEST.md, its pictures to the committed names in
bench/results/, and its table into the documentation's Performance page (docs/performance.md),
between the `bench:latest` markers. The page shows the committed pictures through symlinks in
docs/assets/bench/.

Only an official run is published (a full run of every scenario, written to the default
place); `--force` publishes another.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from cotbench.paths import BENCH
from cotbench.paths import REPO
from cotbench.paths import RESULTS

PICTURES = ("requests", "streams", "soak")  # drawn beside a run as RUN-NAME.png (plots.py)
PICTURES_NOTE = (
    "Pictures of this run: [requests](results/requests.png), [streams](results/streams.png), "
    "[soak](results/soak.png).\n"
)
PAGE_START = "<!-- bench:latest:start (written by make bench-publish) -->"
PAGE_END = "<!-- bench:latest:end -->"


class NotPublishable(Exception):
    pass


def publish(run: Path, bench: Path, page: Path, force: bool = False) -> list[str]:
    """Publish the run whose markdown is `run` (its JSON and pictures beside it) into `bench`
    (LATEST.md, results/NAME.png) and the docs `page`; returns what was written."""
    if not force:
        data = _read_json(run.with_suffix(".json"))
        if not data.get("official"):
            raise NotPublishable(
                f"{run} is not an official run (a full `make bench` of every scenario, "
                "written to bench/results/latest.md); --force publishes it anyway"
            )
    text = run.read_text() + PICTURES_NOTE
    written = []
    for name in PICTURES:
        picture = run.parent / f"{run.stem}-{name}.png"
        if picture.exists():
            shutil.copyfile(picture, bench / "results" / f"{name}.png")
            written.append(str(bench / "results" / f"{name}.png"))
    (bench / "LATEST.md").write_text(text)
    written.append(str(bench / "LATEST.md"))
    if update_page(page, text):
        written.append(f"{page} (latest run)")
    return written


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise NotPublishable(f"cannot read the run's JSON report: {error}") from error
    return data if isinstance(data, dict) else {}


def update_page(path: Path, table: str) -> bool:
    """Put the run's table between the markers of docs/performance.md; False if absent."""
    try:
        text = path.read_text()
    except OSError:
        return False
    start, end = text.find(PAGE_START), text.find(PAGE_END)
    if start < 0 or end < start:
        return False
    body = table.replace("](results/", "](assets/bench/").replace(
        "### cot-proxy", "### Latest run: cot-proxy", 1
    )
    path.write_text(text[: start + len(PAGE_START)] + "\n\n" + body + "\n" + text[end:])
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="publish a benchmark run: bench/LATEST.md, its pictures, the docs' table"
    )
    parser.add_argument(
        "--run",
        type=Path,
        default=RESULTS / "latest.md",
        help="the run's markdown (default bench/results/latest.md); its JSON and pictures "
        "are beside it",
    )
    parser.add_argument("--force", action="store_true", help="publish a run that is not official")
    args = parser.parse_args(argv)
    try:
        written = publish(args.run, BENCH, REPO / "docs" / "performance.md", force=args.force)
    except (NotPublishable, OSError) as error:
        print(f"not published: {error}", file=sys.stderr)
        return 1
    print("written: " + ", ".join(written))
    return 0
