"""Every setting of cot-proxy, declared once: its option, type, default, help and environment variable.

`SETTINGS` is the one table. From it:
- the parts declare their options (`cot_proxy.options.declare(loader, name, ...)`), so a help text
  and a default live here only;
- `cot_proxy.options.ENV_NAMES` (option → environment variable, for messages) derives;
- entrypoint.sh gets its `--set` list: `python -m cot_proxy.settings` reads the environment, refuses
  a malformed value with one line on stderr (exit 2, before mitmdump starts), and prints the target
  URL and then the mitmdump arguments, each ended by a NUL byte.

Adding an option is one row here and a `declare` in its part (docs/development.md). A number's
minimum is in its row, and its part refuses a smaller one with the entrypoint's line
(`options.in_range`). The checks of what a text means (a known mode, a family) stay in the part's
`configure`, where `--set` and mitmweb's option editor reach them too; before mitmdump starts this
module refuses only what a `--set` string could not carry (a number, a yes/no) and a missing file.

Pure: no mitmproxy import (the entrypoint runs it before mitmdump, with the same Python).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from collections.abc import Mapping

from cot_proxy.detect.servers import AUTO
from cot_proxy.detect.servers import SERVER_NAMES
from cot_proxy.settings_row import Setting as Setting  # re-exported: the table's row type
from cot_proxy.settings_row import Value
from cot_proxy.think_families import FAMILY_NAMES

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "target_base_url",
        str,
        "https://api.openai.com/v1/",
        "Base URL of the OpenAI-compatible server; its path is prepended to client paths "
        "(without doubling /v1). Start mitmdump with --mode reverse: on the same scheme, host and port.",
        env="TARGET_BASE_URL",
    ),
    Setting(
        "llm_params",
        str,
        "",
        "Per-model rules: 'model=NAME,key=value,...;model=NAME2,...' (see docs/rules.md).",
        env="LLM_PARAMS",
    ),
    Setting(
        "rules_file",
        str,
        "",
        "YAML file with per-model rules (see config.yaml); LLM_PARAMS wins over it per model and key.",
        env="CONFIG_FILE",
    ),
    Setting(
        "think_tag",
        str,
        "<think>",
        "Tag that opens a think block (literal, case-sensitive).",
        env="THINK_TAG",
    ),
    Setting(
        "think_end_tag", str, "</think>", "Tag that closes a think block.", env="THINK_END_TAG"
    ),
    Setting(
        "think_family",
        str,
        "",
        "Tag preset of a model family (" + ", ".join(FAMILY_NAMES) + "), or auto (each "
        "model's family detected from the target); a think_tag or think_end_tag other than "
        "the default replaces the start or end of its first pair.",
        env="THINK_FAMILY",
    ),
    Setting(
        "think_mode",
        str,
        "strip",
        "What happens to think blocks by default: strip (removed), reasoning (moved to the "
        "reasoning field), keep (untouched), inline (reasoning fields put back into the text "
        "as think blocks). Model rules may override it.",
        env="THINK_MODE",
    ),
    Setting(
        "reasoning_field",
        str,
        "reasoning_content",
        "Message/delta field that receives think text in reasoning mode, or both "
        "(reasoning_content and reasoning, the same text).",
        env="REASONING_FIELD",
    ),
    Setting(
        "responses_reasoning",
        str,
        "text",
        "Responses API, reasoning mode: the reasoning items written, text (reasoning_text "
        "content), summary (summary_text, what Codex shows) or both.",
        env="RESPONSES_REASONING",
    ),
    Setting(
        "api_request_timeout",
        int,
        3000,
        "Seconds to wait for the target's response headers; also the longest silence allowed mid-stream.",
        env="API_REQUEST_TIMEOUT",
        minimum=1,
        unit="seconds",
    ),
    Setting(
        "log_bodies",
        bool,
        False,
        "Log request and (buffered) response bodies at DEBUG level.",
        env="DEBUG",
        extra=("termlog_verbosity", "debug", "info"),
    ),
    Setting(
        "max_request_bytes",
        int,
        64 * 1024 * 1024,
        "Largest request body forwarded, in bytes (image inputs make chat requests large).",
        env="MAX_REQUEST_BYTES",
        minimum=1,
        unit="bytes",
    ),
    Setting(
        "target_ca_bundle",
        str,
        "",
        "PEM file with extra CA certificates to trust for the target (added to the public ones).",
        env="TARGET_CA_BUNDLE",
        readable_file=True,
    ),
    Setting(
        "ssl_insecure",
        bool,
        False,
        "Do not verify the target's TLS certificate (mitmproxy's own option).",
        env="TARGET_TLS_VERIFY",
        invert=True,
        declared_by_mitmproxy=True,
    ),
    Setting(
        "metrics_require_key",
        bool,
        False,
        "GET /metrics needs one of the gateway keys (PROXY_API_KEYS), like any request.",
        env="METRICS_REQUIRE_KEY",
    ),
    Setting(
        "max_concurrent_requests",
        int,
        0,
        "Most requests forwarded at once by this process (0: no limit); beyond, a JSON 429 with Retry-After.",
        env="MAX_CONCURRENT_REQUESTS",
    ),
    Setting(
        "shutdown_grace_seconds",
        int,
        30,
        "Seconds a stop signal waits for requests and streams in flight before cutting them.",
        env="SHUTDOWN_GRACE_SECONDS",
    ),
    Setting(
        "client_header_timeout",
        int,
        30,
        "Seconds a client may stay silent before its request headers are complete; then it is disconnected.",
        env="CLIENT_HEADER_TIMEOUT",
        minimum=1,
        unit="seconds",
    ),
    Setting(
        "client_idle_timeout",
        int,
        300,
        "Seconds a kept-alive client connection may stay silent between requests; then it is closed.",
        env="CLIENT_IDLE_TIMEOUT",
        minimum=1,
        unit="seconds",
    ),
    Setting(
        "target_server",
        str,
        AUTO,
        "The kind of server the target is: auto (probed at start), or one of "
        + ", ".join(SERVER_NAMES)
        + ". Says which metadata tells each model's family (THINK_FAMILY=auto).",
        env="TARGET_SERVER",
    ),
    Setting(
        "detect_ttl_seconds",
        int,
        600,
        "How long a detected model family is used before it is read again (in the "
        "background) from the target.",
        env="DETECT_TTL_SECONDS",
        minimum=1,
        unit="seconds",
    ),
    Setting(
        "reasoning_store_max_mb",
        int,
        64,
        "The reasoning memory's size in this process (REASONING_STORE=memory), in MiB; the least "
        "recently used entries go first.",
        env="REASONING_STORE_MAX_MB",
        minimum=1,
        unit="MiB",
    ),
    Setting(
        "reasoning_store_ttl",
        int,
        3600,
        "Seconds the reasoning memory (rule key history_restore) keeps an answer's reasoning.",
        env="REASONING_STORE_TTL",
        minimum=1,
        unit="seconds",
    ),
    Setting(
        "reuse_port",
        bool,
        False,
        "Bind the proxy port with SO_REUSEPORT so that several mitmdump processes share it (WORKERS).",
    ),
)

BY_OPTION: Mapping[str, Setting] = {s.option: s for s in SETTINGS}

# The environment variables that are not options: the file that reads each, and what for
# (docs/configuration.md lists them with the options).
OTHER_VARIABLES: Mapping[str, str] = {
    "PORT": "entrypoint.sh: --listen-port",
    "LISTEN_HOST": "entrypoint.sh: --listen-host",
    "MITM_TOOL": "entrypoint.sh: mitmdump or mitmweb",
    "WORKERS": "entrypoint.sh: the number of mitmdump processes",
    "TMPDIR": "entrypoint.sh: where each start makes its private directory",
    "PROMETHEUS_MULTIPROC_DIR": "entrypoint.sh: set for WORKERS > 1, not by the user",
    "PYTHONOPTIMIZE": "entrypoint.sh: Python's -O for mitmdump, 1 unless the caller set it",
    # Secrets: on the command line, `ps` would show them to every local user.
    "PROXY_API_KEYS": "addon/cot_proxy/parts/gateway.py: read from the environment",
    "TARGET_API_KEY": "addon/cot_proxy/parts/gateway.py: read from the environment",
    "REASONING_STORE": "addon/cot_proxy/parts/reasoning_memory.py: a redis URL may hold a password",
}

# mitmproxy closes a client connection silent for tcp_timeout seconds without an HTTP answer; keep it
# above our own timeouts, so that the client gets our JSON 504 and the client limits are ours.
TCP_TIMEOUT = 600
TCP_TIMEOUT_ABOVE = ("api_request_timeout", "client_header_timeout", "client_idle_timeout")
TCP_TIMEOUT_MARGIN = 30

_WHOLE = re.compile(r"[0-9]{1,15}")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class SettingError(ValueError):
    """A malformed environment variable; the message names it and the value."""


def number_problem(setting: Setting, value: str | int) -> str | None:
    """Why `value` (a variable's text, or the option's number) is not a number this row takes."""
    if _WHOLE.fullmatch(str(value)) and int(value) >= setting.minimum:
        return None
    what = "a whole number" + (f" of {setting.unit}" if setting.unit else "")
    if setting.minimum == 1:
        what += " above 0"
    elif setting.minimum > 1:
        what += f" of at least {setting.minimum}"
    return f"{setting.env or setting.option} must be {what}, not '{value}'"


def _number(setting: Setting, raw: str) -> int:
    problem = number_problem(setting, raw)
    if problem:
        raise SettingError(problem)
    return int(raw)


def _yes_no(setting: Setting, raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingError(f"{setting.env} must be true or false, not '{raw}'")


def value_from(setting: Setting, environ: Mapping[str, str]) -> Value:
    """The option's value for this environment (unset or empty: the default)."""
    raw = environ.get(setting.env, "") if setting.env else ""
    if raw == "":
        return setting.default
    if setting.typespec is bool:
        return _yes_no(setting, raw) != setting.invert
    if setting.typespec is int:
        return _number(setting, raw)
    if setting.readable_file and not os.access(raw, os.R_OK):
        raise SettingError(f"{setting.env} '{raw}' is not a readable file")
    return raw


