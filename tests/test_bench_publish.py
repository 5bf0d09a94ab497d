"""`make bench-publish` (bench/cotbench/publish.py): a saved run becomes bench/LATEST.md, its
pictures under their committed names, and the table between the markers of the docs' Performance
page. Everything happens in a temporary copy: the real page and bench/ are never written.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "performance.md"
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
    """(the saved run's markdown, a bench/ directory, a copy of docs/performance.md)."""
    bench = tmp_path / "bench"
    (bench / "results").mkdir(parents=True)
    run = bench / "results" / "latest.md"
    run.write_text(TABLE)
    run.with_suffix(".json").write_text(json.dumps({"mode": "full", "official": True}))
    (bench / "results" / "latest-requests.png").write_bytes(b"requests picture")
    (bench / "results" / "latest-streams.png").write_bytes(b"streams picture")
    page = tmp_path / "performance.md"
    shutil.copyfile(PAGE, page)
    return run, bench, page


def test_publish_writes_latest_pictures_and_the_docs_table(
    publish: ModuleType, lab: tuple[Path, Path, Path]
) -> None:
    run, bench, page = lab
    real_page = PAGE.read_text()

    written = publish.publish(run, bench, page)

    latest = (bench / "LATEST.md").read_text()
    assert latest == TABLE + publish.PICTURES_NOTE
    assert (bench / "results" / "requests.png").read_bytes() == b"requests picture"
    assert (bench / "results" / "streams.png").read_bytes() == b"streams picture"
    assert not (bench / "results" / "soak.png").exists()  # none drawn: none copied

    text = page.read_text()
    start = text.index(publish.PAGE_START) + len(publish.PAGE_START)
    end = text.index(publish.PAGE_END)
    block = text[start:end]
    assert block.startswith("\n\n### Latest run: cot-proxy benchmark (full, 3 rounds, medians)")
    assert "| small-32 | req/s | 5,979 | 285 | 386 | 1.36× |" in block
    assert "[requests](assets/bench/requests.png)" in block
    assert "](results/" not in block
    # Everything outside the markers is as it was.
    assert text[:start] == real_page[: real_page.index(publish.PAGE_START)] + (publish.PAGE_START)
    assert text[end:] == real_page[real_page.index(publish.PAGE_END) :]
    assert len(written) == 4 and str(page) in written[-1]
    assert PAGE.read_text() == real_page


def test_publish_refuses_a_run_that_is_not_official(
    publish: ModuleType, lab: tuple[Path, Path, Path]
) -> None:
    run, bench, page = lab
    run.with_suffix(".json").write_text(json.dumps({"mode": "quick", "official": False}))
    before = page.read_text()

    with pytest.raises(publish.NotPublishable):
        publish.publish(run, bench, page)
    assert not (bench / "LATEST.md").exists() and page.read_text() == before

    publish.publish(run, bench, page, force=True)
    assert (bench / "LATEST.md").read_text() == TABLE + publish.PICTURES_NOTE
