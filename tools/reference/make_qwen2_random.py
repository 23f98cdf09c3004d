#!/usr/bin/env python3
"""Writes models/qwen2-random-Q8_0.gguf: a qwen2 model with random weights in
Qwen2.5-0.5B's shapes (896 wide, 14 query heads, 2 KV heads, FFN 4864, Q/K/V
biases, tied embeddings, RoPE base 1e6) but only 4 layers, and the real Qwen2
vocabulary from ../shared/testdata/vocab/ggml-vocab-qwen2.gguf.

Test-only, with the PyPI `gguf` package (0.19.0) and numpy. The output is
deterministic (fixed seed, deterministic quantizer); the SHA-256 printed at the
end is checked by scripts/get-models.sh, because the committed llama.cpp
reference values in tests/reference/decoder/ were computed on exactly this file.

Weights are drawn with std 1/sqrt(n_in) (norm weights near 1) so activations
keep their scale through the layers and the next-token distributions are
peaked enough for greedy decoding to mean something.
"""
import hashlib
import sys
from pathlib import Path

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
VOCAB = ROOT.parent / "shared/testdata/vocab/ggml-vocab-qwen2.gguf"
OUT = ROOT / "models/qwen2-random-Q8_0.gguf"

N_EMBD, N_HEAD, N_HEAD_KV, N_FF, N_LAYER = 896, 14, 2, 4864, 4
HEAD_DIM = N_EMBD // N_HEAD


def copy_tokenizer_keys(w: gguf.GGUFWriter, vocab: gguf.GGUFReader) -> None:
    """Copies the tokenizer.* keys verbatim from a real vocabulary file."""
    for name, field in vocab.fields.items():
        if not name.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            sub = field.types[-1]
            if sub == gguf.GGUFValueType.STRING:
                val = [bytes(field.parts[i]) for i in field.data]
            else:
                val = [field.parts[i][0].item() for i in field.data]
            w.add_key_value(name, val, vtype, sub_type=sub)
        elif vtype == gguf.GGUFValueType.STRING:
            w.add_key_value(name, bytes(field.parts[field.data[0]]), vtype)
        else:
            w.add_key_value(name, field.parts[field.data[0]][0].item(), vtype)


def main() -> None:
    rng = np.random.default_rng(20261125)
    vocab = gguf.GGUFReader(VOCAB)
    tokens = [bytes(vocab.fields["tokenizer.ggml.tokens"].parts[i]) for i in vocab.fields["tokenizer.ggml.tokens"].data]
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(str(OUT) + ".tmp", "qwen2")
    w.add_name("qwen2-random (Qwen2.5-0.5B shapes, 4 layers)")
    w.add_context_length(32768)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_freq_base(1000000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)

    copy_tokenizer_keys(w, vocab)

    def matrix(n_in: int, n_out: int) -> np.ndarray:
        return (rng.standard_normal((n_out, n_in), dtype=np.float32) / np.sqrt(n_in)).astype(np.float32)

    def q8(name: str, data: np.ndarray) -> None:
        q = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
        w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    def f32(name: str, data: np.ndarray) -> None:
        w.add_tensor(name, data.astype(np.float32))

    q8("token_embd.weight", rng.standard_normal((n_vocab, N_EMBD), dtype=np.float32))
    f32("output_norm.weight", 1.0 + 0.1 * rng.standard_normal(N_EMBD, dtype=np.float32))
    kv = N_HEAD_KV * HEAD_DIM
    for l in range(N_LAYER):
        p = f"blk.{l}."
        f32(p + "attn_norm.weight", 1.0 + 0.1 * rng.standard_normal(N_EMBD, dtype=np.float32))
        q8(p + "attn_q.weight", matrix(N_EMBD, N_EMBD))
        f32(p + "attn_q.bias", 0.1 * rng.standard_normal(N_EMBD, dtype=np.float32))
        q8(p + "attn_k.weight", matrix(N_EMBD, kv))
        f32(p + "attn_k.bias", 0.1 * rng.standard_normal(kv, dtype=np.float32))
        q8(p + "attn_v.weight", matrix(N_EMBD, kv))
        f32(p + "attn_v.bias", 0.1 * rng.standard_normal(kv, dtype=np.float32))
        q8(p + "attn_output.weight", matrix(N_EMBD, N_EMBD))
        f32(p + "ffn_norm.weight", 1.0 + 0.1 * rng.standard_normal(N_EMBD, dtype=np.float32))
        q8(p + "ffn_gate.weight", matrix(N_EMBD, N_FF))
        q8(p + "ffn_up.weight", matrix(N_EMBD, N_FF))
        q8(p + "ffn_down.weight", matrix(N_FF, N_EMBD))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    Path(str(OUT) + ".tmp").rename(OUT)
    digest = hashlib.sha256(OUT.read_bytes()).hexdigest()
    print(f"{OUT}: {OUT.stat().st_size} bytes, sha256 {digest}", file=sys.stderr)


if __name__ == "__main__":
    main()
