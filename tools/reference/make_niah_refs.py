#!/usr/bin/env python3
"""Reference needle-in-a-haystack cells from llama.cpp, for `slim niah`.

Writes tests/reference/niah/smollm2.json: for SmolLM2-135M-Instruct Q4_1,
context lengths 160 and 256 x depths 0 and 100 with the default needle and
haystack (src/tools/data/niah_haystack.txt) and replies of at most 20
tokens, the prompt's size and the greedy reply.

The prompt is built here from the description in src/tools/niah.h, with
llama.cpp's tokenizer and Python's jinja2 for the chat template, not with
slim's code:
  - sentences: a sentence ends after . ! or ? (and closing quotes or
    brackets) followed by whitespace or the end, or before a line break; the
    whitespace before a sentence belongs to it; trailing whitespace of the
    text is dropped (no run here is long enough to be cut at 1,000 bytes);
  - each sentence is tokenized on its own (no BOS, no special parsing); the
    needle is tokenized as needle (at the start, followed by the first
    sentence after a line break) or " " + needle, the question as
    "\\n\\n" + question;
  - the chat template is rendered around one user message with
    add_generation_prompt; text before and after the message is tokenized
    with special tokens parsed;
  - the prompt fills length - max_tokens tokens with whole sentences, the
    needle goes to the sentence boundary nearest to depth% of the haystack
    tokens taken (the first such boundary on a tie);
  - the reply: greedy (argmax of the logits, numpy's first maximum) until an
    end-of-generation token or max_tokens, the prompt evaluated from an
    empty cache in one batch.

Test-only; needs llama-cpp-python 0.3.36 (see DEVELOPERS.md) and jinja2.
"""
import json
from pathlib import Path

import jinja2
import llama_cpp
import numpy as np
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/reference/niah/smollm2.json"
MODEL = ROOT / "models/SmolLM2-135M-Instruct-Q4_1.gguf"
HAYSTACK = ROOT / "src/tools/data/niah_haystack.txt"
NEEDLE = ("The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a "
          "sunny day.")
QUESTION = "What is the best thing to do in San Francisco?"
LENGTHS = [160, 256]
DEPTHS = [0, 100]
MAX_TOKENS = 20
SPACE = " \t\n\r\f\v"


def split_sentences(text: str) -> list[str]:
    out, start, content, i = [], 0, False, 0
    while i < len(text):
        c = text[i]
        if c == "\n" and content:
            out.append(text[start:i])
            start, content = i, False
        elif c in ".!?":
            j = i + 1
            while j < len(text) and text[j] in "\"')]":
                j += 1
            if content and (j == len(text) or text[j] in SPACE):
                out.append(text[start:j])
                start, content, i = j, False, j
                continue
            content = True
        elif c not in SPACE:
            content = True
        i += 1
    if content:
        out.append(text[start:])
    return out


def main() -> None:
    llm = Llama(str(MODEL), n_ctx=512, n_batch=512, logits_all=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)

    def tok(text: str, special: bool = False) -> list[int]:
        return llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    template = llm.metadata["tokenizer.chat_template"]
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    placeholder = "NIAH_USER_MESSAGE"
    rendered = env.from_string(template).render(
        messages=[{"role": "user", "content": placeholder}], add_generation_prompt=True,
        bos_token="", eos_token="")
    prefix_text, suffix_text = rendered.split(placeholder)
    prefix, suffix = tok(prefix_text, True), tok(suffix_text, True)

    sentences = split_sentences(HAYSTACK.read_text(encoding="utf-8"))
    stoks = [tok(s) for s in sentences]
    restart = tok("\n" + sentences[0].lstrip(SPACE))
    needle_first, needle_inline = tok(NEEDLE), tok(" " + NEEDLE)
    question = tok("\n\n" + QUESTION)
    overhead = len(prefix) + max(len(needle_first), len(needle_inline)) + len(question) + len(suffix)

    cells = []
    for length in LENGTHS:
        n_tokens = length - MAX_TOKENS
        cum = [0]
        while cum[-1] + len(stoks[len(cum) - 1]) <= n_tokens - overhead:
            cum.append(cum[-1] + len(stoks[len(cum) - 1]))
        for depth in DEPTHS:
            n_taken = len(cum) - 1
            target = depth / 100 * cum[n_taken]
            at = min(range(n_taken + 1), key=lambda k: (abs(cum[k] - target), k))
            prompt = list(prefix)
            needle_token = hay = 0
            for k in range(n_taken + 1):
                if k == at:
                    needle_token = len(prompt)
                    prompt += needle_first if at == 0 else needle_inline
                if k == n_taken:
                    break
                piece = restart if (k == 0 and at == 0) else stoks[k]
                prompt += piece
                hay += len(piece)
            prompt += question + suffix
            assert len(prompt) <= n_tokens, (length, depth, len(prompt))

            llm.reset()
            llm.eval(prompt)
            reply = []
            while len(reply) < MAX_TOKENS:
                t = int(np.argmax(llm.scores[llm.n_tokens - 1]))
                if llama_cpp.llama_vocab_is_eog(vocab, t):
                    break
                reply.append(t)
                if len(reply) < MAX_TOKENS:
                    llm.eval([t])
            cells.append({
                "length": length,
                "depth": depth,
                "prompt_tokens": len(prompt),
                "needle_token": needle_token,
                "haystack_tokens": hay,
                "depth_actual": 100.0 * cum[at] / cum[n_taken],
                "reply": llm.detokenize(reply).decode("utf-8", errors="replace"),
                "reply_tokens": len(reply),
            })
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "generator": f"tools/reference/make_niah_refs.py, llama-cpp-python {llama_cpp.__version__}",
        "model": MODEL.name,
        "needle": NEEDLE,
        "question": QUESTION,
        "max_tokens": MAX_TOKENS,
        "cells": cells,
    }, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
