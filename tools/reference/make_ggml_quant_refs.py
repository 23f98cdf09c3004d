#!/usr/bin/env python3
"""Writes tests/reference/quants/<type>.ggml_quant.bin: float32 input and the
bytes ggml's own reference quantizers (quantize_row_*_ref in ggml-quants.c,
the quantizers llama.cpp uses without an importance matrix) make of it, for
the types the gguf package cannot quantize: Q8_1, Q2_K, Q3_K, Q4_K, Q5_K,
Q6_K, Q8_K, IQ4_NL, IQ4_XS.

ggml comes from the PyPI source distribution of llama-cpp-python 0.3.36, which
vendors llama.cpp's ggml 0.25.3: the script downloads it with pip (or takes
--sdist PATH), extracts ggml/, compiles ggml-quants.c with the small driver
ggml_quant_refs.c beside this script (cc -O2, no FMA contraction, as ggml's
base library is built) and runs it. Nothing of slim is compiled in. Needs a C
compiler and numpy; the file format is make_quant_refs.py's (kind 1).

Deterministic (fixed seed). Usage:
  python3 tools/reference/make_ggml_quant_refs.py [--sdist FILE] [--out DIR]
"""

import argparse
import pathlib
import struct
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_quant_refs import KIND_QUANT, write_ref  # noqa: E402
from gguf import GGMLQuantizationType as T  # noqa: E402

LLAMA_CPP_PYTHON = "0.3.36"
TYPES = [T.Q8_1, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_K, T.IQ4_NL, T.IQ4_XS]


def superblock_inputs(rng: np.random.Generator, qtype: T) -> np.ndarray:
    """Super-blocks of 256 floats that reach the corners of the scale searches.

    No all-zero block for IQ4_NL: this ggml (0.25.3) leaves the nibbles of an
    all-zero IQ4_NL block to whatever the block before left in a scratch
    buffer (its scale is 0, so they decode to 0 all the same). Upstream later
    zeroes them, as slim does; slim's tests check that such a block decodes to
    zeros instead."""
    n = 256
    blocks = []
    blocks.append(rng.standard_normal(n))                                  # plain
    scales = 10.0 ** rng.uniform(-3, 1, n // 32)                           # uneven sub-blocks
    blocks.append(rng.standard_normal(n) * np.repeat(scales, 32))
    heavy = rng.laplace(size=n) * 0.01
    heavy[rng.integers(0, n)] = 0.4                                        # one outlier
    blocks.append(heavy)
    zero_groups = rng.standard_normal(n)
    zero_groups[np.arange(n) // 16 % 3 == 0] = 0.0                         # all-zero sub-blocks
    blocks.append(zero_groups)
    blocks.append(rng.uniform(0.0, 0.2, n))                                # all positive: min > 0
    if qtype != T.IQ4_NL:
        blocks.append(np.zeros(n))                                         # all zero
    blocks.append(np.full(n, -0.731))                                      # constant
    blocks.append(np.round(rng.standard_normal(n) * 4) / 4)                # on a grid: ties
    blocks.append(rng.standard_normal(n) * 1e-6)                           # subnormal f16 scales
    blocks.append(rng.uniform(-3e4, 3e4, n))                               # large
    return np.concatenate(blocks).astype(np.float32)


def fetch_sdist(dest: pathlib.Path) -> pathlib.Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", ":all:", f"llama-cpp-python=={LLAMA_CPP_PYTHON}",
                    "-d", str(dest)], check=True)
    return next(dest.glob("llama_cpp_python-*.tar.gz"))


def build_driver(sdist: pathlib.Path, work: pathlib.Path) -> pathlib.Path:
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/vendor/llama.cpp/ggml/" in m.name]
        tar.extractall(work, members=members, filter="data")
    ggml = next(work.glob("*/vendor/llama.cpp/ggml"))
    exe = work / "ggml_quant_refs"
    subprocess.run(["cc", "-O2", "-std=gnu11", "-ffp-contract=off",
                    f"-I{ggml / 'include'}", f"-I{ggml / 'src'}",
                    str(HERE / "ggml_quant_refs.c"), str(ggml / "src" / "ggml-quants.c"),
                    "-lm", "-o", str(exe)], check=True)
    return exe


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdist", type=pathlib.Path, help="llama-cpp-python source tarball")
    ap.add_argument("--out", type=pathlib.Path, default=HERE.parents[1] / "tests/reference/quants")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20250118)
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        sdist = args.sdist or fetch_sdist(work)
        exe = build_driver(sdist, work)
        total = 0
        for qtype in TYPES:
            x = superblock_inputs(rng, qtype)
            stdin = struct.pack("<IQ", int(qtype), x.size) + x.astype("<f4").tobytes()
            q = subprocess.run([str(exe)], input=stdin, capture_output=True, check=True).stdout
            path = args.out / f"{qtype.name.lower()}.ggml_quant.bin"
            write_ref(path, qtype, KIND_QUANT, np.frombuffer(q, dtype=np.uint8), x)
            total += path.stat().st_size
    print(f"make_ggml_quant_refs: wrote {len(TYPES)} files ({total} bytes) to {args.out} "
          f"with ggml from llama-cpp-python {LLAMA_CPP_PYTHON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
