"""options: reject() (one log line during start-up, OptionsError once running), declare() from the
settings table, ENV_NAMES and the numbers' minimums derived from it."""

from __future__ import annotations

import logging
import re

import pytest
from mitmproxy import addonmanager
from mitmproxy import exceptions
from mitmproxy.options import Options
from mitmproxy.test import taddons

from cot_proxy import options
from cot_proxy import settings
from cot_proxy.addon import CotProxy


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


def test_the_addon_declares_exactly_the_options_of_the_table():
    """Every option of ours is a row of cot_proxy.settings: one declared elsewhere fails here."""
    mitmproxy_own = set(Options().keys())
    with taddons.context(CotProxy()) as tctx:
        ours = set(tctx.options.keys()) - mitmproxy_own
        for name in ours:
            s = settings.BY_OPTION[name]  # a KeyError: declared outside the table
            assert (tctx.options.default(name), tctx.options._options[name].help) == (
                s.default,
                s.help,
            )
    table = {s.option for s in settings.SETTINGS if not s.declared_by_mitmproxy}
    assert ours == table
    assert {s.option for s in settings.SETTINGS if s.declared_by_mitmproxy} <= mitmproxy_own


def test_env_names_derive_from_the_table():
    assert options.ENV_NAMES == {s.option: s.env for s in settings.SETTINGS if s.env}
    assert options.ENV_NAMES["ssl_insecure"] == "TARGET_TLS_VERIFY"


def test_declare_refuses_mitmproxys_own_options():
    with taddons.context() as tctx:
        with pytest.raises(ValueError, match="ssl_insecure is mitmproxy's own option"):
            options.declare(addonmanager.Loader(tctx.master), "ssl_insecure")


NUMBERS = [s for s in settings.SETTINGS if s.typespec is int]


@pytest.mark.parametrize("setting", NUMBERS, ids=[s.option for s in NUMBERS])
def test_every_number_is_refused_below_its_minimum_as_the_entrypoint_would(started, setting):
    proxy = CotProxy()
    with taddons.context(proxy) as tctx:
        low = setting.minimum - 1
        expected = settings.number_problem(setting, low)
        assert expected == f"{setting.env} must be {expected.split(' must be ')[1]}"
        with pytest.raises(exceptions.OptionsError, match=re.escape(expected)):
            tctx.configure(proxy, **{setting.option: low})
        assert getattr(tctx.options, setting.option) == setting.default  # rolled back
