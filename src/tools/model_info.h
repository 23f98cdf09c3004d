// What `slim info` reports about a GGUF file, as one JSON document. The CLI
// prints it as-is (--json) or renders it as text.
#pragma once

#include <nlohmann/json.hpp>

#include "format/gguf.h"

namespace slim {

struct ModelInfoOptions {
    size_t max_array_items = 8;     // longer arrays show their first items and a count
    size_t max_string_bytes = 120;  // longer strings are cut and show their length
};

// Fields: file, file_size, version, alignment, architecture, name,
// n_parameters, n_tensor_bytes, bits_per_weight, hyperparameters (the
// `<arch>.*` keys), metadata (every key), tensors (name, type, shape, bytes,
// offset), types (per type: tensors, parameters, bytes).
nlohmann::ordered_json model_info(const GgufFile& file, const ModelInfoOptions& options = {});

// A metadata value as JSON, long arrays and strings abbreviated as above.
// Abbreviated arrays become {"type": "array", "elem_type", "count", "head": [...]}.
nlohmann::ordered_json gguf_value_json(const GgufValue& value, const ModelInfoOptions& options);

}  // namespace slim
