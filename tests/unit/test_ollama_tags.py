"""Pseudo models in Ollama's model list (`GET /api/tags`).

The upstream shape is Ollama's api.ListResponse / api.ListModelResponse (ollama/ollama
api/types.go: name, model, modified_at, size, digest, details); the client's view is the
ollama Python client's `ListResponse` (ollama/_types.py), which `Client.list()` returns.
"""

import copy

import pytest
from ollama._types import ListResponse

from cot_proxy.formats.ollama_request import merge_ollama_tags
from cot_proxy.formats.ollama_request import ollama_full_name


def tag(name, digest="sha", family="qwen3"):
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-05-01T10:00:00.123456789+02:00",
        "size": 5_200_000_000,
        "digest": digest,
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "8.2B",
            "quantization_level": "Q4_K_M",
        },
    }


UPSTREAM = {"models": [tag("qwen3:latest", "d1"), tag("qwen3:32b", "d2"), tag("llama3.2:1b", "d3")]}


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("qwen3", "qwen3:latest"),
        ("qwen3:8b", "qwen3:8b"),
        ("hf.co/org/model", "hf.co/org/model:latest"),
        ("localhost:5000/ns/model", "localhost:5000/ns/model:latest"),
        ("localhost:5000/ns/model:q4", "localhost:5000/ns/model:q4"),
    ],
)
def test_full_name(name, full):
    assert ollama_full_name(name) == full


def test_pseudo_models_copy_their_target_found_with_the_default_tag():
    upstream = copy.deepcopy(UPSTREAM)
    merged = merge_ollama_tags(
        upstream, [("fast", "qwen3"), ("big", "qwen3:32b"), ("ghost", "not-here")]
    )
    assert merged is not None
    models = merged["models"]
    assert models[:3] == UPSTREAM["models"]
    assert models[3] == {**tag("qwen3:latest", "d1"), "name": "fast", "model": "fast"}
    assert models[4] == {**tag("qwen3:32b", "d2"), "name": "big", "model": "big"}
    assert models[5]["name"] == models[5]["model"] == "ghost"
    assert upstream == UPSTREAM  # the input is not modified
    models[3]["details"]["family"] = "changed"
    assert upstream["models"][0]["details"]["family"] == "qwen3"
    # The official client parses every entry, the minimal one too.
    parsed = ListResponse.model_validate(merged)
    assert [m.model for m in parsed.models] == [
        "qwen3:latest",
        "qwen3:32b",
        "llama3.2:1b",
        "fast",
        "big",
        "ghost",
    ]
    assert parsed.models[5].size == 0


def test_names_listed_with_or_without_the_default_tag_are_not_added_again():
    merged = merge_ollama_tags(
        copy.deepcopy(UPSTREAM),
        [("qwen3", "qwen3:32b"), ("qwen3:32b", "x"), ("p", "qwen3"), ("p:latest", "qwen3")],
    )
    assert merged is not None
    assert [m["name"] for m in merged["models"]] == [
        "qwen3:latest",
        "qwen3:32b",
        "llama3.2:1b",
        "p",
    ]


def test_keeps_other_keys_and_odd_entries():
    upstream = {"models": ["junk", {"name": 7}, {"model": "only-model:1"}], "extra": 1}
    merged = merge_ollama_tags(upstream, [("p", "only-model:1")])
    assert merged is not None
    assert merged["extra"] == 1
    assert merged["models"][:3] == upstream["models"]
    assert merged["models"][3] == {"model": "p", "name": "p"}


def test_empty_pseudo_list_is_the_same_listing():
    assert merge_ollama_tags(copy.deepcopy(UPSTREAM), []) == UPSTREAM


@pytest.mark.parametrize(
    "upstream", [None, [], "text", {"data": []}, {"models": {"name": "x"}}, {"models": None}]
)
def test_wrong_shape(upstream):
    assert merge_ollama_tags(upstream, [("p", "u")]) is None
