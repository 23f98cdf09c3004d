// Dequantizes every tensor of both real test models and compares the XXH64 of
// the float32 values with the hashes gguf.quants.dequantize gave
// (tools/reference/make_model_dequant_refs.py wrote them to
// tests/reference/model_dequant/). Covers the F32, Q4_1, Q4_K, Q5_0, Q6_K and
// Q8_0 paths on real weights, about 300 M elements. Fails, not skips, when a
// model is missing: run scripts/get-models.sh.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "tensor/tensor_type.h"
#include "test_paths.h"

namespace slim {
namespace {

struct Expected {
    std::string type;
    uint64_t n_elements = 0;
    std::string xxh64;  // 16 lower-case hex digits
};

std::map<std::string, Expected> read_tsv(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::map<std::string, Expected> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#' || line.rfind("name\t", 0) == 0) continue;
        std::istringstream fields(line);
        std::string name;
        Expected e;
        fields >> name >> e.type >> e.n_elements >> e.xxh64;
        out[name] = e;
    }
    return out;
}

// XXH64 (seed 0) of the tensor's dequantized values, hashed a few rows at a
// time so that the 168 M-element embedding needs no 670 MB buffer.
std::string dequantized_hash(const GgufFile& file, const GgufTensorInfo& t) {
    const int64_t row = t.ne[0];
    const int64_t n_rows = int64_t(t.n_elements()) / row;
    const size_t row_bytes = tensor_row_bytes(t.type, row);
    const int64_t rows_per_chunk = std::max<int64_t>(1, (1 << 20) / row);
    std::vector<float> buf(size_t(rows_per_chunk * row));
    const std::span<const uint8_t> data = file.tensor_data(t);

    std::unique_ptr<XXH64_state_t, decltype(&XXH64_freeState)> state(XXH64_createState(),
                                                                     &XXH64_freeState);
    XXH64_reset(state.get(), 0);
    for (int64_t r = 0; r < n_rows; r += rows_per_chunk) {
        const int64_t rows = std::min(rows_per_chunk, n_rows - r);
        dequantize_row(t.type, data.data() + size_t(r) * row_bytes, buf.data(), rows * row);
        XXH64_update(state.get(), buf.data(), size_t(rows * row) * sizeof(float));
    }
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)XXH64_digest(state.get()));
    return hex;
}

void check_model(const std::filesystem::path& model) {
    ASSERT_TRUE(std::filesystem::exists(model))
        << model << " is missing: run scripts/get-models.sh (this test does not skip)";
    const auto tsv = test::reference_dir() / "model_dequant" / (model.stem().string() + ".tsv");
    const std::map<std::string, Expected> expected = read_tsv(tsv);
    ASSERT_FALSE(expected.empty()) << "no reference hashes in " << tsv;

    const GgufFile file = GgufFile::open(model);
    ASSERT_EQ(file.tensors().size(), expected.size()) << "tensor count differs from " << tsv;
    size_t matched = 0;
    for (const GgufTensorInfo& t : file.tensors()) {
        const std::string name(t.name);
        const auto it = expected.find(name);
        if (it == expected.end()) {
            ADD_FAILURE() << name << ": not in " << tsv;
            continue;
        }
        EXPECT_EQ(ggml_type_name(t.type), it->second.type) << name;
        EXPECT_EQ(t.n_elements(), it->second.n_elements) << name;
        if (!tensor_type_supported(t.type)) {
            ADD_FAILURE() << name << ": type " << ggml_type_name(t.type) << " unsupported";
            continue;
        }
        const std::string got = dequantized_hash(file, t);
        if (got == it->second.xxh64) {
            ++matched;
        } else {
            ADD_FAILURE() << name << " (" << ggml_type_name(t.type) << "): xxh64 " << got
                          << ", gguf.quants gave " << it->second.xxh64;
        }
    }
    std::printf("%s: %zu/%zu tensors matched\n", model.filename().c_str(), matched,
                file.tensors().size());
    ::testing::Test::RecordProperty(
        "matched", std::to_string(matched) + "/" + std::to_string(file.tensors().size()));
    EXPECT_EQ(matched, file.tensors().size());
}

TEST(ModelDequant, Gemma3_270m_Q4_K_M) {
    check_model(test::default_model());
}

TEST(ModelDequant, SmolLM2_135m_Q4_1) {
    check_model(test::smollm2_model());
}

}  // namespace
}  // namespace slim
