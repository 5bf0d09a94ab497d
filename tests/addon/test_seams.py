"""mitmproxy's private internals are used in cot_proxy/seams/ and nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "addon" / "cot_proxy"
# Private modules, private attributes of the master, and the internals our seams patch.
PRIVATE = re.compile(
    r"mitmproxy\.proxy\b|from mitmproxy\.proxy|_http1|mode_servers|mode_specs"
    r"|ctx\.master|LegacyLogEvents|setup_servers|\.transports\b|timeout_watchdog"
)


def outside_seams() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "seams" not in p.relative_to(PACKAGE).parts]


@pytest.mark.parametrize("path", outside_seams(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_mitmproxy_api_outside_seams(path):
    hits = [
        f"{path.name}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert not hits, "private mitmproxy API outside cot_proxy/seams/:\n" + "\n".join(hits)


def test_the_check_sees_the_seams():
    seams = [p for p in PACKAGE.rglob("*.py") if "seams" in p.parts]
    assert any(PRIVATE.search(p.read_text()) for p in seams)
