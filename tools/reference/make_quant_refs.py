#!/usr/bin/env python3
"""Writes the quantization reference files under tests/reference/quants/.

Made with the PyPI package `gguf` (gguf-py, version 0.19.0; the script refuses
another version unless --any-gguf is given) and numpy. For each type slim's
src/tensor/ supports it writes:

  <type>.dequant.bin  random but valid blocks (random bytes, f16/f32 scale
                      fields set to finite values of all magnitudes, subnormal
                      included) and their float32 decoding by
                      gguf.quants.dequantize;
  <type>.quant.bin    for the types gguf.quants can quantize (F16, BF16, Q4_0,
                      Q4_1, Q5_0, Q5_1, Q8_0): float32 input, edge cases
                      included (zeros, equal values, ties, large and tiny
                      magnitudes, inf/NaN for the float types), and the bytes
                      of gguf.quants.quantize.

Two types are not in gguf.quants and are decoded by hand-written numpy here,
from ggml's block layouts in ggml-common.h, not from slim's code:
  Q8_1  gguf-py 0.19 describes it as 40 bytes (f32 d, f32 s) but ggml's
        block_q8_1 is 36: f16 d, f16 s, int8 qs[32]; x = d * qs.
  Q8_K  f32 d, int8 qs[256], int16 bsums[16]; x = d * qs.

File format (little-endian), read by tests/tensor/quant_ref_file.h:
  char[4] "SLQR", u32 version (1), u32 ggml type id, u32 kind (0 = dequant,
  1 = quant), u64 n_elements, u64 n_bytes, then n_bytes of blocks, then
  n_elements float32.

Deterministic (fixed seed): re-running it rewrites the same files.
Usage: python3 tools/reference/make_quant_refs.py [--out DIR]
"""

import argparse
import pathlib
import struct
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

GGUF_VERSION = "0.19.0"
MAGIC = b"SLQR"
FORMAT_VERSION = 1
KIND_DEQUANT = 0
KIND_QUANT = 1

# type: (block size, bytes per block, offsets of f16 scale fields, offsets of f32 fields)
LAYOUTS = {
    T.F32: (1, 4, [], []),
    T.F16: (1, 2, [], []),
    T.BF16: (1, 2, [], []),
    T.Q4_0: (32, 18, [0], []),
    T.Q4_1: (32, 20, [0, 2], []),
    T.Q5_0: (32, 22, [0], []),
    T.Q5_1: (32, 24, [0, 2], []),
    T.Q8_0: (32, 34, [0], []),
    T.Q8_1: (32, 36, [0, 2], []),
    T.Q2_K: (256, 84, [80, 82], []),
    T.Q3_K: (256, 110, [108], []),
    T.Q4_K: (256, 144, [0, 2], []),
    T.Q5_K: (256, 176, [0, 2], []),
    T.Q6_K: (256, 210, [208], []),
    T.Q8_K: (256, 292, [], [0]),
    T.IQ4_NL: (32, 18, [0], []),
    T.IQ4_XS: (256, 136, [0], []),
}

# The types gguf.quants has a quantizer for, among those above. (F32 has one
# too, the identity, which tests nothing.)
QUANTIZABLE = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]


def write_ref(path: pathlib.Path, qtype: T, kind: int, raw: np.ndarray, values: np.ndarray):
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1)
    values = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
    block_size, type_size, _, _ = LAYOUTS[qtype]
    assert values.size % block_size == 0 and raw.size == values.size // block_size * type_size
    header = MAGIC + struct.pack("<IIIQQ", FORMAT_VERSION, int(qtype), kind, values.size, raw.size)
    path.write_bytes(header + raw.tobytes() + values.tobytes())


def sane_f16(rng: np.random.Generator, n: int) -> np.ndarray:
    """Finite f16 scales from 1e-7 (subnormal) to ~3, either sign, some exact zeros."""
    mag = 10.0 ** rng.uniform(-7.0, 0.5, n)
    sign = rng.choice([-1.0, 1.0], n)
    vals = (sign * mag).astype(np.float16)
    vals[rng.random(n) < 0.05] = 0
    return vals


