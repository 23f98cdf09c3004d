#!/usr/bin/env python3
"""slim against llama.cpp: prefill (pp) and decode (tg) tokens/s on the same
models and thread counts, in one run, plus decode's fraction of the memory
bandwidth roofline. One command does everything (it makes the Qwen2.5-1.5B-
shaped models with bench/make-qwen-1.5b.py and builds bench/bandwidth.c when
they are missing):

    python3 bench/vs-llama-cpp.py [--rounds 5] [-p 512] [-n 128] [--threads 1,2]

Sides (both time the same work: a pp test is one prompt of P random token ids,
BOS first where the vocabulary adds one, on an empty cache; a tg test is N
single-token decodes of random ids from an empty cache; no sampling):

  slim       `slim bench -m MODEL -p P -n N -r 1 -t T -o json`: one untimed
             warm-up of each test, then one timed run, timed in the process;
  llama.cpp  llama-cpp-python's low-level API (llama.cpp as vendored in
             llama-cpp-python, commit from its CHANGELOG): a context with
             n_ctx = P + N, n_batch = n_ubatch = 512, n_threads = n_threads_batch = T
             and the default flash-attention setting; per test llama_memory_clear,
             then llama_decode of the prompt (pp) or N llama_decode calls of one
             token (tg), each followed by llama_synchronize, timed with
             perf_counter around them. One warm-up of each test after loading.
             This is the same loop as llama-bench's test_prompt/test_gen.
  llama.cpp native (with --native-llama DIR): the same tg loop in a second
             llama-cpp-python, built for the machine (GGML_NATIVE=ON: with AMX
             where the CPU has it) and installed with `pip install --target DIR`,
             run in a worker process. Decode only: that build dies in its AMX
             path on any batch of more than one token on these VMs.
  bandwidth  bench/bandwidth.c over a buffer of the model file's size on
             transparent huge pages, at T threads (best of 5 runs per round).

Rounds alternate the sides (slim, llama.cpp, llama.cpp native, bandwidth; the
order rotates each round), so drift on a shared machine hits all alike; every
figure is the median over the rounds. A decode ratio is against the faster of
the two llama.cpp builds. The roofline fraction is
    weight bytes read per token x tg tokens/s / read bandwidth (at T threads),
where the weight bytes per token are all tensor bytes except the rows of an
untied token embedding that a token does not read (one row is counted). The
KV cache reads of tg (at most N positions) are left out: under 1% here.

Output: Markdown tables on stdout (for docs/BENCHMARKS.md), progress on
stderr; --json FILE keeps every sample.
"""
import argparse
import ctypes
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gguf
import llama_cpp

ROOT = Path(__file__).resolve().parents[1]
MODELS = [
    ("gemma-3-270m Q4_K_M", ROOT / "models/gemma-3-270m-Q4_K_M.gguf"),
    ("SmolLM2-135M Q4_1", ROOT / "models/SmolLM2-135M-Instruct-Q4_1.gguf"),
    ("Qwen2.5-1.5B-shaped Q4_0", ROOT / "models/bench/qwen2.5-1.5b-random-Q4_0.gguf"),
    ("Qwen2.5-1.5B-shaped Q8_0", ROOT / "models/bench/qwen2.5-1.5b-random-Q8_0.gguf"),
]
LLAMA_CPP_COMMIT = "0c1e57098"  # llama-cpp-python 0.3.36's CHANGELOG


@llama_cpp.llama_log_callback
def _quiet_log(level, text, user_data):
    pass


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def weight_bytes_per_token(path: Path) -> int:
    r = gguf.GGUFReader(path)
    names = {t.name: t for t in r.tensors}
    total = sum(int(t.n_bytes) for t in r.tensors)
    emb = names.get("token_embd.weight")
    if emb is not None and "output.weight" in names:
        rows = int(emb.shape[1]) if len(emb.shape) > 1 else 1
        total -= int(emb.n_bytes) - int(emb.n_bytes) // rows
    return total


