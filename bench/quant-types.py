#!/usr/bin/env python3
"""Speed of one model in several quantization types, slim and llama.cpp side
by side, to test two claims:

  1. 4-bit types beat 3-bit ones in prefill and decode speed;
  2. 5- and 6-bit types are no faster than 8-bit.

The model is Qwen2.5-1.5B-shaped with random weights (bench/make-qwen-1.5b.py):
an F16 source quantized by llama.cpp's own quantizer (llama_model_quantize in
llama-cpp-python 0.3.36, as `llama-quantize SRC DST TYPE`), so every type is
made from the same unquantized weights, not requantized. The script makes the
files that are missing, then alternates the types (and slim / llama.cpp) in
rounds and reports medians, as bench/vs-llama-cpp.py does for one type:

    python3 bench/quant-types.py [--rounds 3] [-p 128] [-n 32] [--threads 2]
"""
import argparse
import importlib.util
import statistics
import subprocess
import sys
from pathlib import Path

import gguf

ROOT = Path(__file__).resolve().parents[1]
TYPES = ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K"]


def load_module(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slim", default=str(ROOT / "build/release/slim"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-p", type=int, default=128)
    ap.add_argument("-n", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--no-llama", action="store_true", help="time slim only")
    args = ap.parse_args()
    types = args.types.split(",")

    make = load_module("make_qwen", "make-qwen-1.5b.py")
    vs = load_module("vs_llama_cpp", "vs-llama-cpp.py")
    missing = [t for t in types if not make.path_for(t).exists()]
    if missing:
        subprocess.run([sys.executable, str(ROOT / "bench/make-qwen-1.5b.py"), "--types", ",".join(missing)],
                       check=True)
    if not args.no_llama:
        vs.llama_cpp.llama_backend_init()
        vs.llama_cpp.llama_log_set(vs._quiet_log, vs.ctypes.c_void_p(0))

    samples = {t: {"slim_pp": [], "slim_tg": [], "llama_pp": [], "llama_tg": []} for t in types}
    info = {}
    for t in types:
        path = make.path_for(t)
        r = gguf.GGUFReader(path)
        n_params = sum(int(x.n_elements) for x in r.tensors)
        n_bytes = sum(int(x.n_bytes) for x in r.tensors)
        info[t] = (n_bytes, 8.0 * n_bytes / n_params)
    for rnd in range(args.rounds):
        order = types[rnd % len(types):] + types[:rnd % len(types)]
        for t in order:
            path = make.path_for(t)
            pp, tg = vs.slim_run(Path(args.slim), path, args.threads, args.p, args.n)
            samples[t]["slim_pp"].append(pp)
            samples[t]["slim_tg"].append(tg)
            if not args.no_llama:
                side = vs.LlamaSide(path, args.threads, args.p, args.n)
                side.pp(args.p)  # warm-up
                side.tg(args.n)
                samples[t]["llama_pp"].append(side.pp(args.p))
                samples[t]["llama_tg"].append(side.tg(args.n))
                side.close()
            vs.log(f"round {rnd + 1} {t}: slim pp {pp:.1f} tg {tg:.2f}" +
                   ("" if args.no_llama else
                    f", llama.cpp pp {samples[t]['llama_pp'][-1]:.1f} tg {samples[t]['llama_tg'][-1]:.2f}"))

    med = {t: {k: (statistics.median(v) if v else float("nan")) for k, v in s.items()} for t, s in samples.items()}
    print(f"Machine: {vs.lscpu_summary()}. {args.threads} threads, pp{args.p} / tg{args.n}, "
          f"median of {args.rounds} rounds. Qwen2.5-1.5B-shaped random weights, quantized from F16 by "
          f"llama.cpp {vs.LLAMA_CPP_COMMIT} (llama-cpp-python {vs.llama_cpp.__version__}).\n")
    print("| type | bits/weight | tensor MB | slim pp t/s | slim tg t/s | llama.cpp pp t/s | llama.cpp tg t/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for t in types:
        m = med[t]
        print(f"| {t} | {info[t][1]:.2f} | {info[t][0] / 1e6:.0f} | {m['slim_pp']:.2f} | {m['slim_tg']:.2f} | "
              f"{m['llama_pp']:.2f} | {m['llama_tg']:.2f} |")

    def verdict(a: str, b: str, key: str, faster: bool) -> str:
        if a not in med or b not in med:
            return "n/a"
        x, y = med[a][key], med[b][key]
        ok = x > y if faster else x <= y
        return f"{a} {x:.2f} vs {b} {y:.2f}: {'yes' if ok else 'no'}"

    print()
    for side in ("slim", "llama"):
        if side == "llama" and args.no_llama:
            continue
        name = "slim" if side == "slim" else "llama.cpp"
        for test in ("pp", "tg"):
            key = f"{side}_{test}"
            print(f"- {name} {test}: 4-bit beats 3-bit: {verdict('Q4_K_M', 'Q3_K_M', key, True)}; "
                  f"{verdict('Q4_0', 'Q3_K_M', key, True)}. 5/6-bit no faster than 8-bit: "
                  f"{verdict('Q6_K', 'Q8_0', key, False)}; {verdict('Q5_K_M', 'Q8_0', key, False)}")


if __name__ == "__main__":
    main()
