"""Refusing a bad setting the way a user understands, before and after start-up.

Every option is a row of `cot_proxy.settings`; the parts that use one declare it in their `load`
with `declare()`. This module holds what they share: `declare()`, whether mitmproxy is running
yet, `reject()`, and the environment variable each option is set from (`ENV_NAMES`, derived from
the table), so that messages name what the user actually typed.
"""

from __future__ import annotations

import logging

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import exceptions

from cot_proxy import settings

logger = logging.getLogger(__name__)

# Option → the environment variable it comes from (for messages).
ENV_NAMES: dict[str, str] = {s.option: s.env for s in settings.SETTINGS if s.env}


def declare(loader: addonmanager.Loader, *names: str) -> None:
    """Declare these options of `cot_proxy.settings` (their type, default and help live there)."""
    for name in names:
        setting = settings.BY_OPTION[name]
        if setting.declared_by_mitmproxy:
            raise ValueError(f"{name} is mitmproxy's own option: it is not ours to declare")
        loader.add_option(name, setting.typespec, setting.default, setting.help)


def in_range(updated: set[str], *names: str) -> bool:
    """Refuse each updated number of `names` below its row's minimum; whether all are in range."""
    fine = True
    for name in names:
        if name in updated:
            problem = settings.number_problem(settings.BY_OPTION[name], getattr(ctx.options, name))
            if problem:
                reject(problem)
                fine = False
    return fine


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