class LlamaSide:
    """One model on llama.cpp at one thread count, loaded once."""

    def __init__(self, path: Path, n_threads: int, n_prompt: int, n_gen: int):
        mp = llama_cpp.llama_model_default_params()
        mp.use_mmap = True
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), mp)
        if not self.model:
            raise RuntimeError(f"llama.cpp cannot load {path}")
        cp = llama_cpp.llama_context_default_params()
        cp.n_ctx = n_prompt + n_gen
        cp.n_batch = cp.n_ubatch = 512
        cp.n_threads = cp.n_threads_batch = n_threads
        self.ctx = llama_cpp.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError("llama_init_from_model failed")
        self.flash_attn = cp.flash_attn_type
        vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        self.bos = llama_cpp.llama_vocab_bos(vocab) if llama_cpp.llama_vocab_get_add_bos(vocab) else None
        self.rng = random.Random(1)

    def _tokens(self, n: int):
        toks = [self.rng.randrange(self.n_vocab) for _ in range(n)]
        if self.bos is not None and n > 0:
            toks[0] = self.bos
        return (llama_cpp.llama_token * n)(*toks)

    def _decode(self, arr, n: int):
        batch = llama_cpp.llama_batch_get_one(arr, n)
        if llama_cpp.llama_decode(self.ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")

    def pp(self, n_prompt: int) -> float:
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        toks = self._tokens(n_prompt)
        t0 = time.perf_counter()
        for begin in range(0, n_prompt, 512):
            n = min(512, n_prompt - begin)
            self._decode(ctypes.cast(ctypes.byref(toks, begin * ctypes.sizeof(llama_cpp.llama_token)),
                                     ctypes.POINTER(llama_cpp.llama_token)), n)
        llama_cpp.llama_synchronize(self.ctx)
        return n_prompt / (time.perf_counter() - t0)

    def tg(self, n_gen: int) -> float:
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        toks = self._tokens(n_gen)
        one = (llama_cpp.llama_token * 1)()
        t0 = time.perf_counter()
        for i in range(n_gen):
            one[0] = toks[i]
            self._decode(one, 1)
            llama_cpp.llama_synchronize(self.ctx)
        return n_gen / (time.perf_counter() - t0)

    def close(self):
        llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)


