"""The floor: plain mitmdump in reverse mode that streams event streams instead of buffering them."""


def responseheaders(flow):
    if flow.response.headers.get("content-type", "").startswith("text/event-stream"):
        flow.response.stream = True
