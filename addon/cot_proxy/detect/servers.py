"""Which server the target is, from the answers to a few metadata GETs; and what each server's
metadata says about one model.

Pure logic, no mitmproxy import. Each reader takes a decoded JSON body (or None) and names the
source of the shape it expects (the server's own code).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

AUTO = "auto"
# TARGET_SERVER and the rule key `server`: auto, or one of these.
SERVER_NAMES: tuple[str, ...] = (
    "llamacpp",
    "ollama",
    "vllm",
    "sglang",
    "lmstudio",
    "openai",
    "anthropic",
)

# The metadata each kind answers, relative to the target's root (its base path without /v1).
PROPS = "/props"  # llama.cpp tools/server/server.cpp: handle_props (chat_template, build_info)
OLLAMA_VERSION = "/api/version"  # ollama server/routes.go: {"version": version.Version}
OLLAMA_SHOW = "/api/show"  # ollama server/routes.go ShowHandler → api.ShowResponse
SGLANG_MODEL_INFO = (
    "/get_model_info"  # sglang srt/entrypoints/http_server.py: model_path, is_generation
)
VLLM_VERSION = "/version"  # vllm entrypoints/openai/api_server.py show_version: {"version": …}
LMSTUDIO_MODELS = "/api/v0/models"  # LM Studio docs, REST API v0: data[] with type, arch
MODELS = "/v1/models"  # OpenAI-compatible list: data[] of {id, object, owned_by, …}

# Hosted APIs known by their host: nothing to probe.
KNOWN_HOSTS: dict[str, str] = {"api.openai.com": "openai", "api.anthropic.com": "anthropic"}


@dataclasses.dataclass(frozen=True)
class ServerFacts:
    """What the probe found: the kind (None: unknown), why, and the models it listed."""

    kind: str | None
    why: str
    models: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


def _obj(body: Any) -> dict[str, Any] | None:
    return body if isinstance(body, dict) else None


def is_llamacpp_props(body: Any) -> bool:
    """llama.cpp `GET /props`: `chat_template` and `default_generation_settings` (recorded from
    llama-server b1-0c1e570, tests/fixtures/detect/llamacpp_props.json)."""
    props = _obj(body)
    return props is not None and "default_generation_settings" in props and "chat_template" in props


def version_of(body: Any) -> str | None:
    """`{"version": "…"}`: Ollama's /api/version and vLLM's /version alike."""
    obj = _obj(body)
    version = obj.get("version") if obj else None
    return version if isinstance(version, str) else None


def is_sglang_model_info(body: Any) -> bool:
    info = _obj(body)
    return info is not None and "model_path" in info and "is_generation" in info


def model_entries(body: Any) -> dict[str, dict[str, Any]]:
    """`{"data": [{"id": …}, …]}` → id → entry (OpenAI-compatible lists, LM Studio's v0)."""
    listing = _obj(body)
    data = listing.get("data") if listing else None
    if not isinstance(data, list):
        return {}
    return {e["id"]: e for e in data if isinstance(e, dict) and isinstance(e.get("id"), str)}


def is_lmstudio_models(body: Any) -> bool:
    entries = model_entries(body).values()
    return bool(entries) and all("compatibility_type" in e or "arch" in e for e in entries)


def kind_from_models(entries: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    """The kind an OpenAI-style model list suggests, and why."""
    owners = {e.get("owned_by") for e in entries.values()}
    if "llamacpp" in owners:  # llama.cpp server.cpp handle_models: "owned_by": "llamacpp"
        return "llamacpp", "GET /v1/models: owned_by llamacpp"
    if "vllm" in owners:  # vLLM protocol.py ModelCard: owned_by = "vllm"
        return "vllm", "GET /v1/models: owned_by vllm"
    if any(e.get("type") == "model" and "display_name" in e for e in entries.values()):
        # Anthropic GET /v1/models: {"type": "model", "id", "display_name", "created_at"}
        return "anthropic", "GET /v1/models: Anthropic model objects"
    return "openai", "GET /v1/models answered, no server-specific metadata"


def fingerprint(answers: Mapping[str, tuple[int, Any]]) -> ServerFacts:
    """The server kind from {path: (status, JSON body or None)} of the probe GETs.

    The server-specific endpoints decide first, in this order (SGLang also answers /version,
    so it is asked before vLLM); then the model list."""
    models: dict[str, dict[str, Any]] = {}
    status, body = answers.get(MODELS, (0, None))
    if status == 200:
        models = model_entries(body)

    def ok(path: str) -> Any:
        status, body = answers.get(path, (0, None))
        return body if status == 200 else None

    if is_llamacpp_props(ok(PROPS)):
        build = _obj(ok(PROPS)) or {}
        return ServerFacts(
            "llamacpp",
            f"GET /props has chat_template (build {build.get('build_info', '?')})",
            models,
        )
    if (version := version_of(ok(OLLAMA_VERSION))) is not None:
        return ServerFacts("ollama", f"GET /api/version: {version}", models)
    if is_sglang_model_info(ok(SGLANG_MODEL_INFO)):
        return ServerFacts("sglang", "GET /get_model_info has model_path", models)
    if is_lmstudio_models(ok(LMSTUDIO_MODELS)):
        return ServerFacts(
            "lmstudio", "GET /api/v0/models has arch", model_entries(ok(LMSTUDIO_MODELS))
        )
    if (version := version_of(ok(VLLM_VERSION))) is not None:
        return ServerFacts("vllm", f"GET /version: {version}", models)
    if status == 200:
        kind, why = kind_from_models(models)
        return ServerFacts(kind, why, models)
    statuses = sorted({s for s, _ in answers.values()})
    if 401 in statuses or 403 in statuses:
        return ServerFacts(None, "the target wants a credential for its metadata")
    return ServerFacts(
        None, "no metadata endpoint answered (" + ", ".join(map(str, statuses)) + ")"
    )


@dataclasses.dataclass(frozen=True)
class OllamaModel:
    """What `POST /api/show` says (ollama api/types.go ShowResponse): template, capabilities
    (omitempty: None when absent), details.family."""

    template: str
    capabilities: tuple[str, ...] | None
    family: str | None


def read_ollama_show(body: Any) -> OllamaModel | None:
    show = _obj(body)
    if show is None:
        return None
    template = show.get("template")
    caps = show.get("capabilities")
    details = _obj(show.get("details")) or {}
    family = details.get("family")
    return OllamaModel(
        template if isinstance(template, str) else "",
        tuple(c for c in caps if isinstance(c, str)) if isinstance(caps, list) else None,
        family if isinstance(family, str) and family else None,
    )


def read_props_template(body: Any) -> str | None:
    props = _obj(body)
    template = props.get("chat_template") if props else None
    return template if isinstance(template, str) and template else None


def names_in_entry(entry: Mapping[str, Any] | None, *keys: str) -> list[str]:
    """The string values of `keys` in a model-list entry (root, id, arch, ...), in that order."""
    if not entry:
        return []
    return [v for k in keys if isinstance(v := entry.get(k), str) and v]
