#!/usr/bin/env python3
"""Which tokens are the target word, by Hugging Face's tokenizer, for
tests/tools/classify_tokens_test.cpp (slim's FeatureExtractor::target_tokens).

For each text, the word is the first match of any form on word boundaries,
case-insensitive (the rule slim documents); its tokens are those whose
character offsets (the `tokenizers` library's offsets for all-MiniLM-L6-v2's
tokenizer.json, [CLS] and [SEP] added) overlap the match. The file records the
token index range [begin, end) in the ids with specials, and the ids.

Output: tests/reference/classify/target_tokens.json.
Test-only: needs tokenizers; reads models/all-MiniLM-L6-v2/tokenizer.json
(or argv[1]).
"""
import json
import re
import sys
from pathlib import Path

import tokenizers

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "reference" / "classify" / "target_tokens.json"
WORD = r"[0-9A-Za-z_\x80-\U0010ffff]"

CASES = [
    ("interest,interests", "Interest rates rose again."),
    ("interest,interests", "the company sold its interests, analysts said"),
    ("interest,interests", "a 10% interest-bearing note"),
    ("interest,interests", "out of disinterest, not (interest)"),
    ("interest,interests", "Café owners' INTERESTS in Zürich"),
    ("interest,interests", "    leading spaces then interest"),
    ("hard,harder,hardest", "the hardest part was the harder one"),
    ("hard,harder,hardest", "hard-won gains; hard times"),
    ("hard,harder,hardest", "it's \"hard\" to say"),
    ("hard,harder,hardest", "naïve hardliners found it HARD"),
    ("hard,harder,hardest", "日本語 text, hard to tokenize"),
]


def main():
    tok_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
    tok = tokenizers.Tokenizer.from_file(str(tok_path))
    tok.no_truncation()
    tok.no_padding()
    cases = []
    for forms, text in CASES:
        alts = "|".join(re.escape(f) for f in sorted(forms.split(","), key=len, reverse=True))
        m = re.search(r"(?<!%s)(?:%s)(?!%s)" % (WORD, alts, WORD), text, re.I)
        assert m, text
        enc = tok.encode(text)
        rows = [i for i, (s, e) in enumerate(enc.offsets)
                if e > s and s < m.end() and e > m.start() and enc.special_tokens_mask[i] == 0]
        assert rows == list(range(rows[0], rows[-1] + 1)), (text, rows)
        cases.append({"forms": forms, "text": text, "ids": enc.ids,
                      "begin": rows[0], "end": rows[-1] + 1})
    doc = {"generator": "tools/reference/make_target_token_refs.py",
           "tokenizers": tokenizers.__version__, "cases": cases}
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
