"""Publishing a run: bench/LATEST.md, its pictures and the table in the top-level README
(between the `bench:latest` markers of its Performance section).
"""

from __future__ import annotations

from pathlib import Path

PICTURES_NOTE = (
    "Pictures of this run: [requests](results/requests.png), [streams](results/streams.png), "
    "[soak](results/soak.png).\n"
)
README_START = "<!-- bench:latest:start (written by make bench) -->"
README_END = "<!-- bench:latest:end -->"


def update_readme(path: Path, table: str) -> bool:
    """Put the run's table between the markers in README.md (Performance); False if absent."""
    try:
        text = path.read_text()
    except OSError:
        return False
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    body = table.replace("](results/", "](bench/results/").replace(
        "### cot-proxy", "#### Latest run: cot-proxy", 1
    )
    path.write_text(text[: start + len(README_START)] + "\n\n" + body + "\n" + text[end:])
    return True
