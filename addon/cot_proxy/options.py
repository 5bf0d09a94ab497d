"""Refusing a bad setting the way a user understands, before and after start-up.

The options are declared by the parts that use them (`parts/*.py`, in their `load`); this module
holds what they share: whether mitmproxy is running yet, `reject()`, and the environment variable
each option is set from by entrypoint.sh, so that messages name what the user actually typed.
"""

from __future__ import annotations

import logging

from mitmproxy import exceptions

logger = logging.getLogger(__name__)

# Option → the entrypoint.sh variable it comes from (for messages).
ENV_NAMES: dict[str, str] = {
    "target_base_url": "TARGET_BASE_URL",
    "llm_params": "LLM_PARAMS",
    "rules_file": "CONFIG_FILE",
    "think_tag": "THINK_TAG",
    "think_end_tag": "THINK_END_TAG",
    "think_family": "THINK_FAMILY",
    "think_mode": "THINK_MODE",
    "reasoning_field": "REASONING_FIELD",
    "responses_reasoning": "RESPONSES_REASONING",
    "api_request_timeout": "API_REQUEST_TIMEOUT",
    "log_bodies": "DEBUG",
    "max_request_bytes": "MAX_REQUEST_BYTES",
    "target_ca_bundle": "TARGET_CA_BUNDLE",
    "ssl_insecure": "TARGET_TLS_VERIFY",
    "metrics_require_key": "METRICS_REQUIRE_KEY",
    "max_concurrent_requests": "MAX_CONCURRENT_REQUESTS",
    "shutdown_grace_seconds": "SHUTDOWN_GRACE_SECONDS",
    "client_header_timeout": "CLIENT_HEADER_TIMEOUT",
    "client_idle_timeout": "CLIENT_IDLE_TIMEOUT",
    "target_server": "TARGET_SERVER",
    "detect_ttl_seconds": "DETECT_TTL_SECONDS",
    "reasoning_store": "REASONING_STORE",
    "reasoning_store_max_mb": "REASONING_STORE_MAX_MB",
    "reasoning_store_ttl": "REASONING_STORE_TTL",
}


class _Phase:
    running = False  # set by parts/startup.py once mitmproxy's `running` hooks run


def set_running(running: bool) -> None:
    _Phase.running = running


def is_running() -> bool:
    return _Phase.running


def env_name(option: str) -> str:
    """The environment variable a user sets `option` with (the option name if none)."""
    return ENV_NAMES.get(option, option)


def reject(message: str) -> None:
    """Refuse a configuration value.

    Once running, raise OptionsError: mitmproxy rolls the change back and shows why.
    During start-up, mitmproxy would print that as a traceback (or, for deferred
    --set values, drop it silently), so log one clear line instead: an error
    logged during start-up makes mitmproxy exit 1.
    """
    if _Phase.running:
        raise exceptions.OptionsError(message)
    logger.error("cot-proxy: %s", message)
