"""The Dockerfile and the shell scripts pass their linters (no Docker engine runs here to build the image)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_hadolint_dockerfile():
    result = subprocess.run([BIN / "hadolint", REPO / "Dockerfile"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "script", ["entrypoint.sh", ".ci/run", "demo/run.sh", "tests/conformance/build_llama_server.sh"]
)
def test_shellcheck(script):
    result = subprocess.run([BIN / "shellcheck", REPO / script], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_entrypoint_as_non_root_on_5000():
    text = (REPO / "Dockerfile").read_text()
    assert "FROM python:3.12" in text
    assert "EXPOSE 5000" in text
    assert 'ENTRYPOINT ["/app/entrypoint.sh"]' in text
    assert "HEALTHCHECK" in text
    user_lines = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1] != "USER root" and user_lines[-1] != "USER 0"
    # every file the image copies exists
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source
