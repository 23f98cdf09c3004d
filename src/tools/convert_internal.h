// What the family converters (convert_bert.cpp, ...) share with the driver
// (convert.cpp): JSON files read with typed errors, and the GGUF being built.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "format/safetensors.h"

namespace slim::convert_detail {

// A JSON file of the model folder. Throws Error(io) when it cannot be read,
// Error(bad_value) with the byte offset when it does not parse.
nlohmann::json read_json_file(const std::filesystem::path& path);

// config.json's fields, read with errors that name the file and the key.
class JsonFields {
  public:
    JsonFields(const nlohmann::json& j, std::string file) : j_(j), file_(std::move(file)) {}
    const nlohmann::json& json() const { return j_; }
    const std::string& file() const { return file_; }
    bool has(std::string_view key) const { return j_.contains(key) && !j_.at(key).is_null(); }
    // A positive integer that fits uint32 (default used when absent, if given).
    uint32_t positive_u32(std::string_view key, std::optional<uint32_t> fallback = {}) const;
    double positive_number(std::string_view key, std::optional<double> fallback = {}) const;
    std::string string(std::string_view key, std::optional<std::string> fallback = {}) const;
    bool boolean(std::string_view key, std::optional<bool> fallback = {}) const;

  private:
    const nlohmann::json& j_;
    std::string file_;
};

// One tensor to write: where it comes from and what it becomes.
struct PlannedTensor {
    std::string name;  // GGUF name
    const SafetensorsTensor* source = nullptr;
    GgmlType type = GgmlType::f32;
};

// The GGUF being built: metadata in file order, owning every string the
// views in GgufContents point at.
class GgufBuilder {
  public:
    std::string_view keep(std::string s) { return strings_.emplace_back(std::move(s)); }
    void add(std::string key, GgufValue value) {
        kvs_.emplace_back(keep(std::move(key)), std::move(value));
    }
    void add_u32(std::string key, uint32_t v) { add(std::move(key), GgufValue::make_u32(v)); }
    void add_f32(std::string key, float v) { add(std::move(key), GgufValue::make_f32(v)); }
    void add_bool(std::string key, bool v) { add(std::move(key), GgufValue::make_bool(v)); }
    void add_string(std::string key, std::string v) {
        add(std::move(key), GgufValue::make_string(keep(std::move(v))));
    }
    void add_strings(std::string key, const std::vector<std::string>& v);
    void add_i32s(std::string key, const std::vector<int32_t>& v);

    std::vector<std::pair<std::string_view, GgufValue>>& kvs() { return kvs_; }

  private:
    std::deque<std::string> strings_;
    std::deque<std::vector<uint8_t>> blobs_;
    std::vector<std::pair<std::string_view, GgufValue>> kvs_;
};

// The type llama.cpp's converter gives a tensor (see convert.h).
GgmlType convert_tensor_type(const std::string& gguf_name, size_t n_dims, int64_t row_length,
                             GgmlType requested);

// Checks a source tensor's dtype and shape (outermost first). Throws Error
// naming the shard and the tensor.
void check_tensor(const SafetensorsTensor& t, const std::vector<int64_t>& shape);

// What a family converter produces: metadata and the tensors, in file order.
struct FamilyResult {
    std::string architecture;
    std::vector<PlannedTensor> tensors;
};

// BERT: config.json fields, tokenizer, pooling, tensor names.
FamilyResult convert_bert(const std::filesystem::path& dir, const JsonFields& config,
                          const SafetensorsSet& weights, GgmlType requested, GgufBuilder& gguf);

// The tokenizer keys llama.cpp's converter (BertModel.set_vocab,
// gguf.SpecialVocab) writes for a WordPiece vocabulary, from tokenizer.json
// or else vocab.txt, plus slim's two wordpiece keys (make_minilm_vocab.py).
void add_wordpiece_vocab(const std::filesystem::path& dir, uint32_t n_vocab, GgufBuilder& gguf);

}  // namespace slim::convert_detail
