"""Record llama-server's raw answers for the scripted replays in tests/e2e/test_llamacpp_recorded.py.

    .venv/bin/python -m tests.conformance.record      (after `make llama-server`)

Starts the real llama-server of the conformance suite (tiny model, `--reasoning-format none`), sends
each request below straight to it (no proxy) and writes the answer body as the server sent it into
tests/fixtures/llamacpp/: `NAME.sse` for a stream, `NAME.json` for a buffered answer, and
`README.md` with the server's version. Ids and `timings` change on every run; the text does not
(grammar and seed fix it).
"""

from __future__ import annotations

import http.client
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .llama import LLAMA_CPP_PYTHON_VERSION
from .llama import LlamaServer
from .llama import built_cache
from .llama import server_version
from .tiny_model import ensure_model

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "llamacpp"
USER = [{"role": "user", "content": "Hi"}]


def literal(text: str) -> str:
    """A GBNF grammar that allows exactly `text` (the sampler still picks its tokenization)."""
    return f"root ::= {json.dumps(text)}"


# name -> (path, body without `stream`, what it shows)
RECORDINGS: dict[str, tuple[str, dict[str, Any], str]] = {
    "responses_think": (
        "/v1/responses",
        {"input": "Hi", "grammar": literal("<think>hidden</think> visible"), "seed": 1},
        "Responses events without output_index/content_index/sequence_number (defect a)",
    ),
    "chat_marker_in_closed_block": (
        "/v1/chat/completions",
        {
            "messages": USER,
            "grammar": literal("<think>plan <tool_call> x </tool_call> more</think>answer"),
            "seed": 1,
        },
        "<tool_call> inside a block that closes later: all of it is reasoning (defect b)",
    ),
    "chat_several_blocks": (
        "/v1/chat/completions",
        {
            "messages": USER,
            "grammar": literal("<think>one</think>a <think>two</think>b"),
            "seed": 1,
        },
        "several blocks: their reasoning must keep words apart (defect c)",
    ),
    "chat_thinking_off": (
        "/v1/chat/completions",
        {"messages": USER, "grammar": literal("<think>\n\n</think>\n\nAnswer"), "seed": 1},
        "Qwen3's thinking-off block: whitespace-only reasoning is no reasoning (defect d)",
    ),
    "chat_marker_in_unclosed_block": (
        "/v1/chat/completions",
        {
            "messages": USER,
            "grammar": literal(
                '<think>plan <tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'
            ),
            "seed": 1,
        },
        "<tool_call> in a block that never closes: the marker ends it (README: end markers)",
    ),
}


def post(port: int, path: str, body: dict[str, Any]) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    if answer.status != 200:
        raise RuntimeError(f"{path}: {answer.status} {data!r}")
    return data


def main() -> int:
    cache = built_cache()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        server = LlamaServer(cache, ensure_model(cache), Path(home) / "llama.log", [])
        try:
            server.wait_ready()
            lines = []
            for name, (path, body, what) in RECORDINGS.items():
                (OUT / f"{name}.sse").write_bytes(post(server.port, path, {**body, "stream": True}))
                (OUT / f"{name}.json").write_bytes(post(server.port, path, body))
                lines.append(f"- `{name}` (`POST {path}`): {what}.")
        finally:
            server.stop()
    readme = [
        "# Recorded llama-server answers",
        "",
        "Recorded by `tests/conformance/record.py` from llama-server built from the source package",
        f"of llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} by `tests/conformance/build_llama_server.sh`",
        f"(`{server_version(cache)}`), with the suite's tiny random-weight Qwen3 model,",
        "`--reasoning-format none`, each output forced by a GBNF grammar in the request. `NAME.sse`",
        "is the streamed answer body (`stream: true`), `NAME.json` the buffered one, as the server",
        "sent them. `tests/e2e/test_llamacpp_recorded.py` replays them through the proxy with the",
        "scripted upstream, so these cases are covered where llama-server is not built.",
        "",
        *lines,
        "",
    ]
    (OUT / "README.md").write_text("\n".join(readme))
    print(f"recorded {len(RECORDINGS)} requests into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
