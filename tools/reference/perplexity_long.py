#!/usr/bin/env python3
"""llama.cpp's perplexity over a long stretch of WikiText-2, for
docs/EVALUATION.md: make_perplexity_refs.py's procedure (llama-perplexity's)
at another context and chunk count, printed, not stored.

    python3 tools/reference/perplexity_long.py [N_CTX] [N_CHUNKS]

Compare with `slim perplexity -m MODEL -f TEXT -c N_CTX --chunks N_CHUNKS`.
Test-only; needs llama-cpp-python 0.3.36 (DEVELOPERS.md).
"""
import sys
import time

import make_perplexity_refs as ref


def main() -> None:
    ref.N_CTX = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    n_chunks = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    text = ref.WIKITEXT.read_text(encoding="utf-8")
    for name, path in ref.MODELS.items():
        llm = ref.load(path, ref.N_CTX)
        tokens = ref.tokenize(llm, text)
        n_chunk = min(n_chunks, len(tokens) // ref.N_CTX)
        start = time.time()
        r = ref.perplexity(llm, tokens, n_chunk, sequential=False)
        print(f"{name} ({path.name}): {n_chunk} chunks of {ref.N_CTX}, {r['n_scored']} scored: "
              f"Final estimate: PPL = {r['ppl']:.4f} +/- {r['ppl_stderr']:.5f} "
              f"({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
