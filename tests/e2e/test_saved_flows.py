"""Flows the proxy handled can be saved (mitmdump -w, mitmweb's File → Save) and loaded back.

Each flow carries the proxy's notes as plain values (cot_proxy.flow.FlowNotes.summary).
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
from typing import Any

from mitmproxy import contentviews
from mitmproxy import io as mitmproxy_io
from mitmproxy.test import taddons

from cot_proxy.contentview import NO_TRANSCRIPT
from cot_proxy.contentview import CotProxyView

from .conftest import VENV_BIN
from .conftest import free_port
from .test_core import KEY
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


def notes_by_path(flows: list[Any]) -> dict[str, dict[str, Any]]:
    return {f"{f.request.method} {f.request.path}": f.metadata.get("cot_proxy") for f in flows}


def check_saved(flows: list[Any]) -> None:
    saved = notes_by_path(flows)
    assert len(flows) == 5, saved
    chats = [f for f in flows if f.request.path == "/v1/chat/completions" and f.response]
    modes = sorted((f.metadata["cot_proxy"]["local"], f.response.status_code) for f in chats)
    assert modes == [(False, 200), (False, 200), (True, 400)]
    streamed = next(f for f in chats if streams(f))
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


def web_get(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    answer = connection.getresponse()
    body = answer.read()
    assert answer.status == 200, body[:500]
    return json.loads(body)


def streams(flow: Any) -> bool:
    return json.loads(flow.request.content).get("stream") is True


def by_kind(flows: list[Any]) -> dict[str, Any]:
    chats = [f for f in flows if f.request.path == "/v1/chat/completions"]
    return {
        "buffered": next(f for f in chats if b'"messages"' in f.request.content and not streams(f)),
        "streamed": next(f for f in chats if streams(f)),
        "invalid": next(f for f in chats if f.request.content == b"{bad"),
        "health": next(f for f in flows if f.request.path == "/health"),
        "fail": next(f for f in flows if f.request.path == "/v1/fail"),
    }


def test_saved_flows_carry_the_mark_and_the_change_list_never_the_key(
    start_proxy, upstream, tmp_path
):
    upstream.reset(thinking_model)
    saved = tmp_path / "flows.mitm"
    proxy = start_proxy(
        {"TARGET_BASE_URL": f"{upstream.url}/v1/", "LLM_PARAMS": "model=m,temperature=0.6"},
        args=["-w", str(saved)],
    )
    post = ("-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {KEY}", "-d")
    assert "Hello" in curl(*post, json.dumps(CHAT), f"{proxy.url}/v1/chat/completions").stdout
    streamed = json.dumps({**CHAT, "stream": True})
    assert "Hello" in curl("-N", *post, streamed, f"{proxy.url}/v1/chat/completions").stdout
    assert "healthy" in curl(f"{proxy.url}/health").stdout
    assert "invalid_json" in curl(*post, "{bad", f"{proxy.url}/v1/chat/completions").stdout
    assert "boom" in curl(*post, "{}", f"{proxy.url}/v1/fail").stdout
    proxy.wait_log("POST /v1/fail", timeout=5)
    proxy.stop()
    with saved.open("rb") as f:
        flows = by_kind(list(mitmproxy_io.FlowReader(f).stream()))
    # one wording for the same change, streamed or buffered
    for kind in ("buffered", "streamed"):
        assert flows[kind].comment == "cot-proxy changed: temperature=0.6; think strip: 3 chars"
    for kind in ("buffered", "streamed"):
        assert flows[kind].marked == ":brain:"
        assert KEY not in flows[kind].comment and "Bearer" not in flows[kind].comment
        assert flows[kind].request.headers["authorization"] == f"Bearer {KEY}"  # it was sent
    for kind in ("health", "invalid"):
        assert (flows[kind].comment, flows[kind].marked) == ("answered by cot-proxy", ":robot:")
    assert (flows["fail"].comment, flows["fail"].marked) == ("", "")  # nothing changed
    # mitmdump keeps no transcript: that costs only under mitmweb.
    assert "transcript" not in flows["streamed"].metadata["cot_proxy"]
    assert flows["streamed"].response.raw_content is None


def test_mitmweb_shows_the_cot_proxy_view_for_streamed_and_buffered_answers(
    start_proxy, upstream, tmp_path
):
    upstream.reset(thinking_model)
    saved = tmp_path / "web.mitm"
    web_port = free_port()
    proxy = start_proxy(
        {"TARGET_BASE_URL": f"{upstream.url}/v1/", "MITM_TOOL": "mitmweb"},
        args=["--web-port", str(web_port), "-w", str(saved)],
    )
    send_every_kind_of_flow(proxy.url)
    proxy.wait_log("POST /v1/fail", timeout=5)
    # The UI itself renders the view (what its content pane fetches).
    token = re.search(r"token=(\w+)", proxy.wait_log("token=", timeout=10))
    assert token, proxy.log()
    listing = web_get(web_port, f"/flows?token={token[1]}")
    live = next(
        f
        for f in listing
        if f["request"]["path"] == "/v1/chat/completions"
        and f["comment"].endswith("think strip: 3 chars")
    )
    assert live["marked"] == "🧠"  # the UI shows the mark as its emoji
    view = web_get(
        web_port, f"/flows/{live['id']}/response/content/cot-proxy.json?token={token[1]}"
    )
    assert view["view_name"] == "cot-proxy" and "hmm" in json.dumps(view["text"]), view
    proxy.stop()
    with saved.open("rb") as f:
        flows = by_kind(list(mitmproxy_io.FlowReader(f).stream()))
    with taddons.context():  # content views read mitmproxy's options
        contentviews.add(CotProxyView)
        streamed = flows["streamed"]
        # The client's bytes are kept as the body, so mitmweb has something to show.
        assert b"Hello" in streamed.response.content and b"hmm" not in streamed.response.content
        for kind in ("streamed", "buffered"):
            flow = flows[kind]
            shown = contentviews.prettify_message(flow.response, flow, "auto")
            assert shown.view_name == "cot-proxy", shown
            assert shown.text == (
                "── what the client got (5 chars) ──\nHello\n\n"
                "── think text removed (3 chars) ──\nhmm\n"
            ), shown.text
        # Not chosen where the proxy kept nothing: the request, an error answer.
        fail = flows["fail"]
        assert contentviews.prettify_message(fail.response, fail, "auto").view_name != "cot-proxy"
        request = contentviews.prettify_message(streamed.request, streamed, "auto")
        assert request.view_name != "cot-proxy"
        # Chosen by hand there, it says why it has nothing, not a traceback.
        chosen = contentviews.prettify_message(fail.response, fail, "cot-proxy")
        assert chosen.text == NO_TRANSCRIPT and chosen.syntax_highlight != "error", chosen


def test_flows_read_back_keep_their_notes_and_are_not_traffic(start_proxy, upstream, tmp_path):
    """mitmweb -r FILE: the saved record stays (the cot-proxy view still shows the transcript),
    and reading flows is neither logged nor counted as requests."""
    upstream.reset(thinking_model)
    saved = tmp_path / "web.mitm"
    env = {"TARGET_BASE_URL": f"{upstream.url}/v1/", "MITM_TOOL": "mitmweb"}
    first = start_proxy(env, args=["--web-port", str(free_port()), "-w", str(saved)])
    send_every_kind_of_flow(first.url)
    first.wait_log("POST /v1/fail", timeout=5)
    first.stop()
    web_port = free_port()
    reader = start_proxy(env, args=["--web-port", str(web_port), "-r", str(saved)])
    token = re.search(r"token=(\w+)", reader.wait_log("token=", timeout=10))
    assert token, reader.log()
    deadline = time.monotonic() + 10
    while len(listing := web_get(web_port, f"/flows?token={token[1]}")) < 5:
        assert time.monotonic() < deadline, listing
        time.sleep(0.1)
    streamed = next(
        f
        for f in listing
        if f["request"]["path"] == "/v1/chat/completions"
        and f["comment"].endswith("think strip: 3 chars")
        and f["response"]["contentLength"] is not None
    )
    view = web_get(
        web_port, f"/flows/{streamed['id']}/response/content/cot-proxy.json?token={token[1]}"
    )
    assert view["view_name"] == "cot-proxy" and "hmm" in json.dumps(view["text"]), view
    metrics = curl(f"{reader.url}/metrics").stdout
    assert 'endpoint="chat"' not in metrics, metrics  # nothing counted
    log = reader.log()
    assert "POST /v1/chat/completions" not in log and "Traceback" not in log, log
