#!/usr/bin/env python3
"""Reference perplexities from llama.cpp, computed as llama-perplexity does.

Writes tests/reference/perplexity/<model>.json for the two real models:
  gemma3  models/gemma-3-270m-Q4_K_M.gguf
  llama   models/SmolLM2-135M-Instruct-Q4_1.gguf

Test-only. Needs llama-cpp-python 0.3.36 built portable (see DEVELOPERS.md).

The procedure is llama.cpp's tools/perplexity/perplexity.cpp (perplexity(),
the default mode without --ppl-stride), replayed through llama-cpp-python:
  - the whole text is tokenized once with add_special (BOS first where the
    vocabulary adds one) and without parsing special tokens;
  - at least 2 * n_ctx tokens are required; n_chunk = n_tokens / n_ctx,
    capped by --chunks;
  - each chunk of n_ctx tokens is evaluated from an empty KV cache with its
    first token replaced by BOS where the vocabulary adds one;
  - only the second half is scored: the logits at positions
    first = n_ctx / 2 .. n_ctx - 2 predict the tokens after them, as
    -log_softmax with a float maximum and a double sum of expf();
  - ppl = exp(mean nll) after each chunk, and at the end
    stderr = ppl * sqrt((mean(nll^2) - mean(nll)^2) / (count - 1)),
    printed as `Final estimate: PPL = %.4f +/- %.5f`.

The slice is the shortest prefix of the WikiText-2 test text, cut at a line
end, that gives both models N_CHUNKS chunks; its length in bytes is recorded
(text_bytes) so the test cuts the same slice. The same chunks are also run one
token at a time (ppl_sequential): the difference from the batched figure is
llama.cpp's own noise from summation order, a floor for agreement.
"""
import json
import math
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/reference/perplexity"
WIKITEXT = ROOT.parent / "shared/testdata/eval/wikitext-2-raw/wiki.test.nonblank-lf.raw"
MODELS = {
    "gemma3": ROOT / "models/gemma-3-270m-Q4_K_M.gguf",
    "llama": ROOT / "models/SmolLM2-135M-Instruct-Q4_1.gguf",
}
N_CTX = 128
N_CHUNKS = 4


def load(path: Path, n_batch: int) -> Llama:
    return Llama(model_path=str(path), n_ctx=N_CTX, n_batch=n_batch, logits_all=True, n_threads=2,
                 verbose=False, flash_attn=False)


def tokenize(llm: Llama, text: str) -> list[int]:
    # add_bos=True is llama_tokenize's add_special: BOS only where the vocabulary asks.
    return llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)


def nll_of_row(logits: np.ndarray, tok: int) -> float:
    # llama.cpp's log_softmax(): float max, double sum of float exps.
    logits = logits.astype(np.float32)
    max_logit = np.float32(logits.max())
    sum_exp = float(np.exp(logits - max_logit, dtype=np.float32).astype(np.float64).sum())
    return -(float(np.float32(logits[tok] - max_logit)) - math.log(sum_exp))


def perplexity(llm: Llama, tokens: list[int], n_chunk: int, sequential: bool) -> dict:
    add_bos = llm._model.add_bos_token()
    first = N_CTX // 2
    nll = nll2 = 0.0
    count = 0
    chunk_ppl = []
    for i in range(n_chunk):
        chunk = list(tokens[i * N_CTX:(i + 1) * N_CTX])
        if add_bos:
            chunk[0] = llm.token_bos()
        llm.reset()
        if sequential:
            for t in chunk:
                llm.eval([t])
        else:
            llm.eval(chunk)
        for j in range(first, N_CTX - 1):
            v = nll_of_row(np.array(llm.scores[j]), chunk[j + 1])
            nll += v
            nll2 += v * v
            count += 1
        chunk_ppl.append(math.exp(nll / count))
    mean = nll / count
    var = nll2 / count - mean * mean
    ppl = math.exp(mean)
    return {"chunk_ppl": chunk_ppl, "ppl": ppl, "ppl_stderr": ppl * math.sqrt(var / (count - 1)),
            "n_scored": count}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    text = WIKITEXT.read_text(encoding="utf-8")
    llms = {name: load(path, N_CTX) for name, path in MODELS.items()}

    # The shortest line-aligned prefix that gives every model N_CHUNKS chunks.
    need = N_CTX * N_CHUNKS
    end = 0
    while True:
        end = text.index("\n", end) + 1
        if all(len(tokenize(llm, text[:end])) >= need for llm in llms.values()):
            break
    slice_text = text[:end]
    text_bytes = len(slice_text.encode("utf-8"))

    for name, llm in llms.items():
        tokens = tokenize(llm, slice_text)
        n_chunk = min(N_CHUNKS, len(tokens) // N_CTX)
        batched = perplexity(llm, tokens, n_chunk, sequential=False)
        sequential = perplexity(llm, tokens, n_chunk, sequential=True)
        ref = {
            "model": MODELS[name].name,
            "llama_cpp_python": llama_cpp.__version__,
            "text": "wikitext-2-raw/wiki.test.nonblank-lf.raw",
            "text_bytes": text_bytes,
            "n_ctx": N_CTX,
            "n_batch": N_CTX,
            "n_chunks": n_chunk,
            "add_bos": bool(llm._model.add_bos_token()),
            "n_tokens": len(tokens),
            "first_tokens": tokens[:16],
            "n_scored": batched["n_scored"],
            "chunk_ppl": [round(p, 6) for p in batched["chunk_ppl"]],
            "ppl": round(batched["ppl"], 6),
            "ppl_stderr": round(batched["ppl_stderr"], 6),
            "ppl_sequential": round(sequential["ppl"], 6),
        }
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(ref, indent=1) + "\n")
        print(f"{path.relative_to(ROOT)}: {len(tokens)} tokens, {n_chunk} chunks, "
              f"PPL = {ref['ppl']:.4f} +/- {ref['ppl_stderr']:.5f} (sequential {ref['ppl_sequential']:.4f})")


if __name__ == "__main__":
    main()
