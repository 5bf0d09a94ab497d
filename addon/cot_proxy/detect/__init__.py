"""Detection: which server the target is, and which tag family each of its models writes.

Pure logic and asyncio, no mitmproxy import; `cot_proxy.parts.detection` is the part that uses
it.

- `markers`: a chat template's markers → family (and a generation prompt that opens the block);
- `names`: a model name or repository path → family;
- `servers`: the server kinds, their metadata endpoints and the readers of their answers;
- `decision`: `Decision`, one model's family and where it came from;
- `http`: one metadata request; `detector`: `Detector`, the probes, their deadline and cache.
"""
