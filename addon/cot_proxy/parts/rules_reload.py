"""RulesReload: CONFIG_FILE is read again when it changes, and on SIGHUP.

The file is polled (a stat every `POLL_SECONDS`, nothing to install, and it sees every kind of
replacement): its resolved path, device, inode, size and mtime. An edit in place changes the
mtime; an editor's write-and-rename or a Kubernetes ConfigMap update (the `..data` symlink
swapped to a new timestamped directory) changes the inode the path resolves to. A change is
acted on once the file has stood still for one more poll, so that a half-written file is not
read; it is then noticed within 2 s. SIGHUP reloads at once. With WORKERS > 1 every worker
watches, and entrypoint.sh passes SIGHUP on to each one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from mitmproxy import ctx

from cot_proxy.parts.request_rules import RequestRules

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5

FileSignature = tuple[str, int, int, int, int] | None


def file_signature(path: str) -> FileSignature:
    """What identifies the file's current content at `path` (symlinks followed); None if absent."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


class RulesReload:
    def __init__(self, rules: RequestRules) -> None:
        self.rules = rules
        self._path = ""
        self._loaded: FileSignature = None  # the file as last read
        self._seen: FileSignature = None  # the file at the last poll
        self._task: asyncio.Task[None] | None = None
        self._sighup = False

    def configure(self, updated: set[str]) -> None:
        if "rules_file" in updated:
            # configure just read it (RequestRules runs first): that is the version in force.
            self._path = ctx.options.rules_file
            self._loaded = self._seen = file_signature(self._path) if self._path else None

    def running(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self.on_sighup)
            self._sighup = True
        except (NotImplementedError, RuntimeError, ValueError):  # no SIGHUP here (Windows)
            logger.debug("SIGHUP not available: CONFIG_FILE reloads only when it changes")
        if self._task is None:
            self._task = loop.create_task(self._watch())

    def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False

    def on_sighup(self) -> None:
        if not self._path:
            logger.info("cot-proxy: SIGHUP received; no CONFIG_FILE to reload")
            return
        self._reload("SIGHUP")

    def _reload(self, why: str) -> None:
        signature = file_signature(self._path)
        self.rules.reload(why)
        # Success or not, this version has been judged: a bad file is reported once.
        self._loaded = self._seen = signature

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                self.poll()
            except Exception:  # the watcher must outlive any surprise
                logger.exception("cot-proxy: CONFIG_FILE watcher failed")

    def poll(self) -> None:
        """One look at the file: reload once a change has held still for one poll."""
        if not self._path:
            return
        now = file_signature(self._path)
        settled = now == self._seen
        self._seen = now
        if settled and now != self._loaded:
            self._reload("file changed")
