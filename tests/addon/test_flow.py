"""FlowNotes: one typed record per flow, which mitmproxy can save and load back."""

from __future__ import annotations

import copy
import io
from typing import Any

from mitmproxy import io as mitmproxy_io
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from cot_proxy.flow import METADATA_KEY
from cot_proxy.flow import FlowNotes
from cot_proxy.flow import answer_locally
from cot_proxy.flow import notes
from cot_proxy.think import ThinkConfig


def test_notes_are_created_once_per_flow():
    flow = tflow.tflow()
    record = notes(flow)
    assert notes(flow) is record
    assert flow.metadata[METADATA_KEY] is record


def test_a_flow_with_notes_saves_and_loads_back():
    flow = tflow.tflow(resp=True)
    record = notes(flow)
    record.endpoint = "chat"
    record.model = "qwen3"
    record.think = ThinkConfig(mode="reasoning")
    record.changes += ["temperature=0.6", "think reasoning"]
    buffer = io.BytesIO()
    mitmproxy_io.FlowWriter(buffer).add(flow)  # raised "unserializable object" before
    buffer.seek(0)
    (loaded,) = mitmproxy_io.FlowReader(buffer).stream()
    assert loaded.metadata[METADATA_KEY] == {
        "endpoint": "chat",
        "model": "qwen3",
        "think_mode": "reasoning",
        "changes": ["temperature=0.6", "think reasoning"],
        "local": False,
        "timed_out": False,
        "think_chars": 0,
        "complete": False,
    }
    # The live flow keeps its typed record.
    assert flow.metadata[METADATA_KEY] is record


def test_copying_a_flow_copies_the_summary():
    flow = tflow.tflow()
    notes(flow).model = "m"
    copied = flow.copy()  # mitmweb's duplicate and replay
    assert copied.metadata[METADATA_KEY]["model"] == "m"
    snapshot: Any = copy.deepcopy(FlowNotes(local=True))
    assert snapshot == {**FlowNotes().summary(), "local": True}


def test_a_loaded_or_replayed_flow_starts_a_fresh_record():
    flow = tflow.tflow()
    flow.metadata[METADATA_KEY] = {"model": "from a file"}
    record = notes(flow)
    assert isinstance(record, FlowNotes) and record.model is None


def test_answer_locally_marks_the_flow():
    with taddons.context():
        flow = tflow.tflow()
        response = answer_locally(flow, 413, b'{"error": {}}')
        assert flow.response is response and response.status_code == 413
        assert response.headers["content-type"] == "application/json"
        assert notes(flow).local
