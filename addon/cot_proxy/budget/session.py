"""What the budget session of every wire format shares: its meters, its event splitter and the
flags the relay reads. One module per format builds on it (`chat`, `completions`, `messages`,
`ollama`, `responses`), each with its own reading of the first answer and the continuation.

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

from cot_proxy.budget.count import Meter
from cot_proxy.budget.events import LineSplitter
from cot_proxy.budget.events import SSESplitter

SLACK = 16  # reasoning a continuation may add before it is dropped


class Session:
    content_type = "text/event-stream"
    splitter: type[SSESplitter] | type[LineSplitter] = SSESplitter

    def __init__(self, budget: int, *, streamed: bool) -> None:
        self.meter = Meter(budget)
        self.slack = Meter(SLACK)
        self.streamed = streamed
        self._split: SSESplitter | LineSplitter = self.splitter()
        self.forced = False
        self.answered = False
        self.reasoning: list[str] = []

    @property
    def counted(self) -> int:
        return self.meter.used + self.slack.used

    def restart(self) -> None:
        """The first upstream is gone: the next bytes are the continuation's."""
        self._split = self.splitter()
