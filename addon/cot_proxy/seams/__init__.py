"""Every use of mitmproxy's private internals, in one package, under one version pin.

mitmproxy's public addon API cannot yet do these things this proxy needs. Each module here does one
of them through a private seam, checks on install that the seam is still there (failing loudly
otherwise), and names the upstream issue or pull request whose landing would let it go:

- `error_pages`: JSON bodies (and a 504) for the errors mitmproxy answers itself, by replacing
  `proxy.layers.http._http1.make_error_response`. mitmproxy PR #7999 ("allow error hook to
  override 502 responses", unmerged), issue #4854 (custom error responses).
- `connections`: how long a flow's connection has been silent, cancelling its upstream
  socket when the target times out, and closing a client connection that sends no headers in
  time or idles too long (`Proxyserver.connections[...]`; mitmproxy has one tcp_timeout for
  every phase). Issue #4711 (`flow.kill()` cannot stop a flow in transit).
- `listening`: TCP-only listening, SO_REUSEPORT for WORKERS, and opening the ports only once
  this addon is loaded (`proxy.mode_servers`, `Proxyserver.setup_servers`): mitmproxy loads
  `-s` scripts in a task that can run after its ports are open, and offers no reuse_port. A
  failure to listen is reported in the proxy's terms (its logger filtered meanwhile).
- `request_size`: refusing a request body (chunked included) as soon as it passes our limit,
  by wrapping `HttpStream.check_body_size`: mitmproxy's `body_size_limit` also limits answers.
- `signals`: SIGTERM/SIGINT rebound to drain before stopping (mitmproxy stops at once); issue
  #3895, PR #8378.
- `addon_chain`: dispatching hooks only to the mitmproxy addons in use, by trimming the addon
  manager's chain after start-up while the others keep their options (`AddonManager.chain`):
  mitmproxy offers no way to leave out a default addon and keep its options.
- `dispatch`: mitmproxy's hook dispatch on a shorter path (`AddonManager.trigger_event`
  replaced): the same handlers, order, arguments and error handling, without a `safecall` and a
  coroutine for each addon that has no handler for the hook. No upstream issue asks for it yet;
  an `AddonManager` that indexes handlers per hook would let it go.
- `logs`: dropping the deprecated `add_log` bridge (`log.LegacyLogEvents`), which wakes the event
  loop for every log line (deprecated since mitmproxy 9; removal tracked in its api-changelog).

Verified on mitmproxy 12.2.3 and 12.3.1; requirements.txt pins that range. Nothing outside this
package may touch these internals: ruff's banned-api rule (pyproject.toml) and
tests/addon/test_seams.py enforce it, and the e2e tests named in each module fail if a seam moves.
"""

TESTED_MITMPROXY = ">=12.2.3,<12.4"
