"""The floor: plain mitmdump in reverse mode that streams event streams (SSE, and Ollama's NDJSON)
instead of buffering them."""


def responseheaders(flow):
    if flow.response.headers.get("content-type", "").startswith(STREAMED):
        flow.response.stream = True


STREAMED = ("text/event-stream", "application/x-ndjson")
