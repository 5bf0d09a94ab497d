"""`make bench-publish` (bench/cotbench/publish.py): a saved run becomes bench/LATEST.md, its
pictures under their committed names, and the table between the README's markers. Everything
happens in a temporary copy: the real README and bench/ are never written.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
TABLE = (
    "### cot-proxy benchmark (full, 3 rounds, medians)\n\n"
    "date: 2026-12-07 12:00 UTC · commit: abc1234\n\n"
    "| scenario | metric | direct | floor | project | project/floor |\n"
    "|---|---|---:|---:|---:|---:|\n"
    "| small-32 | req/s | 5,979 | 285 | 386 | 1.36× |\n\n"
    "Ratios are medians of per-round ratios.\n\n"
)


@pytest.fixture
def publish(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    return importlib.import_module("cotbench.publish")


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(the saved run's markdown, a bench/ directory, a copy of the README)."""
    bench = tmp_path / "bench"
    (bench / "results").mkdir(parents=True)
    run = bench / "results" / "latest.md"
    run.write_text(TABLE)
    run.with_suffix(".json").write_text(json.dumps({"mode": "full", "official": True}))
    (bench / "results" / "latest-requests.png").write_bytes(b"requests picture")
    (bench / "results" / "latest-streams.png").write_bytes(b"streams picture")
    readme = tmp_path / "README.md"
    shutil.copyfile(REPO / "README.md", readme)
    return run, bench, readme


def test_publish_writes_latest_pictures_and_the_readme_table(
    publish: ModuleType, lab: tuple[Path, Path, Path]
) -> None:
    run, bench, readme = lab
    real_readme = (REPO / "README.md").read_text()

    written = publish.publish(run, bench, readme)

    latest = (bench / "LATEST.md").read_text()
    assert latest == TABLE + publish.PICTURES_NOTE
    assert (bench / "results" / "requests.png").read_bytes() == b"requests picture"
    assert (bench / "results" / "streams.png").read_bytes() == b"streams picture"
    assert not (bench / "results" / "soak.png").exists()  # none drawn: none copied

    text = readme.read_text()
    start = text.index(publish.README_START) + len(publish.README_START)
    end = text.index(publish.README_END)
    block = text[start:end]
    assert block.startswith("\n\n#### Latest run: cot-proxy benchmark (full, 3 rounds, medians)")
    assert "| small-32 | req/s | 5,979 | 285 | 386 | 1.36× |" in block
    assert "[requests](bench/results/requests.png)" in block
    assert "](results/" not in block
    # Everything outside the markers is as it was.
    assert text[:start] == real_readme[: real_readme.index(publish.README_START)] + (
        publish.README_START
    )
    assert text[end:] == real_readme[real_readme.index(publish.README_END) :]
    assert len(written) == 4 and str(readme) in written[-1]
    assert (REPO / "README.md").read_text() == real_readme


def test_publish_refuses_a_run_that_is_not_official(
    publish: ModuleType, lab: tuple[Path, Path, Path]
) -> None:
    run, bench, readme = lab
    run.with_suffix(".json").write_text(json.dumps({"mode": "quick", "official": False}))
    before = readme.read_text()

    with pytest.raises(publish.NotPublishable):
        publish.publish(run, bench, readme)
    assert not (bench / "LATEST.md").exists() and readme.read_text() == before

    publish.publish(run, bench, readme, force=True)
    assert (bench / "LATEST.md").read_text() == TABLE + publish.PICTURES_NOTE
