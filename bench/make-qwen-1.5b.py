#!/usr/bin/env python3
"""Writes Qwen2.5-1.5B-shaped models with random weights to models/bench/, for
speed benchmarks (random weights run exactly as fast as trained ones):

  qwen2.5-1.5b-random-F16.gguf   the source: every matrix F16, norms and biases F32
  qwen2.5-1.5b-random-<TYPE>.gguf  llama.cpp's quantizer (llama_model_quantize
                                 through llama-cpp-python) on the F16 file,
                                 as `llama-quantize SRC DST TYPE` would

Shapes are Qwen2.5-1.5B's (config.json): 28 layers, 1536 wide, 12 query heads
and 2 KV heads of 128, FFN 8960, Q/K/V biases, tied embeddings, RoPE base 1e6,
context 32768, and the real Qwen2 vocabulary (151,936 tokens) from
../shared/testdata/vocab/ggml-vocab-qwen2.gguf. Weights are N(0, 1/n_in).

Usage: python3 bench/make-qwen-1.5b.py [--types Q8_0,Q4_0] [--force]
The default types are the two the llama.cpp comparison needs; the
quantization-type comparison (bench/quant-types.py) asks for the rest.
Existing files are kept unless --force. Needs gguf, numpy, llama-cpp-python.
"""
import argparse
import ctypes
import sys
import time
from pathlib import Path

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools/reference"))
from make_qwen2_random import copy_tokenizer_keys  # noqa: E402
VOCAB = ROOT.parent / "shared/testdata/vocab/ggml-vocab-qwen2.gguf"
OUT_DIR = ROOT / "models/bench"
STEM = "qwen2.5-1.5b-random"

N_EMBD, N_HEAD, N_HEAD_KV, N_FF, N_LAYER = 1536, 12, 2, 8960, 28
HEAD_DIM = N_EMBD // N_HEAD

FTYPES = {
    "Q8_0": 7, "Q6_K": 18, "Q5_K_M": 17, "Q5_0": 8, "Q4_K_M": 15, "Q4_0": 2, "Q4_1": 3,
    "Q3_K_M": 12, "Q2_K": 10,
}


def path_for(type_name: str) -> Path:
    return OUT_DIR / f"{STEM}-{type_name}.gguf"


def write_f16(out: Path) -> None:
    rng = np.random.default_rng(20261125)
    vocab = gguf.GGUFReader(VOCAB)
    n_vocab = len(vocab.fields["tokenizer.ggml.tokens"].data)
    tmp = Path(str(out) + ".tmp")
    w = gguf.GGUFWriter(str(tmp), "qwen2")
    w.add_name("qwen2.5-1.5b-random (Qwen2.5-1.5B shapes, random weights)")
    w.add_context_length(32768)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_freq_base(1000000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    copy_tokenizer_keys(w, vocab)

    def f16(name: str, n_in: int, n_out: int, scale: float) -> None:
        m = rng.standard_normal((n_out, n_in), dtype=np.float32)
        m *= scale
        w.add_tensor(name, m.astype(np.float16))

    def f32(name: str, data: np.ndarray) -> None:
        w.add_tensor(name, data.astype(np.float32))

    def norm(n: int) -> np.ndarray:
        return 1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)

    f16("token_embd.weight", N_EMBD, n_vocab, 1.0)
    f32("output_norm.weight", norm(N_EMBD))
    kv = N_HEAD_KV * HEAD_DIM
    for l in range(N_LAYER):
        p = f"blk.{l}."
        f32(p + "attn_norm.weight", norm(N_EMBD))
        f16(p + "attn_q.weight", N_EMBD, N_EMBD, N_EMBD ** -0.5)
        f32(p + "attn_q.bias", 0.1 * rng.standard_normal(N_EMBD, dtype=np.float32))
        f16(p + "attn_k.weight", N_EMBD, kv, N_EMBD ** -0.5)
        f32(p + "attn_k.bias", 0.1 * rng.standard_normal(kv, dtype=np.float32))
        f16(p + "attn_v.weight", N_EMBD, kv, N_EMBD ** -0.5)
        f32(p + "attn_v.bias", 0.1 * rng.standard_normal(kv, dtype=np.float32))
        f16(p + "attn_output.weight", N_EMBD, N_EMBD, N_EMBD ** -0.5)
        f32(p + "ffn_norm.weight", norm(N_EMBD))
        f16(p + "ffn_gate.weight", N_EMBD, N_FF, N_EMBD ** -0.5)
        f16(p + "ffn_up.weight", N_EMBD, N_FF, N_EMBD ** -0.5)
        f16(p + "ffn_down.weight", N_FF, N_EMBD, N_FF ** -0.5)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.rename(out)


def quantize(src: Path, dst: Path, type_name: str) -> None:
    import llama_cpp

    global _quiet  # kept alive while llama.cpp holds the callback
    _quiet = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
    llama_cpp.llama_log_set(_quiet, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[type_name]
    params.nthread = 0  # llama.cpp: one per core
    tmp = Path(str(dst) + ".tmp")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize {type_name} failed: {rc}")
    tmp.rename(dst)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--types", default="Q8_0,Q4_0", help="comma-separated, from: " + ",".join(FTYPES))
    ap.add_argument("--force", action="store_true", help="rewrite files that exist")
    args = ap.parse_args()
    types = [t for t in args.types.split(",") if t]
    for t in types:
        if t not in FTYPES:
            sys.exit(f"unknown type {t}; known: {', '.join(FTYPES)}")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    src = path_for("F16")
    if args.force or not src.exists():
        t0 = time.time()
        write_f16(src)
        print(f"{src}: {src.stat().st_size} bytes in {time.time() - t0:.0f} s", file=sys.stderr)
    for t in types:
        dst = path_for(t)
        if dst.exists() and not args.force:
            print(f"{dst}: exists", file=sys.stderr)
            continue
        t0 = time.time()
        quantize(src, dst, t)
        print(f"{dst}: {dst.stat().st_size} bytes in {time.time() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
