"""The reasoning memory (rule key `history_restore`): the reasoning of every answer the proxy
delivered, kept per owner, model and turn (`keys`), in a bounded store (`store`,
`redis_store`); recalled from each answer (`recall`) and put back into later requests whose
history lacks it (`restore`). Driven by `cot_proxy.parts.reasoning_memory`.

Stdlib only (and the redis client in `redis_store`), no mitmproxy import.
"""
