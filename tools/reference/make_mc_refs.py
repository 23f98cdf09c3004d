#!/usr/bin/env python3
"""Reference multiple-choice log-likelihoods from llama.cpp, for `slim mc`.

Writes tests/reference/mc/<model>-<task>.json for the first N_ITEMS items of
HellaSwag (llama.cpp's text format, .bz2) and ARC-Easy (llm-foundry jsonl) on
  gemma3  models/gemma-3-270m-Q4_K_M.gguf
  llama   models/SmolLM2-135M-Instruct-Q4_1.gguf

Test-only; needs llama-cpp-python 0.3.36 (see DEVELOPERS.md).

Scoring as lm-evaluation-harness's multiple_choice tasks (and tools/mc.h):
  - HellaSwag: context = the item's first line, ARC: context = query +
    "\\nAnswer:"; the continuation is " " + ending;
  - tokens as the harness's _encode_pair: whole = tokenize(context +
    continuation), the continuation is whole[len(tokenize(context)):]; both
    with BOS where the vocabulary adds one (llama_tokenize add_special), as
    llama-perplexity --hellaswag;
  - the score of an ending is the sum over the continuation of
    log_softmax(logits)[token] (float64); the context is evaluated once and
    each continuation runs in one batch after its KV cache, cut back to the
    context between endings (llama-perplexity --hellaswag's scheme; the whole
    sequence from an empty cache where the join merges tokens);
  - acc = argmax(score) == gold, acc_norm = argmax(score / len(ending)) ==
    gold, len in characters, numpy's first maximum.

Each continuation is also evaluated one token at a time after the context
(logprob_sequential): the difference from the batched sum is llama.cpp's own
noise from summation order, a floor for how closely another engine can agree.
"""
import bz2
import json
import math
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/reference/mc"
DATA = ROOT.parent / "shared/testdata/eval"
MODELS = {
    "gemma3": ROOT / "models/gemma-3-270m-Q4_K_M.gguf",
    "llama": ROOT / "models/SmolLM2-135M-Instruct-Q4_1.gguf",
}
N_ITEMS = 20
N_CTX = 256


def hellaswag_items() -> list[dict]:
    lines = bz2.decompress((DATA / "hellaswag/hellaswag_val_full.txt.bz2").read_bytes()).decode(
        "utf-8").split("\n")
    items = []
    for i in range(0, 6 * N_ITEMS, 6):
        items.append({"context": lines[i], "gold": int(lines[i + 1]), "endings": lines[i + 2:i + 6]})
    return items


def arc_items() -> list[dict]:
    items = []
    with open(DATA / "arc/arc_easy_test.llm-foundry.jsonl", encoding="utf-8") as f:
        for line in f:
            j = json.loads(line)
            items.append({"context": j["query"] + "\nAnswer:", "gold": j["gold"],
                          "endings": j["choices"]})
            if len(items) == N_ITEMS:
                break
    return items


TASKS = {"hellaswag": hellaswag_items, "arc-easy": arc_items}


def tokenize(llm: Llama, text: str) -> list[int]:
    return llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)


def log_softmax(row: np.ndarray) -> np.ndarray:
    row = row.astype(np.float64)
    m = row.max()
    return row - (m + math.log(np.exp(row - m).sum()))


def continuation_sum(llm: Llama, rows: list, whole: list[int], n_context: int) -> float:
    return sum(float(log_softmax(rows[p])[whole[p + 1]]) for p in range(n_context - 1, len(whole) - 1))


def score_ending(llm: Llama, ctx_tokens: list[int], ctx_last: np.ndarray, whole: list[int],
                 sequential: bool) -> float:
    """Sum of the continuation's log-probs, the context's KV cache reused (as
    llama-perplexity --hellaswag does): the cache is cut back to the context
    and the continuation runs after it, in one batch or one token at a time."""
    n_context = len(ctx_tokens)
    if whole[:n_context] != ctx_tokens:
        # A merge across the join: the whole sequence from an empty cache.
        llm.reset()
        llm.eval(whole)
        rows = {p: np.array(llm.scores[p]) for p in range(n_context - 1, len(whole) - 1)}
        llm.reset()
        llm.eval(ctx_tokens)
        return continuation_sum(llm, rows, whole, n_context)
    llm.n_tokens = n_context  # eval() drops the cache after n_tokens first
    rest = whole[n_context:len(whole) - 1]
    if sequential:
        for t in rest:
            llm.eval([t])
    elif rest:
        llm.eval(rest)
    rows = {n_context - 1: ctx_last}
    for p in range(n_context, len(whole) - 1):
        rows[p] = np.array(llm.scores[p])
    return continuation_sum(llm, rows, whole, n_context)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, path in MODELS.items():
        llm = Llama(model_path=str(path), n_ctx=N_CTX, n_batch=N_CTX, logits_all=True,
                    n_threads=2, verbose=False, flash_attn=False)
        for task, reader in TASKS.items():
            items = []
            correct = correct_norm = 0
            for item in reader():
                context = item["context"].rstrip(" ")
                ctx_tokens = tokenize(llm, context)
                llm.reset()
                llm.eval(ctx_tokens)
                ctx_last = np.array(llm.scores[len(ctx_tokens) - 1])
                endings = []
                for ending in item["endings"]:
                    whole = tokenize(llm, context + " " + ending)
                    endings.append({
                        "continuation": whole[len(ctx_tokens):],
                        "chars": len(ending),
                        "logprob": round(score_ending(llm, ctx_tokens, ctx_last, whole, False), 6),
                        "logprob_sequential": round(
                            score_ending(llm, ctx_tokens, ctx_last, whole, True), 6),
                    })
                print(f"{name} {task} item {len(items) + 1}", flush=True)
                lls = np.array([e["logprob"] for e in endings])
                chars = np.array([float(e["chars"]) for e in endings])
                pred, pred_norm = int(np.argmax(lls)), int(np.argmax(lls / chars))
                correct += pred == item["gold"]
                correct_norm += pred_norm == item["gold"]
                items.append({"gold": item["gold"], "n_context": len(ctx_tokens),
                              "context_head": ctx_tokens[:8], "pred": pred,
                              "pred_norm": pred_norm, "endings": endings})
            ref = {
                "model": path.name,
                "llama_cpp_python": llama_cpp.__version__,
                "task": task,
                "n_items": len(items),
                "correct": correct,
                "correct_norm": correct_norm,
                "items": items,
            }
            out = OUT / f"{name}-{task}.json"
            out.write_text(json.dumps(ref, indent=None, separators=(",", ":")) + "\n")
            print(f"{out.relative_to(ROOT)}: acc {correct}/{len(items)}, "
                  f"acc_norm {correct_norm}/{len(items)}")


if __name__ == "__main__":
    main()
