#!/usr/bin/env python3
"""Writes models/bge-small-random/: a BERT with random weights in
BAAI/bge-small-en-v1.5's shapes (12 layers, hidden 384, 12 heads, FFN 1536,
512 positions, 2 token types, LayerNorm eps 1e-12) and its WordPiece
vocabulary, as a Hugging Face folder laid out exactly as transformers'
BertModel.save_pretrained and sentence-transformers' save write it:

  config.json                   bge-small-en-v1.5's config
  model.safetensors             transformers' tensor names (embeddings.*, encoder.layer.N.*,
                                pooler.dense.*), F32, metadata {"format": "pt"}
  vocab.txt, tokenizer.json,    the bert-bge vocabulary of
  tokenizer_config.json,        ../shared/testdata/vocab/ggml-vocab-bert-bge.gguf, turned back
  special_tokens_map.json       from llama.cpp's "phantom space" form ("\u2581x" -> "x",
                                "x" -> "##x", [SPECIAL] as is)
  modules.json, 1_Pooling/config.json, sentence_bert_config.json,
  config_sentence_transformers.json
                                Transformer -> CLS pooling -> Normalize, as bge-small has

Weights: normal with std 0.02 (transformers' initializer_range, about what a
trained BERT's matrices have), biases std 0.02, LayerNorm weights 1 + N(0,
0.05) and biases N(0, 0.02), so activations have realistic scales.

Needs only numpy, safetensors and gguf (the PyPI packages get-models.sh
installs); deterministic (fixed seed): scripts/get-models.sh checks the
SHA-256 of model.safetensors, since the committed references in
tests/reference/embed/ were computed on exactly these bytes.

Usage: make_bge_random.py [OUT_DIR]   (default: models/bge-small-random)
"""
import hashlib
import json
import sys
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[2]
VOCAB = ROOT.parent / "shared/testdata/vocab/ggml-vocab-bert-bge.gguf"
SEED = 20261125

CONFIG = {
    "_name_or_path": "bge-small-random",
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "classifier_dropout": None,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 384,
    "id2label": {"0": "LABEL_0"},
    "initializer_range": 0.02,
    "intermediate_size": 1536,
    "label2id": {"LABEL_0": 0},
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "torch_dtype": "float32",
    "transformers_version": "4.30.0",
    "type_vocab_size": 2,
    "use_cache": True,
    "vocab_size": 30522,
}

SPECIALS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}


def hf_token(t: str) -> str:
    """Undoes llama.cpp's phantom space (convert_hf_to_gguf.py BertModel.set_vocab)."""
    if t.startswith("[") and t.endswith("]"):
        return t
    if t.startswith("\u2581"):
        return t[1:]
    return "##" + t


def read_vocab() -> list[str]:
    r = gguf.GGUFReader(VOCAB)
    f = r.fields["tokenizer.ggml.tokens"]
    tokens = [hf_token(bytes(f.parts[i]).decode("utf-8")) for i in f.data]
    assert len(tokens) == CONFIG["vocab_size"], len(tokens)
    for name, idx in SPECIALS.items():
        assert tokens[idx] == name, (name, tokens[idx])
    return tokens


def tokenizer_json(tokens: list[str]) -> dict:
    def special(t):
        return {"SpecialToken": {"id": t, "type_id": 0}}

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t, i in sorted(SPECIALS.items(), key=lambda kv: kv[1])
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]"), {"Sequence": {"id": "A", "type_id": 0}}, special("[SEP]")],
            "pair": [special("[CLS]"), {"Sequence": {"id": "A", "type_id": 0}}, special("[SEP]"),
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [SPECIALS[t]], "tokens": [t]}
                               for t in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100,
                  "vocab": {t: i for i, t in enumerate(tokens)}},
    }


def weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    e, f, c = CONFIG["hidden_size"], CONFIG["intermediate_size"], CONFIG

    def normal(*shape, std=0.02):
        return (std * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)

    t = {}

    def norm(prefix):
        t[prefix + ".weight"] = (1.0 + normal(e, std=0.05)).astype(np.float32)
        t[prefix + ".bias"] = normal(e)

    def linear(prefix, n_in, n_out):
        t[prefix + ".weight"] = normal(n_out, n_in)  # torch's Linear: out x in
        t[prefix + ".bias"] = normal(n_out)

    t["embeddings.word_embeddings.weight"] = normal(c["vocab_size"], e)
    t["embeddings.position_embeddings.weight"] = normal(c["max_position_embeddings"], e)
    t["embeddings.token_type_embeddings.weight"] = normal(c["type_vocab_size"], e)
    norm("embeddings.LayerNorm")
    for l in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        linear(p + "attention.self.query", e, e)
        linear(p + "attention.self.key", e, e)
        linear(p + "attention.self.value", e, e)
        linear(p + "attention.output.dense", e, e)
        norm(p + "attention.output.LayerNorm")
        linear(p + "intermediate.dense", e, f)
        linear(p + "output.dense", f, e)
        norm(p + "output.LayerNorm")
    linear("pooler.dense", e, e)
    return t


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models/bge-small-random"
    tmp = out.with_name(out.name + ".tmp")
    (tmp / "1_Pooling").mkdir(parents=True, exist_ok=True)
    tokens = read_vocab()

    write_json(tmp / "config.json", CONFIG)
    save_file(weights(), str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    write_json(tmp / "tokenizer.json", tokenizer_json(tokens))
    specials = {"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]",
                "sep_token": "[SEP]", "unk_token": "[UNK]"}
    write_json(tmp / "special_tokens_map.json", specials)
    write_json(tmp / "tokenizer_config.json", {
        **specials, "clean_up_tokenization_spaces": True, "do_basic_tokenize": True,
        "do_lower_case": True, "model_max_length": 512, "never_split": None,
        "strip_accents": None, "tokenize_chinese_chars": True, "tokenizer_class": "BertTokenizer"})
    write_json(tmp / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"}])
    write_json(tmp / "1_Pooling/config.json", {
        "word_embedding_dimension": 384, "pooling_mode_cls_token": True,
        "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})
    write_json(tmp / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": True})
    write_json(tmp / "config_sentence_transformers.json",
               {"__version__": {"sentence_transformers": "2.2.2", "transformers": "4.28.1",
                                "pytorch": "1.13.0+cu117"}})
    if out.exists():
        import shutil
        shutil.rmtree(out)
    tmp.rename(out)
    digest = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    print(f"{out}: model.safetensors sha256 {digest}")


if __name__ == "__main__":
    main()
