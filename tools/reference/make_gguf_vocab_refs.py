#!/usr/bin/env python3
"""Writes tests/reference/gguf_vocab.json: what the PyPI `gguf` package reads
from each ggml-vocab-*.gguf in the shared test data, for
tests/format/gguf_vocab_test.cpp to hold slim's reader to.

    pip install gguf==0.19.0
    tools/reference/make_gguf_vocab_refs.py [VOCAB_DIR] [OUT_JSON]

Per file: size, GGUF version, key/value and tensor counts, tokenizer model and
pre-tokenizer, token and merge counts, first and last token. Absent keys are
null. Strings are written with \\u escapes so the JSON stays ASCII.
"""

import glob
import json
import os
import sys
from importlib.metadata import version

from gguf import GGUFReader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def scalar(reader, key):
    field = reader.fields.get(key)
    return None if field is None else field.contents()


def array_len(reader, key):
    field = reader.fields.get(key)
    # field.data holds one index per element of the array.
    return None if field is None else len(field.data)


def describe(path):
    r = GGUFReader(path)
    tokens = r.fields.get("tokenizer.ggml.tokens")
    return {
        "file": os.path.basename(path),
        "file_size": os.path.getsize(path),
        "version": scalar(r, "GGUF.version"),
        "n_kv": scalar(r, "GGUF.kv_count"),
        "n_tensors": scalar(r, "GGUF.tensor_count"),
        "tokenizer.ggml.model": scalar(r, "tokenizer.ggml.model"),
        "tokenizer.ggml.pre": scalar(r, "tokenizer.ggml.pre"),
        "n_tokens": array_len(r, "tokenizer.ggml.tokens"),
        "n_merges": array_len(r, "tokenizer.ggml.merges"),
        "first_token": None if tokens is None else tokens.contents(0),
        "last_token": None if tokens is None else tokens.contents(len(tokens.data) - 1),
    }


def main():
    vocab_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "../shared/testdata/vocab")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests/reference/gguf_vocab.json")
    files = sorted(glob.glob(os.path.join(vocab_dir, "ggml-vocab-*.gguf")))
    if not files:
        sys.exit(f"no ggml-vocab-*.gguf in {vocab_dir}")
    refs = {
        "generator": f"tools/reference/make_gguf_vocab_refs.py, gguf {version('gguf')}",
        "files": [describe(p) for p in files],
    }
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(refs, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print(f"wrote {len(files)} entries to {out}")


if __name__ == "__main__":
    main()
