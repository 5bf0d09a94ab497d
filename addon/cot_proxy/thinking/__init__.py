"""Thinking control (issue 21): one setting, compiled into the knob each upstream model takes.

Pure logic on plain JSON values, no mitmproxy import; `cot_proxy.parts.thinking` is the
mitmproxy side.

- `levels`: the setting (`off`, `on`, `low`, `medium`, `high`, `max`), the clients' spellings
  of it, and how a level maps to what a knob can express (`Shape`);
- `knobs`: one module per knob kind, each reading, removing and writing its fields;
- `table`: (server, family) → the knob, one row each with its source;
- `compile`: the setting of a request (header, rule, the client's own knob) written as the
  knob of its row, every other thinking knob removed.

A budget (issue 21, deliverable 4) is a second setting beside the level: `Setting` is where
it goes, and the knobs that carry one (Anthropic `budget_tokens`, llama.cpp
`thinking_budget_tokens`, ...) are more fields of the same modules.
"""