def _text(value: Value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def set_arguments(environ: Mapping[str, str]) -> list[str]:
    """The `--set` arguments for mitmdump from the environment; SettingError for a malformed value."""
    values: dict[str, Value] = {}
    args: list[str] = []
    for setting in SETTINGS:
        if not setting.env:
            continue
        value = values[setting.option] = value_from(setting, environ)
        args += ["--set", f"{setting.option}={_text(value)}"]
        if setting.extra:
            option, when_true, when_false = setting.extra
            args += ["--set", f"{option}={when_true if value else when_false}"]
    longest = max(int(values[o]) for o in TCP_TIMEOUT_ABOVE) + TCP_TIMEOUT_MARGIN
    args += ["--set", f"tcp_timeout={max(TCP_TIMEOUT, longest)}"]
    return args


def _records(environ: Mapping[str, str]) -> Iterator[str]:
    yield str(value_from(BY_OPTION["target_base_url"], environ))
    yield from set_arguments(environ)


def main(environ: Mapping[str, str] = os.environ) -> int:
    """For entrypoint.sh: the target URL, then the `--set` arguments, each ended by NUL."""
    try:
        records = list(_records(environ))
    except SettingError as e:
        print(f"cot-proxy: {e}", file=sys.stderr)
        return 2
    sys.stdout.write("".join(f"{r}\0" for r in records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
