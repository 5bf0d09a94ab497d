"""Suite-wide settings."""

import os

from hypothesis import settings

# In CI the property tests replay a fixed set of examples, so a run is repeatable;
# on developers' machines they explore anew each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
