"""cot_proxy.settings: the one table of settings, and the `--set` list entrypoint.sh gets from it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cot_proxy import settings
from cot_proxy.settings import BY_OPTION
from cot_proxy.settings import SETTINGS
from cot_proxy.settings import SettingError
from cot_proxy.settings import set_arguments

ROOT = Path(__file__).resolve().parents[2]


def as_options(args: list[str]) -> dict[str, str]:
    assert args[::2] == ["--set"] * (len(args) // 2)
    return dict(a.split("=", 1) for a in args[1::2])


def test_an_empty_environment_sets_every_option_to_its_default() -> None:
    got = as_options(set_arguments({}))
    for s in SETTINGS:
        if s.env:
            expected = str(s.default).lower() if s.typespec is bool else str(s.default)
            assert got.pop(s.option) == expected, s.option
    assert got == {"termlog_verbosity": "info", "tcp_timeout": "3030"}


def test_an_empty_variable_means_its_default() -> None:
    assert set_arguments({"THINK_TAG": "", "API_REQUEST_TIMEOUT": ""}) == set_arguments({})


def test_values_are_passed_on_and_numbers_normalised() -> None:
    got = as_options(
        set_arguments(
            {
                "THINK_MODE": "keep",
                "LLM_PARAMS": "model=a,temperature=0.5;model=b,think_mode=strip",
                "MAX_CONCURRENT_REQUESTS": "007",
                "CLIENT_IDLE_TIMEOUT": "42",
            }
        )
    )
    assert got["think_mode"] == "keep"
    assert got["llm_params"] == "model=a,temperature=0.5;model=b,think_mode=strip"
    assert (got["max_concurrent_requests"], got["client_idle_timeout"]) == ("7", "42")


@pytest.mark.parametrize(
    ("env", "options"),
    [
        ({"DEBUG": "TRUE"}, {"log_bodies": "true", "termlog_verbosity": "debug"}),
        ({"DEBUG": "off"}, {"log_bodies": "false", "termlog_verbosity": "info"}),
        ({"TARGET_TLS_VERIFY": "false"}, {"ssl_insecure": "true"}),
        ({"TARGET_TLS_VERIFY": "yes"}, {"ssl_insecure": "false"}),
        ({"METRICS_REQUIRE_KEY": "1"}, {"metrics_require_key": "true"}),
    ],
)
def test_yes_no_variables(env: dict[str, str], options: dict[str, str]) -> None:
    got = as_options(set_arguments(env))
    assert {k: got[k] for k in options} == options


def test_tcp_timeout_stays_above_the_longest_of_our_timeouts() -> None:
    assert as_options(set_arguments({"API_REQUEST_TIMEOUT": "60"}))["tcp_timeout"] == "600"
    assert as_options(set_arguments({}))["tcp_timeout"] == "3030"  # API_REQUEST_TIMEOUT=3000
    got = as_options(set_arguments({"API_REQUEST_TIMEOUT": "5", "CLIENT_IDLE_TIMEOUT": "900"}))
    assert got["tcp_timeout"] == "930"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"API_REQUEST_TIMEOUT": "0"},
            "API_REQUEST_TIMEOUT must be a whole number of seconds above 0, not '0'",
        ),
        (
            {"MAX_REQUEST_BYTES": "lots"},
            "MAX_REQUEST_BYTES must be a whole number of bytes above 0",
        ),
        (
            {"CLIENT_HEADER_TIMEOUT": "2.5"},
            "CLIENT_HEADER_TIMEOUT must be a whole number of seconds",
        ),
        (
            {"MAX_CONCURRENT_REQUESTS": "-1"},
            "MAX_CONCURRENT_REQUESTS must be a whole number, not '-1'",
        ),
        ({"DETECT_TTL_SECONDS": "ten"}, "DETECT_TTL_SECONDS must be a whole number of seconds"),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false, not 'maybe'"),
        ({"TARGET_TLS_VERIFY": "sometimes"}, "TARGET_TLS_VERIFY must be true or false"),
        (
            {"TARGET_CA_BUNDLE": "/nonexistent/ca.pem"},
            "'/nonexistent/ca.pem' is not a readable file",
        ),
    ],
)
def test_malformed_values_are_refused_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingError, match=re.escape(message)):
        set_arguments(env)


def test_main_prints_the_target_then_the_arguments_each_ended_by_nul(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert settings.main({"TARGET_BASE_URL": "http://h:1/v1", "THINK_TAG": "<a b>"}) == 0
    records = capsys.readouterr().out.split("\0")
    assert records[-1] == "" and records[0] == "http://h:1/v1"
    assert "think_tag=<a b>" in records and "target_base_url=http://h:1/v1" in records


def test_main_refuses_with_one_line_on_stderr_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert settings.main({"PORT": "1", "DEBUG": "maybe"}) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "cot-proxy: DEBUG must be true or false, not 'maybe'\n")


def test_the_module_runs_as_the_entrypoint_runs_it() -> None:
    done = subprocess.run(
        [sys.executable, "-P", "-m", "cot_proxy.settings"],
        env={"PYTHONPATH": str(ROOT / "addon"), "THINK_MODE": "keep"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "think_mode=keep" in done.stdout.split("\0")


def test_the_table_is_well_formed() -> None:
    assert len(BY_OPTION) == len(SETTINGS)
    envs = [s.env for s in SETTINGS if s.env]
    assert len(envs) == len(set(envs))
    for s in SETTINGS:
        assert isinstance(s.default, s.typespec), s.option
        assert s.help.strip() and s.option == s.option.lower()
        assert not (s.minimum or s.unit) or s.typespec is int, s.option
        assert not (s.invert or s.extra) or s.typespec is bool, s.option


# The variables docs/configuration.md documents: one per table row with a variable, and the others
# (settings.OTHER_VARIABLES) with the code that reads them.
DOCUMENTED = re.compile(r"^\| `([A-Z_]+)`(?: / `([A-Z_]+)`)? \|", re.M)


def documented_variables() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    return {name for m in DOCUMENTED.finditer(text) for name in m.groups() if name}


def test_every_variable_is_documented_and_every_documented_one_is_known() -> None:
    documented = documented_variables()
    assert {"TARGET_BASE_URL", "PORT", "LISTEN_HOST", "THINK_END_TAG"} <= documented
    known = {s.env for s in SETTINGS if s.env} | set(settings.OTHER_VARIABLES)
    assert documented - known == set(), "documented, but not in cot_proxy.settings"
    assert known - documented == set(), "in cot_proxy.settings, but not in docs/configuration.md"


@pytest.mark.parametrize("name", sorted(settings.OTHER_VARIABLES))
def test_the_other_variables_are_read_where_the_table_says(name: str) -> None:
    reader = settings.OTHER_VARIABLES[name].split(":")[0]
    assert name in (ROOT / reader).read_text(), f"{name} is not read by {reader}"


ROW = re.compile(r"^\| (`[A-Z_]+`(?: / `[A-Z_]+`)?) \| ([^|]+) \|", re.M)


def documented_defaults() -> dict[str, str]:
    """docs/configuration.md: variable → its default as documented ("empty": the empty string)."""
    text = (ROOT / "docs" / "configuration.md").read_text().split("\n## ")[0]  # the first table
    found = {}
    for names, default in ROW.findall(text):
        values = re.findall(r"`([^`]*)`", default) or [""]
        if default.strip().startswith("empty"):
            values = [""]
        for name, value in zip(re.findall(r"`([A-Z_]+)`", names), values * 2):
            found[name] = value
    return found


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.env], ids=lambda s: s.env)
def test_the_documented_default_is_the_tables(setting: settings.Setting) -> None:
    default = setting.default
    if isinstance(default, bool):
        default = default != setting.invert  # the variable's sense (TARGET_TLS_VERIFY)
    text = str(default).lower() if isinstance(default, bool) else str(default)
    assert documented_defaults()[setting.env] == text


def test_options_without_a_variable_are_set_by_the_entrypoint() -> None:
    entrypoint = (ROOT / "entrypoint.sh").read_text()
    for s in SETTINGS:
        if not s.env:
            assert f"--set {s.option}=" in entrypoint, s.option


def test_the_module_needs_the_standard_library_only() -> None:
    # entrypoint.sh may run it with any python3 (the one beside mitmdump, or the first on PATH).
    code = (
        "import sys; from cot_proxy import settings; "
        "print(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)))"
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", code],
        env={"PYTHONPATH": str(ROOT / "addon")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "['__main__', 'cot_proxy']"
