"""The tiny model carries Qwen3's tokenizer: the added tokens at their real ids, the real template."""

from __future__ import annotations

import gguf

from .llama import built_cache
from .tiny_model import ADDED_TOKENS
from .tiny_model import ensure_model


def test_tiny_model_has_qwen3_tokens_and_template() -> None:
    cache = built_cache()
    reader = gguf.GGUFReader(ensure_model(cache))
    tokens = reader.fields["tokenizer.ggml.tokens"]
    types = reader.fields["tokenizer.ggml.token_type"]
    assert len(tokens.data) == 151936
    for token_id, text, special in ADDED_TOKENS:
        assert tokens.contents(token_id) == text
        expected = gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED
        assert types.contents(token_id) == expected.value
    assert tokens.contents(151667) == "<think>" and tokens.contents(151668) == "</think>"
    template = reader.fields["tokenizer.chat_template"].contents()
    assert template == (cache / "templates" / "Qwen-Qwen3-0.6B.jinja").read_text()
    assert reader.fields["general.architecture"].contents() == "qwen3"
