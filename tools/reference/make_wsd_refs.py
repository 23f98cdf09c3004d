#!/usr/bin/env python3
"""A word-sense head trained by transformers + scikit-learn, for
tests/tools/classify_slow_test.cpp: what `slim classify train` then
`slim classify predict` must give on the same data.

Data: tests/reference/classify/interest-sample.tsv, written by
  python3 tools/senseval_to_tsv.py --max-per-sense 40 \
      ../shared/testdata/eval/wsd-senseval/interest.pos
(211 lines; the first 40 lines of each "interest" sense, all 11 of
interest_2). Lines whose 0-based index is a multiple of 4 are held out
(53), the others train (158).

Features, from all-MiniLM-L6-v2 (models/all-MiniLM-L6-v2, or argv[1]) run by
transformers in float32:
  pooled: the mean of the last hidden states over all tokens ([CLS] and [SEP]
          included), sentence-transformers' mean pooling without its Normalize;
  target: the mean of the last hidden states of the tokens whose character
          offsets (the fast tokenizer's offset_mapping) overlap the first match
          of interest|interests on word boundaries, case-insensitive.
Head: StandardScaler (population sd) then LogisticRegression(C = 1/(n l2)),
lbfgs, tol 1e-10, with slim's default l2 = 1e-3 (see make_classify_refs.py
for why that C is slim's objective).

Output: tests/reference/classify/wsd_minilm.json: the labels (sorted), and per
feature mode the held-out lines' predicted label and class probabilities.

Test-only: needs torch, transformers, scikit-learn, numpy.
"""
import json
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import sklearn
import torch
import transformers
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "reference" / "classify" / "interest-sample.tsv"
OUT = ROOT / "tests" / "reference" / "classify" / "wsd_minilm.json"
L2 = 1e-3
FORMS = ["interest", "interests"]
WORD = r"[0-9A-Za-z_\x80-\U0010ffff]"


def target_span(text):
    pattern = r"(?<!%s)(?:%s)(?!%s)" % (WORD, "|".join(sorted(FORMS, key=len, reverse=True)), WORD)
    m = re.search(pattern, text, re.I)
    assert m, text
    return m.start(), m.end()


def features(model, tok, texts, target):
    out = []
    for text in texts:
        enc = tok(text, return_tensors="pt", return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping")[0].tolist()
        with torch.no_grad():
            h = model(**enc).last_hidden_state[0].numpy().astype(np.float64)
        if target:
            b, e = target_span(text)
            rows = [i for i, (s, t) in enumerate(offsets) if t > s and s < e and t > b]
            out.append(h[rows].mean(axis=0))
        else:
            out.append(h.mean(axis=0))
    return np.array(out)


def main():
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "all-MiniLM-L6-v2"
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    rows = [line.rstrip("\n").split("\t") for line in DATA.read_text(encoding="utf-8").splitlines()]
    labels = sorted({label for _, label in rows})
    train = [r for i, r in enumerate(rows) if i % 4 != 0]
    test = [r for i, r in enumerate(rows) if i % 4 == 0]
    doc = {
        "generator": "tools/reference/make_wsd_refs.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "data": "tests/reference/classify/interest-sample.tsv",
        "l2": L2,
        "target_words": FORMS,
        "labels": labels,
        "n_train": len(train),
        "n_test": len(test),
    }
    for mode in ("pooled", "target"):
        x_train = features(model, tok, [t for t, _ in train], mode == "target")
        x_test = features(model, tok, [t for t, _ in test], mode == "target")
        y = np.array([labels.index(label) for _, label in train])
        scaler = StandardScaler().fit(x_train)
        clf = LogisticRegression(C=1.0 / (len(y) * L2), solver="lbfgs", tol=1e-10, max_iter=100000)
        clf.fit(scaler.transform(x_train), y)
        p = clf.predict_proba(scaler.transform(x_test))
        gold = [labels.index(label) for _, label in test]
        doc[mode] = {
            "predicted": [labels[i] for i in p.argmax(axis=1)],
            "probabilities": [[round(float(v), 7) for v in row] for row in p],
            "held_out_accuracy": float(np.mean(p.argmax(axis=1) == np.array(gold))),
        }
        print(f"{mode}: held-out accuracy {doc[mode]['held_out_accuracy']:.4f}", file=sys.stderr)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
