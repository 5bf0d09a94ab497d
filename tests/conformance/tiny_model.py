"""A tiny random-weight Qwen3 model for llama-server, written with the `gguf` package.

The network is useless (two layers of 64 dims, weights drawn from a fixed seed): every answer in the
conformance suite is forced by a GBNF grammar. What is real is everything around the weights: the
Qwen3 architecture, the Qwen2/Qwen3 BPE tokenizer from llama.cpp's vocab-only `ggml-vocab-qwen2.gguf`,
Qwen3's added tokens at their real ids (`<think>` 151667, `</think>` 151668, `<tool_call>` 151657…)
and the real Qwen3 chat template (`models/templates/Qwen-Qwen3-0.6B.jinja`). So llama-server's chat
parser, tokenizer and sampler behave as for Qwen3, and the grammar lets the sampler pick its own
tokenization of each tag (the added token, or `<` `think` `>` in pieces).

Same inputs, same bytes: the file is regenerated only when missing (its name carries VERSION).
"""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np

VERSION = 1
SEED = 18
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
N_LAYER = 2
N_CTX = 4096

# Qwen3's added tokens (tokenizer_config.json of Qwen/Qwen3-0.6B): id, text, special.
# `special: true` becomes a CONTROL token in GGUF, the others USER_DEFINED (convert_hf_to_gguf.py).
ADDED_TOKENS: list[tuple[int, str, bool]] = [
    (151643, "<|endoftext|>", True),
    (151644, "<|im_start|>", True),
    (151645, "<|im_end|>", True),
    (151646, "<|object_ref_start|>", True),
    (151647, "<|object_ref_end|>", True),
    (151648, "<|box_start|>", True),
    (151649, "<|box_end|>", True),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False),
    (151660, "<|fim_middle|>", False),
    (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False),
    (151663, "<|repo_name|>", False),
    (151664, "<|file_sep|>", False),
    (151665, "<tool_response>", False),
    (151666, "</tool_response>", False),
    (151667, "<think>", False),
    (151668, "</think>", False),
]
EOS_ID = 151645  # <|im_end|>: Qwen3's generation_config eos
PAD_ID = 151643


def model_path(cache: Path) -> Path:
    return cache / "models" / f"tiny-qwen3-v{VERSION}.gguf"


def ensure_model(cache: Path) -> Path:
    """The model file in the cache folder, written once from the cached vocab and template."""
    path = model_path(cache)
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        write_model(
            tmp,
            vocab=cache / "models" / "ggml-vocab-qwen2.gguf",
            template=cache / "templates" / "Qwen-Qwen3-0.6B.jinja",
        )
        tmp.replace(path)
    return path


def _vocab(vocab: Path) -> tuple[list[str], list[int], list[str]]:
    reader = gguf.GGUFReader(vocab)
    tokens_field = reader.fields["tokenizer.ggml.tokens"]
    types_field = reader.fields["tokenizer.ggml.token_type"]
    merges_field = reader.fields["tokenizer.ggml.merges"]
    tokens = [str(tokens_field.contents(i)) for i in range(len(tokens_field.data))]
    types = [int(types_field.contents(i)) for i in range(len(types_field.data))]
    merges = [str(merges_field.contents(i)) for i in range(len(merges_field.data))]
    for token_id, text, special in ADDED_TOKENS:
        tokens[token_id] = text
        types[token_id] = (
            gguf.TokenType.CONTROL.value if special else gguf.TokenType.USER_DEFINED.value
        )
    return tokens, types, merges


def write_model(path: Path, *, vocab: Path, template: Path) -> None:
    tokens, types, merges = _vocab(vocab)
    writer = gguf.GGUFWriter(path, "qwen3")
    writer.add_name("cot-proxy tiny qwen3 (random weights)")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_feed_forward_length(N_FF)
    writer.add_block_count(N_LAYER)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_key_length(N_EMBD // N_HEAD)
    writer.add_value_length(N_EMBD // N_HEAD)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(PAD_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_pad_token_id(PAD_ID)
    writer.add_add_bos_token(False)
    writer.add_chat_template(template.read_text())

    rng = np.random.default_rng(SEED)

    def weights(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.02, size=shape).astype(np.float32)

    head = N_EMBD // N_HEAD
    ones = np.ones
    writer.add_tensor("token_embd.weight", weights(len(tokens), N_EMBD))
    writer.add_tensor("output_norm.weight", ones(N_EMBD, dtype=np.float32))
    for i in range(N_LAYER):
        blk = f"blk.{i}"
        writer.add_tensor(f"{blk}.attn_norm.weight", ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{blk}.attn_q.weight", weights(N_HEAD * head, N_EMBD))
        writer.add_tensor(f"{blk}.attn_k.weight", weights(N_HEAD_KV * head, N_EMBD))
        writer.add_tensor(f"{blk}.attn_v.weight", weights(N_HEAD_KV * head, N_EMBD))
        writer.add_tensor(f"{blk}.attn_output.weight", weights(N_EMBD, N_HEAD * head))
        writer.add_tensor(f"{blk}.attn_q_norm.weight", ones(head, dtype=np.float32))
        writer.add_tensor(f"{blk}.attn_k_norm.weight", ones(head, dtype=np.float32))
        writer.add_tensor(f"{blk}.ffn_norm.weight", ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{blk}.ffn_gate.weight", weights(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_up.weight", weights(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_down.weight", weights(N_EMBD, N_FF))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
