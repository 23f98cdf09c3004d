#!/usr/bin/env python3
"""Reference KL-divergence statistics from llama.cpp, for `slim kld`.

Writes tests/reference/kld/:
  gemma3-q4_0.kld   the base side in slim's logits format (docs/FORMATS.md,
                    "KLD logits"), written here independently of slim: the
                    top-16 log-probs of a Q4_0 re-quantization of Gemma 3 270M
                    Q4_K_M, made by llama_model_quantize in a temporary folder
                    and evaluated by llama.cpp;
  gemma3-q4_0.json  llama.cpp's statistics for that base against the model
                    that CI has, models/gemma-3-270m-Q4_K_M.gguf, also
                    evaluated by llama.cpp: what `slim kld --base
                    gemma3-q4_0.kld -m models/gemma-3-270m-Q4_K_M.gguf` should
                    print, up to slim's own difference from llama.cpp on the
                    Q4_K_M side.

Test-only; needs llama-cpp-python 0.3.36 (see DEVELOPERS.md). A fresh clone
needs only the committed outputs and the Q4_K_M model.

Chunks as llama-perplexity (and make_perplexity_refs.py): the text is the
first TEXT_BYTES bytes of the WikiText-2 test text (the perplexity reference's
slice), tokenized once with BOS, cut into chunks of N_CTX with BOS first, and
the logits at positions N_CTX/2 .. N_CTX-2 are scored. Per position, with
p the base and q the other:
  lse   = float max + log(double sum of exp(x - max))
  logp  = float32(logit - lse)
  KL_k  = sum_{top-k of p} p (logp - logq) + p_rest log(p_rest / q_rest)
and the exact KL over the whole vocabulary is recorded beside it (kl_full_*),
so the docs can say how far the top-k estimate is below it.

Noise floor: the other model is also run one token at a time
(other_sequential_*): the KL between llama.cpp's batched and sequential
evaluation of the same model, which bounds how closely any other engine can
be expected to reproduce these figures.
"""
import json
import math
import struct
import tempfile
from pathlib import Path

import gguf
import llama_cpp
import numpy as np
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/reference/kld"
WIKITEXT = ROOT.parent / "shared/testdata/eval/wikitext-2-raw/wiki.test.nonblank-lf.raw"
OTHER = ROOT / "models/gemma-3-270m-Q4_K_M.gguf"
N_CTX = 128
N_CHUNKS = 4
TOP_K = 16
TEXT_BYTES = 2453  # tests/reference/perplexity/gemma3.json text_bytes

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a(h: int, data: bytes) -> int:
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def vocab_hash(path: Path) -> tuple[int, int]:
    reader = gguf.GGUFReader(str(path))
    field = reader.fields["tokenizer.ggml.tokens"]
    h = FNV_OFFSET
    for idx in field.data:
        text = bytes(field.parts[idx])
        h = fnv1a(h, struct.pack("<I", len(text)) + text)
    return h, len(field.data)


def quantize(src: Path, dst: Path, ftype: int) -> None:
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed: {rc}")


def load(path: Path, n_batch: int) -> Llama:
    return Llama(model_path=str(path), n_ctx=N_CTX, n_batch=n_batch, logits_all=True, n_threads=2,
                 verbose=False, flash_attn=False)


