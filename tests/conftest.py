"""Suite-wide settings."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

E2E = Path(__file__).parent / "e2e"

# In CI the property tests replay a fixed set of examples, so a run is repeatable;
# on developers' machines they explore anew each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A module-level `pytestmark` in a conftest marks nothing: every end-to-end test gets the
    # marker here, so `-m e2e` / `-m "not e2e"` select what they say.
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)
