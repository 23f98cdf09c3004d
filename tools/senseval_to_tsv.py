#!/usr/bin/env python3
"""Senseval word-sense data (NLTK's senseval 2 corpus: interest.pos, hard.pos,
gzipped or not) to the text<TAB>label lines `slim classify train` reads.

    python3 tools/senseval_to_tsv.py ../shared/testdata/eval/wsd-senseval/interest.pos > interest.tsv
    python3 tools/senseval_to_tsv.py ../shared/testdata/eval/wsd-senseval/hard.pos.gz > hard.tsv

Each <instance> becomes one line: the words of its <context> (the <wf>
elements, <head> and <compound> unwrapped, <s/> markers dropped) joined by
single spaces, HTML entities decoded and the Penn Treebank quotes `` and ''
turned into ", then a tab and the <answer>'s senseid. The text stays as the
corpus has it: lower-cased and tokenized.

The target word is the one inside <head>. Its surface forms differ by line
(interest/interests, hard/harder/hardest), so train with all of them:
`--target-word interest,interests`. slim takes the first occurrence of any
form, which is not the <head> one when the same word appears earlier in the
sentence; stderr says how often (49 of the 2,368 interest lines, none of the
hard ones).

--max-per-sense N keeps the first N instances of each sense (in file order),
for a small balanced sample.

Python standard library only.
"""
import argparse
import collections
import gzip
import html
import re
import sys

INSTANCE = re.compile(r'<instance id="([^"]*)">(.*?)</instance>', re.S)
ANSWER = re.compile(r'<answer [^>]*senseid="([^"]*)"')
CONTEXT = re.compile(r"<context>(.*?)</context>", re.S)
TOKEN = re.compile(r"<head>|<wf[^>]*>(.*?)</wf>", re.S)
QUOTES = {"``": '"', "''": '"'}


def word_boundary_find(text, forms):
    """The start of the first occurrence of any form on word boundaries (as slim matches)."""
    pattern = r"(?<![0-9A-Za-z_\x80-\U0010ffff])(?:%s)(?![0-9A-Za-z_\x80-\U0010ffff])" % "|".join(
        re.escape(f) for f in sorted(forms, key=len, reverse=True))
    m = re.search(pattern, text, re.I)
    return m.start() if m else -1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", help="interest.pos, hard.pos.gz, ...")
    ap.add_argument("--max-per-sense", type=int, default=0, help="keep the first N of each sense")
    args = ap.parse_args()

    opener = gzip.open if args.corpus.endswith(".gz") else open
    with opener(args.corpus, "rt", encoding="utf-8") as f:
        data = f.read()

    senses = collections.Counter()
    heads = collections.Counter()
    rows = []
    for instance_id, body in INSTANCE.findall(data):
        answers = ANSWER.findall(body)
        if len(answers) != 1:
            sys.exit(f"{args.corpus}: instance {instance_id}: expected one senseid, found {len(answers)}")
        context = CONTEXT.search(body)
        words, head_index, head_word = [], -1, None
        for m in TOKEN.finditer(context.group(1)):
            if m.group(0) == "<head>":
                head_index = len(words)
                continue
            w = html.unescape(m.group(1).strip())
            w = QUOTES.get(w, w)
            if w:
                words.append(w)
        if head_index < 0 or head_index >= len(words):
            sys.exit(f"{args.corpus}: instance {instance_id}: no <head> word")
        head_word = words[head_index]
        sense = answers[0]
        if args.max_per_sense and senses[sense] >= args.max_per_sense:
            continue
        senses[sense] += 1
        heads[head_word.lower()] += 1
        text = " ".join(words)
        if "\t" in text or "\n" in text:
            sys.exit(f"{args.corpus}: instance {instance_id}: a tab or newline in the text")
        head_offset = len(" ".join(words[:head_index])) + (1 if head_index else 0)
        rows.append((text, sense, head_offset))

    forms = sorted(heads)
    earlier = sum(1 for text, _, head_offset in rows if word_boundary_find(text, forms) != head_offset)
    out = sys.stdout
    for text, sense, _ in rows:
        out.write(f"{text}\t{sense}\n")
    print(f"{args.corpus}: {len(rows)} lines; senses: "
          + ", ".join(f"{s} {n}" for s, n in sorted(senses.items())), file=sys.stderr)
    print(f"target forms: {','.join(forms)} ("
          + ", ".join(f"{w} {n}" for w, n in heads.most_common()) + ")", file=sys.stderr)
    print(f"lines where the first occurrence of a form is not the <head> word: {earlier}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
