#!/usr/bin/env python3
"""Writes src/tools/data/niah_haystack.txt, the default haystack of `slim niah`.

The text is the start of the WikiText-2 raw test split (encyclopedia
articles, CC BY-SA 3.0; see src/tools/data/README.md), as the shared test
data holds it (wikitext-2-raw/wiki.test.nonblank-lf.raw), made to read like
ordinary prose: heading lines (" = Title = ") are dropped and WikiText's
tokenization (" @-@ ", " , ", " 's", ...) is undone with the rules of
lm-evaluation-harness' wikitext_detokenizer. Whole paragraphs are kept, one
per line, until the text reaches --bytes (enough for 32k tokens of Gemma 3,
the default model's trained context, with room to spare).

    python3 tools/niah/make_haystack.py [--source FILE] [--bytes N]

Deterministic: the same source gives the same bytes.
"""
import argparse
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = ROOT.parent / "shared/testdata/eval/wikitext-2-raw/wiki.test.nonblank-lf.raw"
OUT = ROOT / "src/tools/data/niah_haystack.txt"


def detokenize(s: str) -> str:
    # lm-evaluation-harness, lm_eval/tasks/wikitext/preprocess_wikitext.py
    s = s.replace("s '", "s'")
    s = re.sub(r"/' [0-9]/", r"/'[0-9]/", s)
    s = s.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
    for p in (":", ";", ".", "!", "?", ","):
        s = s.replace(f" {p} ", f"{p} ")
    s = re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", s)
    s = re.sub(r"\[\s*([^\]]*?)\s*\]", r"[\1]", s)
    s = re.sub(r"{\s*([^}]*?)\s*}", r"{\1}", s)
    s = re.sub(r"\"\s*([^\"]*?)\s*\"", r'"\1"', s)
    s = re.sub(r"'\s*([^']*?)\s*'", r"'\1'", s)
    s = s.replace(" " + chr(176) + " ", chr(176))
    s = s.replace(" N ", " 1 ").replace(" 's", "'s").replace(" n't", "n't")
    # What the harness leaves at the end of a line (it works on whole documents).
    s = re.sub(r" ([.,;:!?])$", r"\1", s)
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=pathlib.Path, default=DEFAULT_SOURCE)
    ap.add_argument("--bytes", type=int, default=160_000)
    args = ap.parse_args()
    paragraphs = []
    size = 0
    for line in args.source.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("="):
            continue
        p = detokenize(line)
        paragraphs.append(p)
        size += len(p.encode("utf-8")) + 1
        if size >= args.bytes:
            break
    OUT.write_text("\n".join(paragraphs) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({size} bytes, {len(paragraphs)} paragraphs)")


if __name__ == "__main__":
    main()