class NativeSide:
    """The tg test on a second llama-cpp-python (another build of llama.cpp),
    in a worker process: one interpreter cannot load two builds of the module."""

    def __init__(self, site_dir: str, path: Path, n_threads: int, n_prompt: int, n_gen: int):
        env = dict(os.environ, PYTHONPATH=site_dir)
        self.proc = subprocess.Popen([sys.executable, __file__, "--tg-worker", str(path), str(n_threads),
                                      str(n_prompt), str(n_gen)], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.version = self._read()  # after loading and one warm-up run

    def _read(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the native llama.cpp worker died")
        return line.strip()

    def tg(self) -> float:
        self.proc.stdin.write("tg\n")
        self.proc.stdin.flush()
        return float(self._read())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def tg_worker(path: str, n_threads: int, n_prompt: int, n_gen: int) -> None:
    llama_cpp.llama_backend_init()
    llama_cpp.llama_log_set(_quiet_log, ctypes.c_void_p(0))
    side = LlamaSide(Path(path), n_threads, n_prompt, n_gen)
    side.tg(n_gen)
    print(f"llama-cpp-python {llama_cpp.__version__} at {Path(llama_cpp.__file__).parent}", flush=True)
    for line in sys.stdin:
        if line.strip() == "tg":
            print(side.tg(n_gen), flush=True)
    side.close()


def slim_run(slim: Path, path: Path, n_threads: int, n_prompt: int, n_gen: int):
    out = subprocess.run([str(slim), "bench", "-m", str(path), "-p", str(n_prompt), "-n", str(n_gen),
                          "-r", "1", "-t", str(n_threads), "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)
    pp = next(r["avg_ts"] for r in rows if r["n_prompt"] > 0)
    tg = next(r["avg_ts"] for r in rows if r["n_gen"] > 0)
    return pp, tg


def bandwidth_run(exe: Path, size: int, n_threads: int) -> float:
    out = subprocess.run([str(exe), str(size), str(n_threads), "5"], check=True, capture_output=True,
                         text=True).stdout
    return float(out.split("best_gbps=")[1].split()[0])


def lscpu_summary() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return platform.processor()
    fields = dict(l.split(":", 1) for l in out.splitlines() if ":" in l)
    name = fields.get("Model name", "?").strip()
    cpus = fields.get("CPU(s)", "?").strip()
    flags = fields.get("Flags", "").split()
    keep = [f for f in flags if f.startswith(("avx", "amx", "fma", "f16c"))]
    return f"{name}, {cpus} CPUs, flags: {' '.join(keep)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slim", default=str(ROOT / "build/release/slim"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="", help="comma-separated substrings of the model labels")
    ap.add_argument("--json", help="write every sample here")
    ap.add_argument("--native-llama", metavar="DIR",
                    help="site dir of a llama-cpp-python built with GGML_NATIVE=ON: its decode is timed too")
    ap.add_argument("--tg-worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.tg_worker:
        path, t, p, n = args.tg_worker
        tg_worker(path, int(t), int(p), int(n))
        return
    threads = [int(t) for t in args.threads.split(",")]

    bw_exe, bw_src = ROOT / "build/bandwidth", ROOT / "bench/bandwidth.c"
    if not bw_exe.exists() or bw_exe.stat().st_mtime < bw_src.stat().st_mtime:
        bw_exe.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-O2", "-mavx2", "-pthread", str(bw_src), "-o", str(bw_exe)],
                       check=True)
    models = [(l, p) for l, p in MODELS if not args.models or any(s in l for s in args.models.split(","))]
    if any(not p.exists() and "bench/" in str(p) for _, p in models):
        subprocess.run([sys.executable, str(ROOT / "bench/make-qwen-1.5b.py"), "--types", "Q8_0,Q4_0"], check=True)
    llama_cpp.llama_backend_init()
    llama_cpp.llama_log_set(_quiet_log, ctypes.c_void_p(0))

    slim_version = subprocess.run([args.slim, "--version"], capture_output=True, text=True).stdout.strip()
    log(f"{slim_version}; llama-cpp-python {llama_cpp.__version__} (llama.cpp {LLAMA_CPP_COMMIT})")
    results = []
    for label, path in models:
        size = path.stat().st_size
        wbytes = weight_bytes_per_token(path)
        for t in threads:
            log(f"{label}, {t} threads: loading llama.cpp")
            side = LlamaSide(path, t, args.p, args.n)
            side.pp(args.p)  # warm-up
            side.tg(args.n)
            native = NativeSide(args.native_llama, path, t, args.p, args.n) if args.native_llama else None
            if native:
                log(f"  native build: {native.version}")
            s = {"slim_pp": [], "slim_tg": [], "llama_pp": [], "llama_tg": [], "native_tg": [], "bw": []}
            for r in range(args.rounds):
                order = ["slim", "llama", "native", "bw"] if native else ["slim", "llama", "bw"]
                order = order[r % len(order):] + order[:r % len(order)]
                for who in order:
                    if who == "slim":
                        pp, tg = slim_run(Path(args.slim), path, t, args.p, args.n)
                        s["slim_pp"].append(pp)
                        s["slim_tg"].append(tg)
                    elif who == "llama":
                        s["llama_pp"].append(side.pp(args.p))
                        s["llama_tg"].append(side.tg(args.n))
                    elif who == "native":
                        s["native_tg"].append(native.tg())
                    else:
                        s["bw"].append(bandwidth_run(bw_exe, size, t))
                native_log = f", native tg {s['native_tg'][-1]:.2f}" if native else ""
                log(f"  round {r + 1}: slim pp {s['slim_pp'][-1]:.1f} tg {s['slim_tg'][-1]:.2f}, "
                    f"llama.cpp pp {s['llama_pp'][-1]:.1f} tg {s['llama_tg'][-1]:.2f}{native_log}, "
                    f"bw {s['bw'][-1]:.2f} GB/s")
            fa = side.flash_attn
            side.close()
            if native:
                native.close()
            med = {k: statistics.median(v) for k, v in s.items() if v}
            results.append({"model": label, "file": path.name, "threads": t, "weight_bytes_per_token": wbytes,
                            "file_size": size, "samples": s, "median": med, "flash_attn_type": int(fa)})

    print(f"Machine: {lscpu_summary()}; load average {os.getloadavg()[0]:.1f} at the end.")
    print(f"slim: {slim_version}. llama.cpp: llama-cpp-python {llama_cpp.__version__}, "
          f"vendored llama.cpp {LLAMA_CPP_COMMIT}. {args.rounds} rounds, medians; pp{args.p}, tg{args.n}.\n")
    native = bool(args.native_llama)
    if native:
        print("llama.cpp native: the same llama.cpp built with GGML_NATIVE=ON (AMX where the CPU has it), "
              "decode only; a tg ratio is against the faster build.\n")
        print("| model | threads | test | slim t/s | llama.cpp t/s | llama.cpp native t/s | slim / best llama.cpp |")
        print("|---|---:|---|---:|---:|---:|---:|")
    else:
        print("| model | threads | test | slim t/s | llama.cpp t/s | slim / llama.cpp |")
        print("|---|---:|---|---:|---:|---:|")
    for r in results:
        m = r["median"]
        for test, a, b in (("pp", "slim_pp", "llama_pp"), ("tg", "slim_tg", "llama_tg")):
            name = f"pp{args.p}" if test == "pp" else f"tg{args.n}"
            if native:
                nat = m["native_tg"] if test == "tg" else None
                best = max(m[b], nat) if nat else m[b]
                nat_cell = f"{nat:.2f}" if nat else "n/a"
                print(f"| {r['model']} | {r['threads']} | {name} | {m[a]:.2f} | {m[b]:.2f} | {nat_cell} | "
                      f"{m[a] / best:.2f} |")
            else:
                print(f"| {r['model']} | {r['threads']} | {name} | {m[a]:.2f} | {m[b]:.2f} | {m[a] / m[b]:.2f} |")
    native_head = " llama.cpp native tg t/s | native % of roofline |" if native else ""
    print("\n| model | threads | weight bytes/token | read bandwidth GB/s | slim tg t/s | slim % of roofline "
          "| llama.cpp tg t/s | llama.cpp % of roofline |" + native_head)
    print("|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if native else ""))
    for r in results:
        m = r["median"]
        bw = m["bw"] * 1e9
        wb = r["weight_bytes_per_token"]
        native_cells = (f" {m['native_tg']:.2f} | {100 * wb * m['native_tg'] / bw:.0f}% |" if native else "")
        print(f"| {r['model']} | {r['threads']} | {wb / 1e6:.1f} MB | {m['bw']:.2f} | {m['slim_tg']:.2f} | "
              f"{100 * wb * m['slim_tg'] / bw:.0f}% | {m['llama_tg']:.2f} | {100 * wb * m['llama_tg'] / bw:.0f}% |"
              + native_cells)
    if args.json:
        Path(args.json).write_text(json.dumps({"slim": slim_version, "llama_cpp_python": llama_cpp.__version__,
                                               "llama_cpp_commit": LLAMA_CPP_COMMIT, "rounds": args.rounds,
                                               "n_prompt": args.p, "n_gen": args.n, "results": results},
                                              indent=1))


if __name__ == "__main__":
    main()