def random_blocks(rng: np.random.Generator, qtype: T, n_blocks: int) -> np.ndarray:
    block_size, type_size, f16_fields, f32_fields = LAYOUTS[qtype]
    if qtype == T.F16:
        vals = rng.standard_normal(n_blocks) * 10.0 ** rng.uniform(-8, 4.5, n_blocks)
        vals = np.clip(vals, -65504, 65504).astype(np.float16)
        specials = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF,
                             0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x3C00, 0x3555], dtype=np.uint16)
        bits = vals.view(np.uint16).copy()
        bits[: specials.size] = specials
        return bits.view(np.uint8)
    if qtype == T.F32:
        return (rng.standard_normal(n_blocks) * 10.0 ** rng.uniform(-30, 30, n_blocks)).astype(
            "<f4").view(np.uint8)
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in f16_fields:
        blocks[:, off:off + 2] = sane_f16(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    for off in f32_fields:
        d = (rng.choice([-1.0, 1.0], n_blocks) * 10.0 ** rng.uniform(-6, 0, n_blocks))
        blocks[:, off:off + 4] = d.astype("<f4").view(np.uint8).reshape(n_blocks, 4)
    return blocks.reshape(-1)


def dequantize_by_hand(raw: np.ndarray, qtype: T) -> np.ndarray:
    """Q8_1 and Q8_K from ggml's layouts (see the module docstring)."""
    _, type_size, _, _ = LAYOUTS[qtype]
    blocks = raw.reshape(-1, type_size)
    if qtype == T.Q8_1:
        d = blocks[:, 0:2].copy().view("<f2").astype(np.float32)
        qs = blocks[:, 4:36].copy().view(np.int8).astype(np.float32)
    elif qtype == T.Q8_K:
        d = blocks[:, 0:4].copy().view("<f4")
        qs = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
    else:
        raise ValueError(qtype)
    return (d * qs).astype(np.float32).reshape(-1)


def quant_inputs(rng: np.random.Generator, qtype: T) -> np.ndarray:
    """Blocks of 32 floats: random data at many scales plus the edge cases."""
    bs = 32
    rows = []
    for _ in range(24):
        rows.append(rng.standard_normal(bs) * 10.0 ** rng.uniform(-3, 1.5))
    rows.append(rng.laplace(size=bs) * 0.02)                      # heavy tails
    rows.append(rng.uniform(0.0, 1.0, bs))                        # all positive: min > 0
    rows.append(-rng.uniform(0.5, 2.0, bs))                       # all negative
    rows.append(np.zeros(bs))                                     # d = 0
    rows.append(np.full(bs, 0.3712))                              # max == min
    rows.append(np.full(bs, -7.25))
    one = np.zeros(bs); one[17] = -3.5; rows.append(one)          # one non-zero
    tie = rng.uniform(-1, 1, bs); tie[3] = 2.0; tie[20] = -2.0; rows.append(tie)  # |max| tie
    rows.append(rng.uniform(-3e4, 3e4, bs))                       # large (f16 d stays finite)
    rows.append(rng.standard_normal(bs) * 1e-6)                   # tiny: subnormal f16 d
    rows.append(np.arange(-16, 16, dtype=np.float64) * 0.25)      # on a level grid
    rows.append(np.arange(bs, dtype=np.float64) - 15.5)           # half-integers
    x = np.concatenate(rows).astype(np.float32)

    if qtype == T.F16:
        # Ties between neighbouring halves, overflow, subnormals, inf and the
        # canonical NaNs (numpy and ggml agree on those; on other NaN payloads
        # they differ, so none are written).
        h = rng.integers(0, 0x7BFF, 64, dtype=np.uint16)
        lo = h.view(np.float16).astype(np.float32)
        hi = (h + 1).view(np.float16).astype(np.float32)
        mids = (lo.astype(np.float64) + hi.astype(np.float64)) / 2  # exact in f32
        specials = np.array([0.0, -0.0, np.inf, -np.inf, 65504.0, 65519.99, 65520.0, 1e6,
                             6.1e-5, 6.0e-8, 2.9e-8, 3.0e-8, 1e-9, -5.96e-8, 0.1, -0.1],
                            dtype=np.float32)
        nans = np.array([0x7FC00000, 0xFFC00000], dtype=np.uint32).view(np.float32)
        x = np.concatenate([x, mids.astype(np.float32), -mids.astype(np.float32), specials,
                            nans]).astype(np.float32)
    elif qtype == T.BF16:
        bits = rng.integers(0, 2**32, 96, dtype=np.uint64).astype(np.uint32)
        bits = bits[(bits & 0x7F800000) != 0x7F800000]  # finite ones; specials below
        ties = (bits & 0xFFFF0000) | 0x8000
        specials = np.array([0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000,
                             0x7F800001, 0xFFA00000, 0x7F7FFFFF, 0x7F7F8000, 0x00008000,
                             0x00018000, 0x3F808000, 0x3F818000], dtype=np.uint32)
        x = np.concatenate([x, bits.view(np.float32), ties.view(np.float32),
                            specials.view(np.float32)]).astype(np.float32)
    return x


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parents[2] / "tests/reference/quants")
    ap.add_argument("--any-gguf", action="store_true", help="run with another gguf version")
    args = ap.parse_args()
    version = getattr(gguf, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version
        version = dist_version("gguf")
    if version != GGUF_VERSION and not args.any_gguf:
        print(f"make_quant_refs: gguf {version} installed, the references were made with "
              f"{GGUF_VERSION}; pass --any-gguf to go on", file=sys.stderr)
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20250117)
    total = 0
    for qtype, (block_size, _, _, _) in LAYOUTS.items():
        name = qtype.name.lower()
        # About 4 KiB of output floats for the 256-blocks, a little more for the rest.
        n_blocks = {1: 512, 32: 40, 256: 4}[block_size]
        raw = random_blocks(rng, qtype, n_blocks)
        if qtype in (T.Q8_1, T.Q8_K):
            values = dequantize_by_hand(raw, qtype)
        else:
            values = dequantize(raw.reshape(1, -1), qtype).astype(np.float32).reshape(-1)
        path = args.out / f"{name}.dequant.bin"
        write_ref(path, qtype, KIND_DEQUANT, raw, values)
        total += path.stat().st_size

        if qtype in QUANTIZABLE:
            x = quant_inputs(rng, qtype)
            with np.errstate(over="ignore"):  # F16: values past 65504 become inf, as meant
                q = np.asarray(quantize(x.reshape(1, -1), qtype))
            path = args.out / f"{name}.quant.bin"
            write_ref(path, qtype, KIND_QUANT, q.view(np.uint8), x)
            total += path.stat().st_size
    print(f"make_quant_refs: wrote {args.out} ({total} bytes) with gguf {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
