// The GGUF reader and writer on llama.cpp's vocabulary files
// (shared/testdata/vocab/ggml-vocab-*.gguf): what slim reads must match what
// the PyPI `gguf` package read (tests/reference/gguf_vocab.json, written by
// tools/reference/make_gguf_vocab_refs.py), and writing back what was read
// must give the original file byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "test_paths.h"

namespace slim {
namespace {

using json = nlohmann::json;

const json& references() {
    static const json refs = [] {
        std::ifstream in(test::reference_dir() / "gguf_vocab.json");
        return in ? json::parse(in) : json::object();
    }();
    return refs;
}

std::vector<std::string> reference_files() {
    std::vector<std::string> files;
    if (references().contains("files")) {
        for (const json& entry : references()["files"]) files.push_back(entry["file"]);
    }
    return files;
}

const json& reference_for(const std::string& file) {
    for (const json& entry : references()["files"]) {
        if (entry["file"] == file) return entry;
    }
    static const json none;
    return none;
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A string key's value, or null when the key is absent (as the reference writes it).
json string_or_null(const GgufFile& f, std::string_view key) {
    std::optional<std::string_view> s = f.get_string(key);
    return s ? json(std::string(*s)) : json();
}

json count_or_null(const GgufFile& f, std::string_view key) {
    const GgufArray* a = f.get_array(key, GgufType::string);
    return a ? json(a->count) : json();
}

TEST(GgufVocab, ReferenceCoversEveryVocabFile) {
    std::set<std::string> on_disk;
    for (const auto& entry : std::filesystem::directory_iterator(test::vocab_dir())) {
        std::string name = entry.path().filename().string();
        if (name.starts_with("ggml-vocab-") && name.ends_with(".gguf")) on_disk.insert(name);
    }
    std::vector<std::string> listed = reference_files();
    EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), on_disk);
    EXPECT_EQ(listed.size(), 19u);
}

class GgufVocab : public testing::TestWithParam<std::string> {};

TEST_P(GgufVocab, ReadsWhatGgufPyReads) {
    const json& ref = reference_for(GetParam());
    std::filesystem::path path = test::vocab_dir() / GetParam();
    GgufFile f = GgufFile::open(path);
    EXPECT_EQ(f.file_size(), ref["file_size"].get<uint64_t>());
    EXPECT_EQ(f.version(), ref["version"].get<uint32_t>());
    EXPECT_EQ(f.kvs().size(), ref["n_kv"].get<uint64_t>());
    EXPECT_EQ(f.tensors().size(), ref["n_tensors"].get<uint64_t>());
    EXPECT_EQ(string_or_null(f, "tokenizer.ggml.model"), ref["tokenizer.ggml.model"]);
    EXPECT_EQ(string_or_null(f, "tokenizer.ggml.pre"), ref["tokenizer.ggml.pre"]);
    EXPECT_EQ(count_or_null(f, "tokenizer.ggml.tokens"), ref["n_tokens"]);
    EXPECT_EQ(count_or_null(f, "tokenizer.ggml.merges"), ref["n_merges"]);
    const GgufArray* tokens = f.get_array("tokenizer.ggml.tokens", GgufType::string);
    ASSERT_TRUE(tokens);
    ASSERT_FALSE(tokens->strings.empty());
    EXPECT_EQ(tokens->strings.front(), ref["first_token"].get<std::string>());
    EXPECT_EQ(tokens->strings.back(), ref["last_token"].get<std::string>());
}

TEST_P(GgufVocab, WritesBackByteForByte) {
    std::filesystem::path path = test::vocab_dir() / GetParam();
    GgufFile f = GgufFile::open(path);
    std::vector<uint8_t> written = gguf_serialize(gguf_contents(f));
    std::vector<uint8_t> original = read_bytes(path);
    ASSERT_FALSE(original.empty());
    EXPECT_EQ(written.size(), original.size());
    auto diff = std::mismatch(written.begin(), written.end(), original.begin(), original.end());
    EXPECT_TRUE(diff.first == written.end() && diff.second == original.end())
        << "first difference at byte " << (diff.first - written.begin());
}

// Test names from file names: ggml-vocab-bert-bge.gguf -> bert_bge.
std::string vocab_test_name(const testing::TestParamInfo<std::string>& info) {
    std::string name = info.param.substr(std::string("ggml-vocab-").size());
    name = name.substr(0, name.size() - std::string(".gguf").size());
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

INSTANTIATE_TEST_SUITE_P(Files, GgufVocab, testing::ValuesIn(reference_files()), vocab_test_name);

}  // namespace
}  // namespace slim
