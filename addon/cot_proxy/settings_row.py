"""One row of the settings table (`cot_proxy.settings`): an option and its environment variable.

Pure: the standard library only (the entrypoint runs the table before mitmdump).
"""

from __future__ import annotations

import dataclasses

Value = str | int | bool


@dataclasses.dataclass(frozen=True)
class Setting:
    """One option and the environment variable it is set from.

    `env` empty: set by entrypoint.sh itself (no variable of its own). `declared_by_mitmproxy`: one of
    mitmproxy's own options that we only set (no part declares it). The rest says how entrypoint.sh
    reads the variable: a whole number at least `minimum` (the message names the `unit`; the part
    refuses a smaller `--set` with the same line, `options.in_range`), a yes/no (`invert`: the
    variable says the opposite of the option), a file that must be readable, and `extra`: another
    option set with it, (option, value when true, value when false).
    """

    option: str
    typespec: type[str] | type[int] | type[bool]
    default: Value
    help: str
    env: str = ""
    minimum: int = 0
    unit: str = ""
    invert: bool = False
    readable_file: bool = False
    extra: tuple[str, str, str] | None = None
    declared_by_mitmproxy: bool = False
