"""The budget's merge of two Responses streams (cot_proxy.budget.responses): any split of either
stream gives the same answer; the reasoning item is closed at the cut; the continuation's items
follow under the next output indices; sequence numbers run on; the usage is summed. Streams
built with tests/e2e/responses_upstream.py (vLLM's and Ollama's event sequences)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.budget.count import cost
from cot_proxy.budget.responses import ResponsesSession
from tests.e2e.responses_upstream import frame
from tests.e2e.responses_upstream import stream
from tests.unit.budget.test_chat import run
from tests.unit.budget.test_chat import splits

THINKING = ["Let", " me", " see", " what", " the", " user", " wants"]
FIRST = frame(stream(THINKING, ["late"]))
SECOND = frame(stream([], ["Four", "."], rid="resp_second", created=1700000099))
OLLAMA_FIRST = frame(stream(THINKING, ["late"], ollama=True))
MISFILED = frame(stream(["Four."], [], rid="resp_second"))


def decoded(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in out.decode().split("\n") if line.startswith("data: ")]


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.integers(0, 8000), max_size=12),
    st.lists(st.integers(0, 4000), max_size=8),
    st.sampled_from([True, False]),
    st.sampled_from([FIRST, OLLAMA_FIRST]),
    st.integers(1, 10),
)
def test_any_split_of_either_stream_gives_the_same_answer(a, b, streamed, first, budget):
    whole = run(ResponsesSession(budget, streamed=streamed), [first], [SECOND])
    split = run(ResponsesSession(budget, streamed=streamed), splits(first, a), splits(SECOND, b))
    assert split == whole


def test_the_cut_closes_the_reasoning_item_and_the_continuation_follows():
    session = ResponsesSession(3, streamed=True)
    events = decoded(run(session, [FIRST], [SECOND]))
    kinds = [e["type"] for e in events]
    assert kinds[:7] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.reasoning_text.delta", "response.reasoning_text.delta",
        "response.reasoning_text.delta", "response.reasoning_text.done",
    ]  # fmt: skip
    assert kinds[7] == "response.output_item.done"
    assert events[6]["text"] == "Let me see"
    assert events[7]["item"]["content"] == [{"type": "reasoning_text", "text": "Let me see"}]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert "response.created" not in kinds[8:]
    answer = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert answer == "Four."  # the first's late answer never came: cut before it
    assert {e["output_index"] for e in events[8:] if "output_index" in e} == {1}
    final = events[-1]["response"]
    assert events[-1]["type"] == "response.completed"
    assert (final["id"], final["created_at"]) == ("resp_first", 1700000000)
    assert [i["id"] for i in final["output"]] == ["rs_resp_first", "msg_resp_second"]
    usage = final["usage"]
    assert usage["output_tokens"] == 5 + 3 and usage["total_tokens"] == 40 + 8
    assert usage["output_tokens_details"] == {"reasoning_tokens": 3}


def test_ollamas_summary_reasoning_is_cut_the_same_way():
    session = ResponsesSession(2, streamed=True)
    events = decoded(run(session, [OLLAMA_FIRST], [SECOND]))
    done = next(e for e in events if e["type"] == "response.reasoning_summary_text.done")
    assert done["text"] == "Let me" and done["summary_index"] == 0
    item = next(e for e in events if e["type"] == "response.output_item.done")["item"]
    assert item["summary"] == [{"type": "summary_text", "text": "Let me"}]
    assert session.reasoning == ["Let", " me"]


def test_a_buffered_answer_is_the_final_response():
    session = ResponsesSession(3, streamed=False)
    answer = json.loads(run(session, [FIRST], [SECOND]))
    assert answer["id"] == "resp_first" and answer["status"] == "completed"
    assert answer["output"][1]["content"][0]["text"] == "Four."
    assert answer["usage"]["output_tokens_details"]["reasoning_tokens"] == 3


def test_within_the_budget_the_stream_passes_unchanged_but_its_count():
    session = ResponsesSession(100, streamed=True)
    out = run(session, [FIRST], [SECOND])
    assert not session.forced
    end = b"event: response.completed"
    assert out.split(end)[0] == FIRST.split(end)[0]  # passed on as it came
    final = decoded(out)[-1]["response"]
    counted = sum(cost(d) for d in THINKING)  # one a delta, one per 4 characters of a longer
    assert final["usage"]["output_tokens_details"] == {"reasoning_tokens": counted}
    assert final["usage"]["output_tokens"] == 5


def test_a_continuation_that_answers_as_reasoning_is_the_answer():
    events = decoded(run(ResponsesSession(3, streamed=True), [FIRST], [MISFILED]))
    answer = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert answer == "Four."
    assert not any(e["type"] == "response.reasoning_text.delta" for e in events[8:])


def test_a_continuation_cut_by_length_drops_its_reasoning():
    cut = frame(stream(["more", " thought"], [], rid="resp_second", status="incomplete"))
    events = decoded(run(ResponsesSession(3, streamed=True), [FIRST], [cut]))
    assert "more" not in json.dumps(events[8:])
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failed_continuation_ends_the_stream_incomplete():
    session = ResponsesSession(3, streamed=True)
    events = decoded(run(session, [FIRST], []))
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["id"] == "resp_first"


def test_an_answer_that_began_keeps_its_later_reasoning_cut_without_a_continuation():
    late = frame(stream([], ["Four"])[:-1] + stream(THINKING, [])[2:])
    session = ResponsesSession(2, streamed=True)
    run(session, [late], [SECOND])
    assert not session.forced


# vLLM without a reasoning parser: the thought inline in output_text (as llama.cpp's recorded
# tests/fixtures/llamacpp/responses_think.sse shows for that server)
INLINE = frame(stream([], ["<th", "ink>", "Let", " me", " see", " more", "</think>", "late"]))
TAGS = ("<think>", "</think>")


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 8000), max_size=12),
    st.lists(st.integers(0, 4000), max_size=8),
    st.sampled_from([True, False]),
    st.integers(1, 6),
)
def test_any_split_of_an_inline_stream_gives_the_same_answer(a, b, streamed, budget):
    def session() -> ResponsesSession:
        return ResponsesSession(budget, streamed=streamed, tags=TAGS)

    whole = run(session(), [INLINE], [SECOND])
    assert whole == run(session(), splits(INLINE, a), splits(SECOND, b))


def test_an_inline_thought_is_cut_closed_and_its_message_item_ended():
    session = ResponsesSession(2, streamed=True, tags=TAGS)
    events = decoded(run(session, [INLINE], [SECOND]))
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "<think>Let me</think>Four."
    assert session.reasoning == ["Let", " me"]
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert done["item"]["content"][0]["text"] == "<think>Let me</think>"
    assert done["output_index"] == 0
    final = events[-1]["response"]
    assert [i["id"] for i in final["output"]] == ["msg_resp_first", "msg_resp_second"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
