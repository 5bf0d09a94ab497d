"""The thinking budget (issue 21, part 4): its setting, the servers' own knobs, and the pure
logic of the relay that enforces it where the server does not (counting the reasoning, the
continuation request per server, one answer made of the two streams).

Pure logic, no mitmproxy import; the wiring is `cot_proxy.parts.think_budget`.
"""
