"""AddonChain: mitmproxy dispatches hooks only to the addons of its own that are in use.

The mechanism and its rules live in `cot_proxy.seams.addon_chain` (it needs mitmproxy's addon
manager). It trims at `running`, before the Listening part opens the port.
"""

from __future__ import annotations

from cot_proxy.seams import addon_chain


class AddonChain:
    def __init__(self) -> None:
        self.chain = addon_chain.AddonChain()

    def running(self) -> None:
        self.chain.trim()

    def configure(self, updated: set[str]) -> None:
        self.chain.configure(updated)

    async def done(self) -> None:
        await self.chain.done()
