"""The mitmproxy-facing side of cot-proxy: small parts, one concern each, run by `CotProxy`.

Each part is shaped like a mitmproxy addon (load/configure/hooks) and can be tested as one.
Order matters (see `CotProxy` at the bottom): /health is answered before anything else looks
at the flow (and before the gateway keys, so it stays open); request rules run on the
client's path before the router rewrites it; the request log sees every flow last.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import os
import ssl
import time
from collections.abc import Sequence
from typing import Any

from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import http
from mitmproxy import log as mitmproxy_log

from cot_proxy import errors
from cot_proxy import listening
from cot_proxy import redact
from cot_proxy.apierror import error_body
from cot_proxy.codec import DecodingStream
from cot_proxy.codec import can_decode
from cot_proxy.probe import probe_target
from cot_proxy.probe import ssl_context_for
from cot_proxy.probe import trust_bundle_with
from cot_proxy.rewrite import merge_models_list
from cot_proxy.rewrite import rewrite_request
from cot_proxy.routing import Target
from cot_proxy.routing import parse_target
from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.rules import load_config_file
from cot_proxy.rules import merge_rules
from cot_proxy.rules import parse_llm_params
from cot_proxy.stream import ThinkStream
from cot_proxy.stream import filter_body
from cot_proxy.think import THINK_MODES
from cot_proxy.think import ThinkConfig
from cot_proxy.think import remove_think_blocks

logger = logging.getLogger("cot_proxy")

HEALTH_PATH = "/health"
HEALTH_TIMEOUT = 5.0
BODY_LOG_LIMIT = 4096

# flow.metadata keys
LOCAL = "cot_proxy.local"  # answered by the proxy itself
ENDPOINT = "cot_proxy.endpoint"  # "chat" | "completions" | "models" | None
MODEL = "cot_proxy.model"
THINK = "cot_proxy.think"
CHANGES = "cot_proxy.changes"
STREAM = "cot_proxy.stream"
TIMED_OUT = "cot_proxy.timed_out"


class Startup:
    """Knows whether mitmproxy is up yet, and catches what its start-up lets slip through."""

    started = False

    def running(self) -> None:
        redact.install_on_root_handlers()
        # mitmproxy forwards every log record to the deprecated `add_log` hook of all its
        # addons, through the event loop; none of ours or its own uses it, and with one log
        # line per request it was half of this addon's cost on small requests.
        root = logging.getLogger()
        for handler in list(root.handlers):
            if isinstance(handler, mitmproxy_log.LegacyLogEvents):
                root.removeHandler(handler)
        if ctx.options.termlog_verbosity != "debug":
            # mitmproxy logs each connect/disconnect at INFO; our one line per request is enough.
            logging.getLogger("mitmproxy.proxy.server").setLevel(logging.WARNING)
        if ctx.options.deferred:
            # mitmproxy keeps unknown --set names for addons that might load later: none will.
            logger.error("Unknown option(s): %s", ", ".join(sorted(ctx.options.deferred)))
        Startup.started = True

    def done(self) -> None:
        Startup.started = False


class Listening:
    """TCP only; with reuse_port, several processes (WORKERS) serve one port."""

    def load(self, loader: Any) -> None:
        loader.add_option(
            "reuse_port",
            bool,
            False,
            "Bind the proxy port with SO_REUSEPORT so that several mitmdump processes share it (WORKERS).",
        )
        listening.listen_tcp_only()

    def configure(self, updated: set[str]) -> None:
        if "reuse_port" in updated and ctx.options.reuse_port:
            listening.share_port()

    async def running(self) -> None:
        # entrypoint.sh starts mitmdump with server=false: mitmproxy loads `-s` scripts in a
        # task that can run after it has opened its ports, and requests arriving then would
        # meet a proxy without this addon (no gateway keys, no think removal). Open them now,
        # with every hook in place; a failure to listen is logged as an error, which makes
        # mitmproxy exit 1 at the end of start-up.
        if not ctx.options.server:
            ctx.options.update(server=True)
            await ctx.master.addons.get("proxyserver").setup_servers()


def reject(message: str) -> None:
    """Refuse a configuration value.

    Once running, raise OptionsError: mitmproxy rolls the change back and shows why.
    During start-up, mitmproxy would print that as a traceback (or, for deferred
    --set values, drop it silently), so log one clear line instead: an error
    logged during start-up makes mitmproxy exit 1.
    """
    if Startup.started:
        raise exceptions.OptionsError(message)
    logger.error("cot-proxy: %s", message)


def _note(flow: http.HTTPFlow, change: str) -> None:
    flow.metadata.setdefault(CHANGES, []).append(change)


def _answer_locally(flow: http.HTTPFlow, status: int, body: bytes) -> None:
    flow.response = http.Response.make(status, body, {"Content-Type": "application/json"})
    flow.metadata[LOCAL] = True


def _bare_path(flow: http.HTTPFlow) -> str:
    return flow.request.path.split("?", 1)[0]


def endpoint_of(method: str, path: str) -> str | None:
    """Which OpenAI endpoint a client path names, judged by its end so any prefix works."""
    path = path.split("?", 1)[0].rstrip("/")
    if method == "POST" and path.endswith("/chat/completions"):
        return "chat"
    if method == "POST" and path.endswith("/completions"):
        return "completions"
    if method == "GET" and path.endswith("/models"):
        return "models"
    return None


class Router:
    """Sends every request to the configured target and nowhere else, under its base path."""

    def __init__(self) -> None:
        self.target: Target | None = None

    def load(self, loader: Any) -> None:
        loader.add_option(
            "target_base_url",
            str,
            "https://api.openai.com/v1/",
            "Base URL of the OpenAI-compatible server; its path is prepended to client paths "
            "(without doubling /v1). Start mitmdump with --mode reverse: on the same scheme, host and port.",
        )

    def configure(self, updated: set[str]) -> None:
        if "target_base_url" in updated:
            try:
                self.target = parse_target(ctx.options.target_base_url)
            except ValueError as e:
                reject(str(e))

    def running(self) -> None:
        modes = list(ctx.options.mode)
        if self.target and not any(self.target.host_header in m for m in modes):
            logger.warning(
                "target_base_url %s does not match --mode %s: requests go to the mode's server",
                self.target.url,
                " ".join(modes),
            )

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or self.target is None:
            return
        target = self.target
        request = flow.request
        # Pin the destination: nothing a client sends (absolute-form target, Host header) may
        # change it. In reverse mode mitmproxy has usually set all of it already; the setters
        # are not free (they re-validate the host), so only fix what differs.
        if request.authority:
            request.authority = ""  # origin-form upstream
        if (request.scheme, request.port, request.host) != (
            target.scheme,
            target.port,
            target.host,
        ):
            request.scheme = target.scheme
            request.port = target.port
            request.host = target.host  # last: also sets the Host header
        elif request.host_header != target.host_header:
            request.host_header = target.host_header
        request.path = target.upstream_path(request.path)
        # The stream filter needs plain bytes.
        request.headers["accept-encoding"] = "identity"


class Health:
    """GET /health, answered locally: is the target answering HTTP within 5 s?

    The probe runs in its own task while the flow waits (intercept/resume), so the hook
    stays synchronous and other requests keep flowing while a dead target is probed.
    """

    def __init__(self, router: Router, tls: TargetTls) -> None:
        self.router = router
        self.tls = tls
        self._probes: set[asyncio.Task[None]] = set()

    def request(self, flow: http.HTTPFlow) -> None:
        if (
            flow.response
            or _bare_path(flow) != HEALTH_PATH
            or flow.request.method not in ("GET", "HEAD")
        ):
            return
        flow.metadata[LOCAL] = True  # no other part touches it
        flow.intercept()
        probe = asyncio.get_running_loop().create_task(self._answer(flow))
        self._probes.add(probe)
        probe.add_done_callback(self._probes.discard)

    async def _answer(self, flow: http.HTTPFlow) -> None:
        target = self.router.target
        assert target is not None
        try:
            problem = await probe_target(target, HEALTH_TIMEOUT, self.tls.ssl_context())
        except Exception as e:  # never leave the flow waiting
            problem = f"health check failed: {type(e).__name__}: {e}"
        if problem is None:
            body = {"status": "healthy", "target_url": target.url}
            _answer_locally(flow, 200, json.dumps(body).encode())
        else:
            body = {"status": "unhealthy", "target_url": target.url, "error": problem}
            _answer_locally(flow, 503, json.dumps(body).encode())
        flow.resume()


class TargetTls:
    """TLS to an https target: verified by default, a custom CA added on request, off only explicitly."""

    def __init__(self) -> None:
        self._bundle: str | None = None

    def load(self, loader: Any) -> None:
        loader.add_option(
            "target_ca_bundle",
            str,
            "",
            "PEM file with extra CA certificates to trust for the target (added to the public ones).",
        )

    def configure(self, updated: set[str]) -> None:
        if "target_ca_bundle" in updated and ctx.options.target_ca_bundle:
            try:
                bundle = trust_bundle_with(ctx.options.target_ca_bundle)
            except ValueError as e:
                return reject(str(e))
            self.done()
            self._bundle = bundle
            # mitmproxy verifies the target against this one file (it replaces its default list).
            ctx.options.update(ssl_verify_upstream_trusted_ca=bundle)

    def done(self) -> None:
        if self._bundle:
            os.unlink(self._bundle)
            self._bundle = None

    def running(self) -> None:
        if ctx.options.ssl_insecure:
            logger.warning(
                "TLS verification of the target is OFF (TARGET_TLS_VERIFY=false): anyone on the path can read and change traffic"
            )

    def ssl_context(self) -> ssl.SSLContext:
        return ssl_context_for(
            verify=not ctx.options.ssl_insecure, cafile=ctx.options.ssl_verify_upstream_trusted_ca
        )


class Gateway:
    """Optional gateway keys, read from the environment (never from argv, where `ps` would show them).

    PROXY_API_KEYS: comma-separated keys a client must present (Authorization: Bearer …), else 401.
    TARGET_API_KEY: the credential sent to the target instead of the client's.
    """

    SECRET_HEADERS = ("authorization", "api-key", "x-api-key")

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.client_keys = [
            k.strip().encode() for k in env.get("PROXY_API_KEYS", "").split(",") if k.strip()
        ]
        self.target_key = env.get("TARGET_API_KEY", "").strip()

    def running(self) -> None:
        if self.client_keys:
            logger.info("gateway keys required: %d configured", len(self.client_keys))
        if self.target_key:
            logger.info("the target's key is set by the proxy (TARGET_API_KEY)")

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response:
            return
        if self.client_keys and not self._authorized(flow.request.headers.get("authorization", "")):
            _answer_locally(
                flow,
                401,
                error_body(
                    "Missing or invalid API key for this proxy: send Authorization: Bearer <key>",
                    "authentication_error",
                    "invalid_api_key",
                ),
            )
            flow.response.headers["WWW-Authenticate"] = "Bearer"
            return
        if self.target_key:
            for name in self.SECRET_HEADERS:
                flow.request.headers.pop(name, None)
            flow.request.headers["authorization"] = f"Bearer {self.target_key}"

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        presented = token.strip().encode() if scheme.lower() == "bearer" else b""
        # Compare with every key, in constant time, so timing tells nothing about which or how much matched.
        matched = False
        for key in self.client_keys:
            matched |= hmac.compare_digest(presented, key)
        return matched and bool(presented)


class BodyLimit:
    """Request bodies above max_request_bytes get a JSON 413 and are not forwarded."""

    def load(self, loader: Any) -> None:
        loader.add_option(
            "max_request_bytes",
            int,
            64 * 1024 * 1024,
            "Largest request body forwarded, in bytes (image inputs make chat requests large).",
        )

    def configure(self, updated: set[str]) -> None:
        if "max_request_bytes" in updated and ctx.options.max_request_bytes <= 0:
            reject(
                f"MAX_REQUEST_BYTES must be a positive number of bytes, not {ctx.options.max_request_bytes}"
            )

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # A declared length is refused before a byte of the body is read.
        length = flow.request.headers.get("content-length", "")
        if length.isdigit() and int(length) > ctx.options.max_request_bytes:
            self._refuse(flow, int(length))

    def request(self, flow: http.HTTPFlow) -> None:
        # Chunked bodies have no declared length: they are checked once read.
        if (
            flow.response is None
            and flow.request.raw_content
            and len(flow.request.raw_content) > ctx.options.max_request_bytes
        ):
            self._refuse(flow, len(flow.request.raw_content))

    @staticmethod
    def _refuse(flow: http.HTTPFlow, size: int) -> None:
        limit = ctx.options.max_request_bytes
        _answer_locally(
            flow,
            413,
            error_body(
                f"The request body is {size} bytes; this proxy accepts at most {limit} (MAX_REQUEST_BYTES)",
                "invalid_request_error",
                "request_too_large",
            ),
        )
        # Don't read (or wait for) a body we will not forward.
        flow.response.headers["connection"] = "close"


class ThinkRemoval:
    """Removes think blocks from chat and completions answers, streamed and buffered."""

    def __init__(self) -> None:
        self.defaults = ThinkConfig()

    def load(self, loader: Any) -> None:
        loader.add_option(
            "think_tag", str, "<think>", "Tag that opens a think block (literal, case-sensitive)."
        )
        loader.add_option("think_end_tag", str, "</think>", "Tag that closes a think block.")
        loader.add_option(
            "think_mode",
            str,
            "strip",
            "What happens to think blocks by default: strip (removed), reasoning (moved to the "
            "reasoning field), keep (untouched). Model rules may override it.",
        )
        loader.add_option(
            "reasoning_field",
            str,
            "reasoning_content",
            "Message/delta field that receives think text in reasoning mode.",
        )

    def configure(self, updated: set[str]) -> None:
        if updated & {"think_tag", "think_end_tag", "think_mode", "reasoning_field"}:
            start, end = ctx.options.think_tag, ctx.options.think_end_tag
            mode = ctx.options.think_mode
            if mode not in THINK_MODES:
                return reject(
                    f"think_mode (THINK_MODE) must be one of {', '.join(THINK_MODES)}, not {mode!r}"
                )
            if not start or not end:
                return reject("THINK_TAG and THINK_END_TAG must not be empty")
            if start == end:
                return reject(f"THINK_TAG and THINK_END_TAG must differ (both are {start!r})")
            if not ctx.options.reasoning_field.strip():
                return reject("REASONING_FIELD must not be empty")
            self.defaults = ThinkConfig(
                mode=ctx.options.think_mode,
                tags=((start, end),),
                reasoning_field=ctx.options.reasoning_field.strip(),
            )

    def config_for(self, rule: ModelRule | None) -> ThinkConfig:
        return rule.think_config(self.defaults) if rule else self.defaults

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        assert flow.response
        if flow.metadata.get(LOCAL):
            return
        response = flow.response
        endpoint = flow.metadata.get(ENDPOINT)
        config: ThinkConfig = flow.metadata.get(THINK, self.defaults)
        is_sse = response.headers.get("content-type", "").startswith("text/event-stream")
        wants_filter = (
            endpoint in ("chat", "completions")
            and config.mode != "keep"
            and response.status_code < 400
        )
        if is_sse and wants_filter:
            self._install_filter(flow, config, endpoint)
        elif not (wants_filter or endpoint == "models" or response.status_code >= 400):
            # Passed on as it arrives (event streams and NDJSON of other endpoints included). The rest
            # is buffered: JSON answers for the `response` hooks to rewrite, error bodies for the log.
            response.stream = True

    def _install_filter(self, flow: http.HTTPFlow, config: ThinkConfig, endpoint: str) -> None:
        response = flow.response
        assert response
        stream = ThinkStream(config, endpoint)
        flow.metadata[STREAM] = stream
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            if not can_decode(encoding):
                logger.warning(
                    "%s: target sent the stream with Content-Encoding %s despite our identity request; "
                    "passing it through unfiltered",
                    flow.request.path,
                    encoding,
                )
                response.stream = True
                return
            response.stream = DecodingStream(encoding, stream)
            del response.headers["content-encoding"]
            _note(flow, f"decoded {encoding}")
        else:
            response.stream = stream
        # The filter changes the byte count.
        response.headers.pop("content-length", None)
        chunked = "chunked" in response.headers.get("transfer-encoding", "")
        if flow.request.http_version == "HTTP/1.1" and not chunked:
            # Chunked framing keeps the client's connection alive; without it the body ends at close.
            response.headers["transfer-encoding"] = "chunked"
        elif flow.request.http_version == "HTTP/1.0" and chunked:
            # An HTTP/1.0 client knows no chunks: its body ends when the connection closes.
            del response.headers["transfer-encoding"]

    def response(self, flow: http.HTTPFlow) -> None:
        assert flow.response
        if flow.metadata.get(LOCAL) or flow.response.stream or flow.response.status_code >= 400:
            return
        endpoint = flow.metadata.get(ENDPOINT)
        config: ThinkConfig = flow.metadata.get(THINK, self.defaults)
        if endpoint not in ("chat", "completions") or config.mode == "keep":
            return
        if not flow.response.headers.get("content-type", "").startswith("application/json"):
            return
        try:
            body = flow.response.content
        except ValueError:  # undecodable content-encoding: leave it as it came
            return
        if body is None:
            return
        new_body = filter_body(body, config, endpoint)
        if new_body is not None:
            flow.response.content = new_body
            _note(flow, f"think {config.mode}")


class RequestRules:
    """Validates JSON request bodies and applies the per-model rules (LLM_PARAMS, config file)."""

    def __init__(self, think: ThinkRemoval) -> None:
        self.think = think
        self.rules = RuleSet([])

    def load(self, loader: Any) -> None:
        loader.add_option(
            "llm_params",
            str,
            "",
            "Per-model rules: 'model=NAME,key=value,...;model=NAME2,...' (see README).",
        )
        loader.add_option(
            "rules_file",
            str,
            "",
            "YAML file with per-model rules (see config.yaml); LLM_PARAMS wins over it per model and key.",
        )

    def configure(self, updated: set[str]) -> None:
        if not updated & {"llm_params", "rules_file"}:
            return
        try:
            env_rules = parse_llm_params(ctx.options.llm_params)
            file_rules = load_config_file(ctx.options.rules_file) if ctx.options.rules_file else []
            rules = RuleSet(merge_rules(env_rules, file_rules))
        except ConfigError as e:
            return reject(str(e))
        self.rules = rules
        for line in rules.describe():
            logger.info("rule: %s", line)

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response:
            return
        request = flow.request
        endpoint = endpoint_of(request.method, request.path)
        flow.metadata[ENDPOINT] = endpoint
        if not request.headers.get("content-type", "").lower().startswith("application/json"):
            return
        if not request.raw_content:
            return
        try:
            body = json.loads(request.get_content(strict=True) or b"")
        except (ValueError, UnicodeDecodeError) as e:
            _answer_locally(
                flow,
                400,
                error_body(
                    f"The request body is not valid JSON: {e}",
                    "invalid_request_error",
                    "invalid_json",
                ),
            )
            return
        if not isinstance(body, dict):
            return
        model = body.get("model")
        model_name = model if isinstance(model, str) else None
        flow.metadata[MODEL] = model_name
        rule = self.rules.match(model_name)
        config = self.think.config_for(rule)
        flow.metadata[THINK] = config
        if rule is None:
            return

        def strip_think(text: str) -> str:
            return remove_think_blocks(text, config)[0]

        changes = rewrite_request(body, rule, strip_think)
        if changes:
            request.content = json.dumps(body, ensure_ascii=False).encode()
            for change in changes:
                _note(flow, change)

    def response(self, flow: http.HTTPFlow) -> None:
        assert flow.response
        if (
            flow.metadata.get(LOCAL)
            or flow.metadata.get(ENDPOINT) != "models"
            or flow.response.stream
            or flow.response.status_code >= 400
        ):
            return
        pseudo = self.rules.pseudo_models()
        if not pseudo:
            return
        try:
            listing = flow.response.json()
        except ValueError:
            return
        merged = merge_models_list(listing, pseudo)
        if merged is not None:
            flow.response.content = json.dumps(merged).encode()
            _note(flow, f"models +{len(pseudo)} pseudo")


class Timeouts:
    """504 when the target sends no response headers in time; ends streams that go silent.

    Silence is measured from mitmproxy's own record of the connection's last activity, so the
    stream's chunks pass through without any per-chunk work here.
    """

    def __init__(self) -> None:
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def load(self, loader: Any) -> None:
        loader.add_option(
            "api_request_timeout",
            int,
            3000,
            "Seconds to wait for the target's response headers; also the longest silence allowed mid-stream.",
        )
        # Before the servers listen: the first request may already need a JSON error.
        errors.install()

    def configure(self, updated: set[str]) -> None:
        if "api_request_timeout" in updated and ctx.options.api_request_timeout <= 0:
            reject(
                f"API_REQUEST_TIMEOUT must be a positive number of seconds, not {ctx.options.api_request_timeout}"
            )

    def done(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        errors.uninstall()

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is None:
            self._schedule(flow, ctx.options.api_request_timeout)

    def response(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow)
        if flow.response is not None:
            return  # mid-stream: the status line is long gone, the connection just ends
        if flow.metadata.get(TIMED_OUT):
            seconds = ctx.options.api_request_timeout
            errors.answer_with(
                errors.ErrorAnswer(
                    504,
                    f"The target sent no response within {seconds} s (API_REQUEST_TIMEOUT)",
                    "upstream_error",
                    "target_timeout",
                )
            )
        else:
            # Connect, DNS or TLS failure, or the target closed the connection: mitmproxy answers 502.
            target = f"{flow.request.scheme}://{flow.request.host}:{flow.request.port}"
            message = flow.error.msg if flow.error else "unknown error"
            errors.answer_with(
                errors.ErrorAnswer(
                    502,
                    f"Cannot get an answer from the target {target}: {message}",
                    "upstream_error",
                    "target_unreachable",
                )
            )

    def _schedule(self, flow: http.HTTPFlow, delay: float) -> None:
        self._timers[flow.id] = asyncio.get_running_loop().call_later(delay, self._check, flow)

    def _disarm(self, flow: http.HTTPFlow) -> None:
        timer = self._timers.pop(flow.id, None)
        if timer:
            timer.cancel()

    def _check(self, flow: http.HTTPFlow) -> None:
        self._timers.pop(flow.id, None)
        if not flow.live:
            return
        seconds = ctx.options.api_request_timeout
        last_activity = errors.last_activity(flow)
        if last_activity is not None:
            remaining = last_activity + seconds - time.time()
            if remaining > 0:
                # Bytes moved since: sleep on until the new deadline.
                self._schedule(flow, remaining)
                return
        flow.metadata[TIMED_OUT] = True
        phase = "mid-stream" if flow.response else "before response headers"
        logger.warning(
            "%s %s: target silent for %d s %s; closing the upstream connection",
            flow.request.method,
            flow.request.path,
            seconds,
            phase,
        )
        if not errors.cancel_upstream(flow):
            logger.error(
                "could not cancel the upstream connection of a timed-out request (mitmproxy changed?)"
            )


class RequestLog:
    """One INFO line per request; DEBUG adds bodies. Credentials never reach the log."""

    def load(self, loader: Any) -> None:
        loader.add_option(
            "log_bodies",
            bool,
            False,
            "Log request and (buffered) response bodies at DEBUG level.",
        )

    def request(self, flow: http.HTTPFlow) -> None:
        if ctx.options.log_bodies and flow.response is None and flow.request.raw_content:
            logger.debug(
                "%s %s request body: %s",
                flow.request.method,
                flow.request.path,
                _truncated(flow.request.raw_content),
            )

    def response(self, flow: http.HTTPFlow) -> None:
        assert flow.response
        if ctx.options.log_bodies and not flow.response.stream and flow.response.raw_content:
            logger.debug(
                "%s response body: %s", flow.request.path, _truncated(flow.response.raw_content)
            )
        self._log(flow, str(flow.response.status_code))

    def error(self, flow: http.HTTPFlow) -> None:
        status = "timeout" if flow.metadata.get(TIMED_OUT) else "error"
        self._log(flow, f"{status} ({flow.error.msg if flow.error else 'unknown'})")

    def _log(self, flow: http.HTTPFlow, outcome: str) -> None:
        started = flow.request.timestamp_start
        duration_ms = (time.time() - started) * 1000 if started else 0.0
        parts: list[str] = [flow.request.method, flow.request.path]
        model = flow.metadata.get(MODEL)
        if model:
            parts.append(f"model={model}")
        parts.append(outcome)
        parts.append(f"{duration_ms:.0f}ms")
        changes: Sequence[str] = flow.metadata.get(CHANGES, [])
        stream = flow.metadata.get(STREAM)
        think_chars = stream.think_chars if stream is not None else 0
        if think_chars:
            changes = [*changes, f"think: {think_chars} chars"]
        if changes:
            parts.append("changed: " + "; ".join(changes))
        logger.info(" ".join(parts))


def _truncated(body: bytes) -> str:
    text = body[:BODY_LOG_LIMIT].decode("utf-8", "replace")
    return text + (f"… ({len(body)} bytes)" if len(body) > BODY_LOG_LIMIT else "")


class CotProxy:
    """The one addon mitmproxy loads: it runs the parts above, in order, for each hook.

    mitmproxy dispatches every hook to every addon through its addon manager, at a few µs a
    call; registering the eleven parts as addons of their own cost about 7% of a small request
    (bench/). Here each hook is one dispatch. A part that answers a request itself (marks the
    flow LOCAL) ends the request hook for the parts after it.
    """

    HOOKS = ("requestheaders", "request", "responseheaders", "response", "error")

    def __init__(self) -> None:
        router = Router()
        tls = TargetTls()
        think = ThinkRemoval()
        self.parts: list[object] = [
            Startup(),
            Listening(),
            tls,
            Health(router, tls),
            BodyLimit(),
            Gateway(),
            RequestRules(think),
            router,
            think,
            Timeouts(),
            RequestLog(),
        ]
        self._hooks = {name: self._methods(name) for name in self.HOOKS}

    def _methods(self, name: str) -> list[Any]:
        return [getattr(part, name) for part in self.parts if hasattr(part, name)]

    def load(self, loader: Any) -> None:
        for load in self._methods("load"):
            load(loader)

    def configure(self, updated: set[str]) -> None:
        for configure in self._methods("configure"):
            configure(updated)

    async def running(self) -> None:
        for running in self._methods("running"):
            result = running()
            if inspect.isawaitable(result):
                await result

    def done(self) -> None:
        for done in self._methods("done"):
            done()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        for hook in self._hooks["requestheaders"]:
            hook(flow)

    def request(self, flow: http.HTTPFlow) -> None:
        for hook in self._hooks["request"]:
            if flow.metadata.get(LOCAL):
                return
            hook(flow)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        for hook in self._hooks["responseheaders"]:
            hook(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        for hook in self._hooks["response"]:
            hook(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        for hook in self._hooks["error"]:
            hook(flow)
