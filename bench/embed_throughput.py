#!/usr/bin/env python3
"""Sentence-embedding throughput: slim against sentence-transformers, on the
same sentences, batch 32, 2 threads, CPU, in one run.

Sentences: the 1,000 of tests/reference/embed/sentences.txt (STS-B test
sentences, deduplicated). Models: all-MiniLM-L6-v2 (models/all-MiniLM-L6-v2)
and bge-small-random (models/bge-small-random), each

  sentence-transformers  SentenceTransformer(folder, device="cpu").encode(sentences,
                         batch_size=32) with torch.set_num_threads(2), float32;
                         timed around encode() (tokenization included);
  slim                   `slim embed -m GGUF -f sentences.txt --batch 32 -t 2 -o /dev/null`
                         on the folder converted by `slim convert --type T`; the time
                         slim prints (std::chrono around tokenization and the forward
                         passes; model loading and writing the output are not timed).

Before timing, each slim output is compared with sentence-transformers'
(minimum cosine). One warm-up run each, then --runs rounds alternating
between the systems (order rotating), median per system: drift on a busy
machine hits all of them alike.

Output: a Markdown table (for docs/BENCHMARKS.md) on stdout, progress on stderr.
Usage: python bench/embed_throughput.py [--slim build/release/slim] [--runs 5]
                                        [--types f32 f16 q8_0] [--models NAME ...]
"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ROOT / "tests/reference/embed/sentences.txt"
MODELS = {
    "all-MiniLM-L6-v2": ROOT / "models/all-MiniLM-L6-v2",
    "bge-small-random": ROOT / "models/bge-small-random",
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def slim_run(slim, gguf, out=None):
    r = subprocess.run([slim, "embed", "-m", gguf, "-f", str(SENTENCES), "--batch", "32", "-t", "2",
                        "--format", "npy", "-o", out or "/dev/null"],
                       capture_output=True, text=True, check=True)
    m = re.search(r"embed: (\d+) texts, \d+ tokens in ([0-9.]+) s", r.stderr)
    return int(m.group(1)) / float(m.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--slim", default=str(ROOT / "build/release/slim"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--types", nargs="+", default=["f32", "f16", "q8_0"])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--model-dir", action="append", default=[], metavar="NAME=DIR")
    args = ap.parse_args()
    for kv in args.model_dir:
        name, d = kv.split("=", 1)
        MODELS[name] = Path(d)
    torch.set_num_threads(2)
    sentences = SENTENCES.read_text(encoding="utf-8").splitlines()
    tmp_dir = tempfile.TemporaryDirectory(prefix="slim-embed-bench-")  # removed at exit
    tmp = Path(tmp_dir.name)
    rows = []
    for name in args.models:
        folder = MODELS[name]
        st = SentenceTransformer(str(folder), device="cpu")
        ref = st.encode(sentences, batch_size=32, convert_to_numpy=True)
        systems = {}

        def run_st():
            t0 = time.perf_counter()
            st.encode(sentences, batch_size=32, convert_to_numpy=True)
            return len(sentences) / (time.perf_counter() - t0)

        systems["sentence-transformers"] = run_st
        cosines = {}
        for t in args.types:
            gguf = str(tmp / f"{name}-{t}.gguf")
            subprocess.run([args.slim, "convert", str(folder), "-o", gguf, "--type", t],
                           capture_output=True, check=True)
            npy = str(tmp / f"{name}-{t}.npy")
            slim_run(args.slim, gguf, npy)  # the warm-up, and the output to check
            e = np.load(npy)
            cos = (e * ref).sum(1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(ref, axis=1))
            cosines[t] = float(cos.min())
            systems[f"slim {t}"] = (lambda g=gguf: slim_run(args.slim, g))
        times = {k: [] for k in systems}
        keys = list(systems)
        for rnd in range(args.runs):
            order = keys[rnd % len(keys):] + keys[:rnd % len(keys)]
            for k in order:
                times[k].append(systems[k]())
            log(f"{name} round {rnd + 1}: " +
                ", ".join(f"{k} {times[k][-1]:.1f}/s" for k in keys))
        base = statistics.median(times["sentence-transformers"])
        for k in keys:
            med = statistics.median(times[k])
            t = k.split()[-1] if k.startswith("slim") else ""
            rows.append((name, k, med, med / base, cosines.get(t)))
    print(f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}, "
          f"{len(sentences)} sentences, batch 32, 2 threads, median of {args.runs} rounds\n")
    print("| model | system | sentences/s | vs sentence-transformers | min cosine vs ST |")
    print("|---|---|---:|---:|---:|")
    for name, k, med, ratio, cos in rows:
        print(f"| {name} | {k} | {med:.1f} | {ratio:.2f}x | {'' if cos is None else f'{cos:.6f}'} |")


if __name__ == "__main__":
    main()
