// The model families slim can build, keyed by `general.architecture`.
#pragma once

#include <memory>

#include "model/model.h"

namespace slim {

using ModelLoader = std::unique_ptr<Model> (*)(const GgufFile& file, Backend& backend,
                                               int max_batch);

// One loader per family file.
std::unique_ptr<Model> load_llama(const GgufFile& file, Backend& backend, int max_batch);
std::unique_ptr<Model> load_qwen2(const GgufFile& file, Backend& backend, int max_batch);
std::unique_ptr<Model> load_gemma3(const GgufFile& file, Backend& backend, int max_batch);

}  // namespace slim
