// `slim convert`: a Hugging Face model folder -> GGUF, natively (no Python).
//
// Reads config.json, the tokenizer (tokenizer.json, else vocab.txt),
// sentence-transformers' modules.json and pooling config, and the weights
// (*.safetensors, sharded through model.safetensors.index.json or not), and
// writes the tensor names, shapes, types and metadata keys that llama.cpp's
// convert_hf_to_gguf.py writes for the same architecture, so llama.cpp loads
// the result and so does slim.
//
// Families: BERT (BertModel, BertForMaskedLM, BertForSequenceClassification
// without its classifier head). A family is one function that maps config
// and tensor names (convert_bert.cpp); decoder families join the same table.
//
// Types follow convert_hf_to_gguf.py: --type applies to 2-D `.weight`
// tensors (token_embd.weight included); 1-D tensors, norms, position and
// token-type embeddings stay F32. Q8_0 falls back to F16 for a row length
// that is not a multiple of 32, as gguf-py does.
//
// Memory: tensors whose type does not change (F32 -> F32, F16 -> F16) are
// written from the mapped safetensors; converted ones are held in RAM until
// the file is written (about the output's size). Streaming them to the file
// instead needs a GGUF writer that takes tensors one at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "format/ggml_type.h"

namespace slim {

struct ConvertOptions {
    std::filesystem::path hf_dir;
    std::filesystem::path out;
    GgmlType type = GgmlType::f16;  // f32, f16 or q8_0
    // Called once per tensor after it is converted: index, count, GGUF name,
    // chosen type. May be empty.
    std::function<void(size_t i, size_t n, const std::string& name, GgmlType type)> progress;
};

struct ConvertReport {
    std::string architecture;  // GGUF architecture ("bert")
    size_t n_tensors = 0;
    uint64_t n_parameters = 0;
    uint64_t n_bytes = 0;  // tensor data written
};

// Converts and writes options.out (through a temporary file, renamed when
// complete). Throws Error naming the file and field at fault: a missing or
// malformed config.json, an unknown architecture, a missing tensor or one of
// the wrong shape or dtype, a bad safetensors header, an unusable tokenizer.
ConvertReport convert_hf(const ConvertOptions& options);

// "f32" | "f16" | "q8_0" -> type; Error(invalid_argument) otherwise.
GgmlType convert_type_from_name(const std::string& name);

}  // namespace slim
