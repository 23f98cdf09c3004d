#!/usr/bin/env python3
"""Writes the safetensors reference files the C++ tests read.

Needs `pip install safetensors numpy` (no torch). Files are written by the
official `safetensors` serializer (safetensors.serialize_file), so the tests
check slim's reader against the format as Hugging Face writes it; the sidecar
JSON holds the expected values, decoded here by numpy.

  tests/reference/safetensors/small.safetensors (+ small.json)
      F32, F16, BF16 tensors (odd lengths, a scalar, an empty tensor, F16
      subnormals and extremes), one I64 tensor, and __metadata__.
  tests/reference/safetensors/sharded/
      two shards and a model.safetensors.index.json as transformers writes it.
  tests/fuzz/corpus/safetensors/
      seed inputs for tests/fuzz/safetensors_fuzz.cpp, valid and malformed.

Run from anywhere: paths are relative to the repository root.
"""

import json
import struct
from pathlib import Path

import numpy as np
import safetensors
from safetensors import TensorSpec

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "reference" / "safetensors"
CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "safetensors"

# numpy has no bfloat16; the serializer takes raw uint16 words under the name
# "bfloat16", and the values they stand for are the words shifted into the
# top half of a float32.
BF16 = "bfloat16"


def bf16_words(values):
    """Round float32 values to bfloat16 (nearest, ties to even) as uint16 words."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_to_f32(words):
    return (words.astype(np.uint32) << 16).view(np.float32)


def spec(array, dtype_name=None):
    # (np.ascontiguousarray would turn a 0-d scalar into shape [1].)
    assert array.flags.c_contiguous
    return TensorSpec(
        dtype=dtype_name or array.dtype.name,
        shape=array.shape,
        data_ptr=array.ctypes.data,
        data_len=array.nbytes,
    )


def write(path, arrays, metadata=None):
    """arrays: name -> (numpy array, serializer dtype name or None)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    specs = {name: spec(a, d) for name, (a, d) in arrays.items()}
    # `arrays` keeps the buffers alive while the serializer reads them.
    safetensors.serialize_file(specs, str(path), metadata=metadata)
    path.chmod(0o644)


def read_header(path):
    """The header as written, in file order (json keeps key order)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return n, json.loads(raw[8 : 8 + n].decode("utf-8"))


def sidecar(path, expected_values):
    n, header = read_header(path)
    tensors = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        values = expected_values.get(name)
        tensors.append(
            {
                "name": name,
                "dtype": entry["dtype"],
                "shape": entry["shape"],
                "data_offsets": entry["data_offsets"],
                "values": None if values is None else [float(v) for v in values.ravel()],
            }
        )
    return {
        "header_size": n,
        "metadata": header.get("__metadata__", {}),
        "tensors": tensors,
    }


def make_small():
    rng = np.random.default_rng(20240611)
    embed = rng.standard_normal((3, 5)).astype(np.float32)
    embed[0, 0] = -0.0
    embed[2, 4] = np.float32(1e-40)  # a float32 subnormal
    q = (rng.standard_normal((2, 3, 2)) * 100).astype(np.float16)
    q.flat[0] = np.float16(65504.0)
    q.flat[1] = np.float16(-(2.0**-24))  # smallest F16 subnormal
    q.flat[2] = np.float16(2.0**-14)  # smallest F16 normal
    norm_words = bf16_words(np.concatenate([[1.0, -2.5, 3.0e38, 1e-39], rng.standard_normal(3)]))
    scalar = np.array(0.125, dtype=np.float32)
    empty = np.zeros((0, 4), dtype=np.float32)
    positions = np.arange(4, dtype=np.int64) * 7

    path = OUT / "small.safetensors"
    write(
        path,
        {
            "model.embed.weight": (embed, None),
            "layers.0.attn.q.weight": (q, None),
            "layers.0.norm.weight": (norm_words, BF16),
            "scalar": (scalar, None),
            "empty": (empty, None),
            "position_ids": (positions, None),
        },
        # One key: the serializer writes __metadata__ in hash order, and a
        # second key would make reruns differ.
        metadata={"format": "pt"},
    )
    expected = {
        "model.embed.weight": embed,
        "layers.0.attn.q.weight": q.astype(np.float32),
        "layers.0.norm.weight": bf16_to_f32(norm_words),
        "scalar": scalar,
        "empty": empty,
        "position_ids": None,  # not readable as data
    }
    (OUT / "small.json").write_text(json.dumps(sidecar(path, expected), indent=1) + "\n")


def make_sharded():
    folder = OUT / "sharded"
    a = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    b = np.array([1.5, -3.0, 0.5], dtype=np.float16)
    c_words = bf16_words([0.25, -8.0])
    shards = {
        "model-00001-of-00002.safetensors": {"embed.weight": (a, None), "norm.weight": (b, None)},
        "model-00002-of-00002.safetensors": {"lm_head.weight": (c_words, BF16)},
    }
    weight_map = {}
    total = 0
    for shard, arrays in shards.items():
        write(folder / shard, arrays)
        for name, (array, _) in arrays.items():
            weight_map[name] = shard
            total += array.nbytes
    # As transformers' save_pretrained writes it.
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / "model.safetensors.index.json").write_text(
        json.dumps(index, indent=2, sort_keys=True) + "\n"
    )
    expected = {
        "embed.weight": {"shard": "model-00001-of-00002.safetensors", "values": a},
        "norm.weight": {"shard": "model-00001-of-00002.safetensors", "values": b},
        "lm_head.weight": {
            "shard": "model-00002-of-00002.safetensors",
            "values": bf16_to_f32(c_words),
        },
    }
    out = {
        name: {"shard": e["shard"], "values": [float(v) for v in np.ravel(e["values"])]}
        for name, e in expected.items()
    }
    (OUT / "sharded.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


def raw_file(header, data=b""):
    text = header.encode("utf-8")
    return struct.pack("<Q", len(text)) + text + data


def make_corpus():
    CORPUS.mkdir(parents=True, exist_ok=True)
    (CORPUS / "small.safetensors").write_bytes((OUT / "small.safetensors").read_bytes())
    write(CORPUS / "empty.safetensors", {})
    write(CORPUS / "metadata_only.safetensors", {}, metadata={"format": "pt"})
    other = {
        "flags": (np.array([True, False, True]), None),
        "bytes": (np.arange(5, dtype=np.uint8), None),
        "doubles": (np.array([1.0, -2.0]), None),
        "ints": (np.array([[1, 2], [3, 4]], dtype=np.int32), None),
        "f4": (np.array([0x21, 0x43], dtype=np.uint8), "float4_e2m1fn_x2"),
    }
    write(CORPUS / "other_dtypes.safetensors", other)
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    cases = {
        "duplicate_name": raw_file(
            '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
            '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}',
            f32,
        ),
        "overlap": raw_file(
            '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},'
            '"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}',
            f32,
        ),
        "truncated_data": raw_file('{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}', f32[:9]),
        "bad_json": raw_file('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]', f32),
        "shape_overflow": raw_file(
            '{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,16]}}', f32
        ),
        "nested_unknown": raw_file(
            '{"a":{"dtype":"BF16","shape":[8],"extra":{"x":[[[1]]]},"data_offsets":[0,16]},'
            '"__metadata__":{"k":"v"}}',
            f32,
        ),
        "header_too_long": struct.pack("<Q", 1 << 40) + b'{"a":1}',
    }
    for name, data in cases.items():
        (CORPUS / f"{name}.safetensors").write_bytes(data)


def main():
    make_small()
    make_sharded()
    make_corpus()


if __name__ == "__main__":
    main()
