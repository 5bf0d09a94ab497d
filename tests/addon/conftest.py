"""Fixtures for the addon tests: the parts' hooks called in mitmproxy's test context, no network."""

from __future__ import annotations

import pytest

from cot_proxy import options


@pytest.fixture
def started():
    """Behave as after start-up: configuration errors raise OptionsError (and are rolled back)."""
    options.set_running(True)
    yield
    options.set_running(False)
