"""Flows the proxy handled can be saved (mitmdump -w, mitmweb's File → Save) and loaded back.

Each flow carries the proxy's notes as plain values (cot_proxy.flow.FlowNotes.summary).
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time

from mitmproxy import io as mitmproxy_io

from .conftest import VENV_BIN
from .conftest import free_port
from .test_core import curl
from .upstream import Received
from .upstream import Reply
from .upstream import chat_completion
from .upstream import chat_stream

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


async def thinking_model(req: Received, reply: Reply) -> None:
    if req.method != "POST":  # the /health probe
        await reply.json(200, {"object": "list", "data": []})
    elif req.path.endswith("/fail"):
        await reply.json(500, {"error": {"message": "boom"}})
    elif req.json().get("stream"):
        await reply.sse(chat_stream(["<think>hm", "m</think>", "Hello"]))
    else:
        await reply.json(200, chat_completion("<think>hmm</think>Hello"))


def send_every_kind_of_flow(url: str) -> None:
    """Buffered and streamed chat, /health, a local 400, an upstream error."""
    post = ("-H", "Content-Type: application/json", "-d")
    assert "Hello" in curl(*post, json.dumps(CHAT), f"{url}/v1/chat/completions").stdout
    streamed = curl("-N", *post, json.dumps({**CHAT, "stream": True}), f"{url}/v1/chat/completions")
    assert "Hello" in streamed.stdout and "hmm" not in streamed.stdout
    assert "healthy" in curl(f"{url}/health").stdout
    assert "invalid_json" in curl(*post, "{bad", f"{url}/v1/chat/completions").stdout
    assert "boom" in curl(*post, "{}", f"{url}/v1/fail").stdout


def notes_by_path(flows: list) -> dict[str, dict]:
    return {f"{f.request.method} {f.request.path}": f.metadata.get("cot_proxy") for f in flows}


def check_saved(flows: list) -> None:
    saved = notes_by_path(flows)
    assert len(flows) == 5, saved
    chats = [f for f in flows if f.request.path == "/v1/chat/completions" and f.response]
    modes = sorted((f.metadata["cot_proxy"]["local"], f.response.status_code) for f in chats)
    assert modes == [(False, 200), (False, 200), (True, 400)]
    streamed = next(f for f in chats if b'"stream": true' in f.request.content)
    assert streamed.metadata["cot_proxy"]["think_chars"] == len("hmm")
    assert saved["GET /health"]["local"] is True
    assert saved["POST /v1/fail"]["local"] is False


def test_mitmdump_saves_every_kind_of_flow_and_loads_it_back(start_proxy, upstream, tmp_path):
    upstream.reset(thinking_model)
    saved = tmp_path / "flows.mitm"
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/"}, args=["-w", str(saved)])
    send_every_kind_of_flow(proxy.url)
    proxy.wait_log("POST /v1/fail", timeout=5)
    proxy.stop()
    log = proxy.log_path.read_text()
    assert "Addon error" not in log and "unserializable" not in log, log
    with saved.open("rb") as f:
        check_saved(list(mitmproxy_io.FlowReader(f).stream()))
    replay = subprocess.run(
        [str(VENV_BIN / "mitmdump"), "-nr", str(saved), "--set", "flow_detail=1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "/v1/chat/completions" in replay.stdout


def test_mitmweb_save_exports_every_kind_of_flow(start_proxy, upstream, tmp_path):
    upstream.reset(thinking_model)
    web_port = free_port()
    proxy = start_proxy(
        {"TARGET_BASE_URL": f"{upstream.url}/v1/", "MITM_TOOL": "mitmweb"},
        args=["--web-port", str(web_port), "--set", "web_open_browser=false"],
    )
    send_every_kind_of_flow(proxy.url)
    token = re.search(r"token=(\w+)", proxy.wait_log("token=", timeout=10))
    assert token, proxy.log()
    # File → Save in the UI downloads /flows/dump.
    deadline = time.monotonic() + 10
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", web_port, timeout=10)
        connection.request("GET", f"/flows/dump?token={token[1]}")
        answer = connection.getresponse()
        body = answer.read()
        assert answer.status == 200, body[:500]
        dumped = tmp_path / "dump.mitm"
        dumped.write_bytes(body)
        with dumped.open("rb") as f:
            flows = list(mitmproxy_io.FlowReader(f).stream())
        if len(flows) >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check_saved(flows)
