#!/usr/bin/env python3
"""Writes tests/reference/model_dequant/<model>.tsv: one line per tensor of each
real test model with its name, ggml type, element count and the XXH64 (seed 0)
of its float32 little-endian dequantization by gguf.quants.dequantize.

Made with the PyPI packages `gguf` (gguf-py, version 0.19.0; the script refuses
another version unless --any-gguf is given), numpy and `xxhash`. The models are
the two that scripts/get-models.sh puts into models/:
  gemma-3-270m-Q4_K_M.gguf (F32, Q5_0, Q4_K, Q8_0, Q6_K tensors)
  SmolLM2-135M-Instruct-Q4_1.gguf (F32, Q4_1, Q8_0 tensors)
The first line of each file is a comment with the model's SHA-256 and the
gguf version. Tensors are dequantized in chunks of rows and hashed as a
stream, so memory stays small; the hash is that of the whole tensor.

Usage: python3 tools/reference/make_model_dequant_refs.py [--models DIR] [--out DIR]
"""

import argparse
import hashlib
import pathlib
import sys

import numpy as np
import xxhash

import gguf
from gguf.quants import dequantize

GGUF_VERSION = "0.19.0"
MODELS = ["gemma-3-270m-Q4_K_M.gguf", "SmolLM2-135M-Instruct-Q4_1.gguf"]
ROWS_PER_CHUNK = 4096


def sha256_of(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def tensor_hash(t) -> str:
    data = t.data
    # Rows of raw bytes (quantized types) or of values (F32/F16): the last axis
    # is ne[0]; everything before it is rows.
    rows = data.reshape(-1, data.shape[-1]) if data.ndim > 1 else data.reshape(1, -1)
    h = xxhash.xxh64(seed=0)
    n = 0
    for start in range(0, rows.shape[0], ROWS_PER_CHUNK):
        chunk = np.ascontiguousarray(rows[start:start + ROWS_PER_CHUNK])
        values = np.asarray(dequantize(chunk, t.tensor_type), dtype="<f4")
        h.update(values.tobytes())
        n += values.size
    assert n == t.n_elements, (t.name, n, t.n_elements)
    return h.hexdigest()


def main() -> int:
    root = pathlib.Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=pathlib.Path, default=root / "models")
    ap.add_argument("--out", type=pathlib.Path, default=root / "tests/reference/model_dequant")
    ap.add_argument("--any-gguf", action="store_true", help="run with another gguf version")
    args = ap.parse_args()
    version = getattr(gguf, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version
        version = dist_version("gguf")
    if version != GGUF_VERSION and not args.any_gguf:
        print(f"make_model_dequant_refs: gguf {version} installed, the references were made "
              f"with {GGUF_VERSION}; pass --any-gguf to go on", file=sys.stderr)
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        path = args.models / model
        if not path.is_file():
            print(f"make_model_dequant_refs: {path} is missing; run scripts/get-models.sh",
                  file=sys.stderr)
            return 1
        reader = gguf.GGUFReader(path)
        lines = [f"# {model} sha256={sha256_of(path)} gguf={version} xxh64 seed 0 of f32 LE\n",
                 "name\ttype\tn_elements\txxh64\n"]
        for t in reader.tensors:
            lines.append(f"{t.name}\t{t.tensor_type.name}\t{t.n_elements}\t{tensor_hash(t)}\n")
        out = args.out / (path.stem + ".tsv")
        out.write_text("".join(lines))
        print(f"make_model_dequant_refs: {out.name}: {len(reader.tensors)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
