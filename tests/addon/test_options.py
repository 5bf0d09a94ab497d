"""reject(): one log line during start-up, OptionsError (and rollback) once running."""

from __future__ import annotations

import logging

import pytest
from mitmproxy import exceptions

from cot_proxy import options


def test_reject_logs_one_line_during_start_up(caplog):
    caplog.set_level(logging.ERROR)
    options.reject("THINK_MODE is wrong")
    assert [r.getMessage() for r in caplog.records] == ["cot-proxy: THINK_MODE is wrong"]


def test_reject_raises_once_running(started):
    with pytest.raises(exceptions.OptionsError, match="THINK_MODE is wrong"):
        options.reject("THINK_MODE is wrong")


def test_messages_name_the_environment_variable():
    assert options.env_name("rules_file") == "CONFIG_FILE"
    assert options.env_name("reuse_port") == "reuse_port"  # set by entrypoint.sh itself