def scored_rows(llm: Llama, tokens: list[int], sequential: bool) -> np.ndarray:
    """Logit rows at the scored positions of every chunk, in order."""
    rows = []
    for c in range(N_CHUNKS):
        chunk = list(tokens[c * N_CTX:(c + 1) * N_CTX])
        chunk[0] = llm.token_bos()
        llm.reset()
        if sequential:
            for t in chunk:
                llm.eval([t])
        else:
            llm.eval(chunk)
        for j in range(N_CTX // 2, N_CTX - 1):
            rows.append(np.array(llm.scores[j], dtype=np.float32))
    return np.stack(rows)


def targets(tokens: list[int]) -> list[int]:
    return [tokens[c * N_CTX + j + 1] for c in range(N_CHUNKS) for j in range(N_CTX // 2, N_CTX - 1)]


def lse_of(row: np.ndarray) -> float:
    m = np.float32(row.max())
    return float(m) + math.log(float(np.exp(row.astype(np.float64) - float(m)).sum()))


def logp_of(row: np.ndarray, lse: float) -> np.ndarray:
    return (row.astype(np.float64) - lse).astype(np.float32)


def top_ids(row: np.ndarray, k: int) -> np.ndarray:
    # Largest first, the lower id first on ties.
    return np.lexsort((np.arange(row.size), -row.astype(np.float64)))[:k]


def percentile(values: np.ndarray, fraction: float) -> float:
    return float(np.percentile(values, 100 * fraction))  # linear interpolation


def stats(base_rows: np.ndarray, other_rows: np.ndarray, tgt: list[int]) -> dict:
    kl_k, kl_full, nll_b, nll_o, top1, top5 = [], [], [], [], 0, 0
    for row_b, row_o, t in zip(base_rows, other_rows, tgt):
        lse_b, lse_o = lse_of(row_b), lse_of(row_o)
        lp_all = logp_of(row_b, lse_b).astype(np.float64)
        lq_all = logp_of(row_o, lse_o).astype(np.float64)
        ids = top_ids(row_b, TOP_K)
        p, lp, lq = np.exp(lp_all[ids]), lp_all[ids], lq_all[ids]
        kl = float((p * (lp - lq)).sum())
        p_rest = max(0.0, 1 - float(p.sum()))
        q_rest = max(1e-30, 1 - float(np.exp(lq).sum()))
        if p_rest > 0:
            kl += p_rest * math.log(p_rest / q_rest)
        kl_k.append(kl)
        kl_full.append(float((np.exp(lp_all) * (lp_all - lq_all)).sum()))
        nll_b.append(-float(lp_all[t]))
        nll_o.append(-float(lq_all[t]))
        other_top = top_ids(row_o, 5)
        top1 += int(other_top[0] == ids[0])
        top5 += int(ids[0] in other_top)
    kl_k, kl_full = np.array(kl_k), np.array(kl_full)
    n = len(kl_k)
    return {
        "n_positions": n,
        "kl_mean": float(kl_k.mean()),
        "kl_median": percentile(kl_k, 0.5),
        "kl_p99": percentile(kl_k, 0.99),
        "kl_max": float(kl_k.max()),
        "kl_full_mean": float(kl_full.mean()),
        "kl_full_max": float(kl_full.max()),
        "ppl_base": math.exp(float(np.mean(nll_b))),
        "ppl_other": math.exp(float(np.mean(nll_o))),
        "top1": top1 / n,
        "top5": top5 / n,
    }


def write_logits(path: Path, rows: np.ndarray, tokens: list[int], tgt: list[int], n_vocab: int,
                 vhash: int, model_name: str, text_name: str) -> None:
    tok_bytes = struct.pack(f"<{len(tokens)}i", *tokens)
    out = bytearray(b"SLIMKLD\0")
    out += struct.pack("<II", 1, n_vocab)
    out += struct.pack("<QQ", vhash, fnv1a(FNV_OFFSET, tok_bytes))
    out += struct.pack("<IIIII", len(tokens), N_CTX, N_CHUNKS, TOP_K, len(rows))
    for s in (model_name, text_name):
        b = s.encode()
        out += struct.pack("<I", len(b)) + b
    out += tok_bytes
    for row, t in zip(rows, tgt):
        lse = lse_of(row)
        lp = logp_of(row, lse)
        ids = top_ids(row, TOP_K)
        out += struct.pack("<ff", lse, float(lp[t]))
        out += struct.pack(f"<{TOP_K}i", *[int(i) for i in ids])
        out += struct.pack(f"<{TOP_K}f", *[float(lp[i]) for i in ids])
    path.write_bytes(bytes(out))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    text = WIKITEXT.read_bytes()[:TEXT_BYTES].decode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        base_path = Path(tmp) / "gemma-3-270m-Q4_0-requant.gguf"
        quantize(OTHER, base_path, llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0)
        vhash, n_tokens_vocab = vocab_hash(OTHER)
        assert vocab_hash(base_path) == (vhash, n_tokens_vocab)
        base = load(base_path, N_CTX)
        other = load(OTHER, N_CTX)
        tokens = base.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        assert tokens == other.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        assert len(tokens) >= N_CHUNKS * N_CTX
        tgt = targets(tokens)
        base_rows = scored_rows(base, tokens, sequential=False)
        other_rows = scored_rows(other, tokens, sequential=False)
        other_seq = scored_rows(other, tokens, sequential=True)
        n_vocab = base.n_vocab()
        write_logits(OUT / "gemma3-q4_0.kld", base_rows, tokens, tgt, n_vocab, vhash,
                     "gemma-3-270m Q4_0 re-quantized by llama.cpp (llama-cpp-python "
                     f"{llama_cpp.__version__})", "wiki.test.nonblank-lf.raw[:2453]")

    ref = {
        "base": "gemma-3-270m-Q4_K_M.gguf re-quantized to Q4_0 by llama_model_quantize "
                "(allow_requantize), evaluated by llama.cpp",
        "other": OTHER.name,
        "llama_cpp_python": llama_cpp.__version__,
        "text": "wikitext-2-raw/wiki.test.nonblank-lf.raw",
        "text_bytes": TEXT_BYTES,
        "n_ctx": N_CTX,
        "n_chunks": N_CHUNKS,
        "top_k": TOP_K,
        "n_tokens": len(tokens),
        "vocab_hash": f"{vhash:016x}",
        "n_vocab": n_vocab,
        "llama_cpp": stats(base_rows, other_rows, tgt),
        # The other model batched (as base) against itself one token at a time.
        "other_sequential": stats(other_rows, other_seq, tgt),
    }
    (OUT / "gemma3-q4_0.json").write_text(json.dumps(ref, indent=1) + "\n")
    print(json.dumps(ref, indent=1))


if __name__ == "__main__":
    main()
