#!/usr/bin/env python3
"""Writes models/gemma-3-270m-Q4_0.gguf: Gemma 3 270M Q4_K_M re-quantized to
Q4_0, the test model for the Q4_0 weight type (which llama.cpp's x86 build
repacks and multiplies in its own order) on a real model.

Every matrix is dequantized and quantized again to Q4_0 with the gguf
package's reference quantizer; the token embedding (Q8_0, also the output
matrix) and the norm vectors are copied as they are, and so is every metadata
key. Deterministic: the SHA-256 printed at the end is checked by
scripts/get-models.sh, and tests/reference/decoder/gemma3_q4_0.json holds
llama.cpp's outputs on exactly these bytes (tools/reference/make_decoder_refs.py).
Needs only gguf and numpy.
"""
import hashlib
import sys
from pathlib import Path

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "models/gemma-3-270m-Q4_K_M.gguf"
OUT = ROOT / "models/gemma-3-270m-Q4_0.gguf"
Q = gguf.GGMLQuantizationType


def main() -> None:
    reader = gguf.GGUFReader(SRC)
    arch = reader.fields["general.architecture"].contents()
    w = gguf.GGUFWriter(OUT.with_suffix(".tmp"), arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        vtype = field.types[0]
        value = field.contents()
        if name == "general.file_type":
            value = int(gguf.LlamaFileType.MOSTLY_Q4_0)
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(name, value, vtype, sub_type=sub_type)
    for t in reader.tensors:
        shape = [int(x) for x in reversed(t.shape.tolist())]  # rows first, as numpy
        if t.tensor_type in (Q.F32, Q.Q8_0) or len(shape) < 2:
            w.add_tensor(t.name, np.array(t.data), raw_shape=np.array(t.data).shape,
                         raw_dtype=t.tensor_type)
            continue
        floats = gguf.quants.dequantize(np.array(t.data), t.tensor_type).reshape(shape)
        q = gguf.quants.quantize(floats.astype(np.float32), Q.Q4_0)
        w.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=Q.Q4_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    OUT.with_suffix(".tmp").rename(OUT)
    digest = hashlib.sha256(OUT.read_bytes()).hexdigest()
    print(f"{OUT}: {OUT.stat().st_size} bytes, sha256 {digest}", file=sys.stderr)


if __name__ == "__main__":
    main()
