"""What a client of a rewritten Responses stream sees, and the consistency it relies on.

`run` drives `cot_proxy.formats.responses` the way the conductor does (`passes` on the raw SSE
bytes, then `event` on the decoded event, `end` without a terminal event). `view` checks every
promise of the format on the client's events (sequence numbers, item numbering, every `.done`
text equal to its deltas, the final output equal to the items) and feeds them to
openai-python's own stream accumulator, then returns what the client got.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

from openai import omit
from openai._models import construct_type
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent

from cot_proxy.filters import Filters
from cot_proxy.formats import responses
from cot_proxy.think import ThinkConfig
from tests.e2e.fixtures_responses import vllm_sse

Encode = Callable[[list[dict[str, Any]]], bytes]


def run(
    events: list[dict[str, Any]], config: ThinkConfig, encode: Encode = vllm_sse
) -> list[dict[str, Any]]:
    """The client's events for an upstream stream (each event a deep copy)."""
    rewriter = responses.rewriter(config, Filters(config))
    out: list[dict[str, Any]] = []
    for upstream in events:
        if rewriter.passes(encode([upstream])):
            out.append(copy.deepcopy(upstream))
            continue
        obj = json.loads(encode([upstream]).split(b"data: ", 1)[1])
        result = rewriter.event(obj)
        out.extend([obj] if result is None else result)
    if not rewriter.finished:
        out.extend(rewriter.end())
    return json.loads(json.dumps(out))  # what goes over the wire: no shared objects


@dataclasses.dataclass
class View:
    items: list[tuple[str, str]]  # (type, text) of each output item, in the client's order
    final: Any  # openai-python's accumulated final response (None: no response.completed)
    events: list[dict[str, Any]]

    @property
    def answer(self) -> str:
        return "".join(text for kind, text in self.items if kind == "message")

    @property
    def reasoning(self) -> str:
        return "".join(text for kind, text in self.items if kind == "reasoning")

    def kinds(self) -> list[str]:
        return [e["type"] for e in self.events]


def _texts(item: dict[str, Any]) -> dict[str, str]:
    """The texts of a done item by family: output_text, reasoning_text, summary_text."""
    found: dict[str, str] = {}
    for key in ("content", "summary"):
        for part in item.get(key) or []:
            found[part["type"]] = found.get(part["type"], "") + part["text"]
    return found


def view(events: list[dict[str, Any]], first_seq: int | None = 0) -> View:
    """`first_seq` None: the upstream numbered nothing, and neither may the client's events."""
    seqs = [e.get("sequence_number") for e in events]
    if first_seq is None:
        assert not any("sequence_number" in e for e in events), seqs
    else:
        assert seqs == list(range(first_seq, first_seq + len(events))), seqs
    added: dict[int, dict[str, Any]] = {}
    done: dict[int, dict[str, Any]] = {}
    deltas: dict[tuple[int, str], str] = {}  # (output_index, family) → concatenated deltas
    finals: dict[tuple[int, str], list[str]] = {}  # … → the texts of its done events
    final_output = None
    for e in events:
        kind: str = e["type"]
        index: Any = e.get("output_index")
        if kind == "response.output_item.added":
            assert index == len(added), f"item {index} added after {len(added)} items"
            added[index] = e["item"]
            continue
        if index is not None:
            assert index in added and index not in done, f"{kind} for item {index}"
        if kind == "response.output_item.done":
            done[index] = e["item"]
            assert e["item"]["type"] == added[index]["type"]
            assert e["item"].get("id") == added[index].get("id")
            for family, text in _texts(e["item"]).items():
                finals.setdefault((index, family), []).append(text)
        elif kind.endswith(".delta") and kind != "response.function_call_arguments.delta":
            family = {
                "response.output_text.delta": "output_text",
                "response.reasoning_text.delta": "reasoning_text",
                "response.reasoning_summary_text.delta": "summary_text",
            }[kind]
            deltas[(index, family)] = deltas.get((index, family), "") + e["delta"]
        elif kind in ("response.content_part.done", "response.reasoning_summary_part.done"):
            finals.setdefault((index, e["part"]["type"]), []).append(e["part"]["text"])
        elif kind in (
            "response.output_text.done",
            "response.reasoning_text.done",
            "response.reasoning_summary_text.done",
        ):
            family = kind.removeprefix("response.").removesuffix(".done")
            family = {"reasoning_summary_text": "summary_text"}.get(family, family)
            finals.setdefault((index, family), []).append(e["text"])
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            assert e is events[-1], "the terminal event is the last"
            final_output = e["response"]["output"]
    assert set(added) == set(done), "every item added is done"
    for key, done_texts in finals.items():
        assert set(done_texts) <= {deltas.get(key, "")}, (key, done_texts, deltas.get(key))
    items = []
    for index in sorted(done):
        item = done[index]
        found = _texts(item)
        text = found.get("output_text", found.get("reasoning_text", found.get("summary_text", "")))
        items.append((item["type"], text))
    if final_output is not None:
        assert [(i["type"], _texts(i)) for i in final_output] == [
            (done[n]["type"], _texts(done[n])) for n in sorted(done)
        ]
    return View(items, _sdk_final(events), events)


def _sdk_final(events: list[dict[str, Any]]) -> Any:
    """openai-python's accumulated response, as `client.responses.stream()` builds it."""
    state: ResponseStreamState[None] = ResponseStreamState(input_tools=omit, text_format=omit)
    for e in events:
        state.handle_event(construct_type(type_=ResponseStreamEvent, value=e))  # type: ignore[arg-type]
    return state._completed_response
