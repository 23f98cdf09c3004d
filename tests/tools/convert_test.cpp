// slim convert on small BERT folders built here: tensor names, shapes, types
// and values, the tokenizer keys, and which error each bad folder raises.
// The real model (all-MiniLM-L6-v2) is in convert_slow_test.cpp.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "format/error.h"
#include "format/gguf.h"
#include "gguf_tensor_support.h"
#include "run_command.h"
#include "tensor/fp16.h"
#include "tensor/tensor_type.h"
#include "test_paths.h"
#include "tools/convert.h"

namespace slim {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// A safetensors tensor for the fixture writer: F32 values, or F16/BF16 bits.
struct StTensor {
    std::string name;
    std::string dtype = "F32";
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
};

std::vector<float> lcg_values(size_t n, uint32_t seed) {
    std::vector<float> v(n);
    uint32_t s = seed * 2654435761u + 1;
    for (float& x : v) {
        s = s * 1664525u + 1013904223u;
        x = (float(s >> 8) / float(1u << 24) - 0.5f) * 0.2f;
    }
    return v;
}

void write_safetensors(const fs::path& path, const std::vector<StTensor>& tensors) {
    json header = json::object();
    uint64_t offset = 0;
    for (const StTensor& t : tensors) {
        header[t.name] = {{"dtype", t.dtype},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    std::string h = header.dump();
    while (h.size() % 8 != 0) h += ' ';
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = h.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << h;
    for (const StTensor& t : tensors)
        out.write(reinterpret_cast<const char*>(t.bytes.data()), std::streamsize(t.bytes.size()));
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

// A BERT with 1 layer, hidden 32, 2 heads, FFN 64, 16 positions, a 12-token
// vocabulary; the same files a sentence-transformers folder holds.
class TinyBert {
  public:
    static constexpr int64_t kVocab = 12, kEmbd = 32, kFf = 64, kCtx = 16;

    explicit TinyBert(const std::string& test_name) {
        dir = fs::temp_directory_path() / fmt::format("slim-convert-{}-{}", ::getpid(), test_name);
        fs::remove_all(dir);
        fs::create_directories(dir / "1_Pooling");
        config = {{"architectures", {"BertModel"}},
                  {"hidden_act", "gelu"},
                  {"hidden_size", kEmbd},
                  {"intermediate_size", kFf},
                  {"layer_norm_eps", 1e-12},
                  {"max_position_embeddings", kCtx},
                  {"model_type", "bert"},
                  {"num_attention_heads", 2},
                  {"num_hidden_layers", 1},
                  {"type_vocab_size", 2},
                  {"vocab_size", kVocab}};
        auto add = [&](const std::string& name, std::vector<int64_t> shape) {
            size_t n = 1;
            for (int64_t d : shape) n *= size_t(d);
            StTensor t{name, "F32", shape, {}};
            std::vector<float> v = lcg_values(n, uint32_t(tensors.size() + 1));
            t.bytes.resize(n * 4);
            std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
            tensors.push_back(std::move(t));
        };
        add("embeddings.LayerNorm.bias", {kEmbd});
        add("embeddings.LayerNorm.weight", {kEmbd});
        add("embeddings.position_embeddings.weight", {kCtx, kEmbd});
        add("embeddings.token_type_embeddings.weight", {2, kEmbd});
        add("embeddings.word_embeddings.weight", {kVocab, kEmbd});
        const std::string l = "encoder.layer.0.";
        for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value",
                              "attention.output.dense"}) {
            add(l + m + ".weight", {kEmbd, kEmbd});
            add(l + m + ".bias", {kEmbd});
        }
        add(l + "attention.output.LayerNorm.weight", {kEmbd});
        add(l + "attention.output.LayerNorm.bias", {kEmbd});
        add(l + "intermediate.dense.weight", {kFf, kEmbd});
        add(l + "intermediate.dense.bias", {kFf});
        add(l + "output.dense.weight", {kEmbd, kFf});
        add(l + "output.dense.bias", {kEmbd});
        add(l + "output.LayerNorm.weight", {kEmbd});
        add(l + "output.LayerNorm.bias", {kEmbd});
        add("pooler.dense.weight", {kEmbd, kEmbd});
        add("pooler.dense.bias", {kEmbd});
        // An I64 tensor, as HF writes: the converter skips it as llama.cpp does.
        tensors.push_back(
            {"embeddings.position_ids", "I64", {1, kCtx}, std::vector<uint8_t>(kCtx * 8)});

        tokens = {"[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                  "the",   "cat",       "##s",   "sat",   ".",     "a"};
        json vocab = json::object();
        for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
        json added = json::array();
        for (int id : {0, 2, 3, 4, 5}) {
            added.push_back({{"id", id}, {"content", tokens[size_t(id)]}, {"special", true}});
        }
        tokenizer = {{"version", "1.0"},
                     {"added_tokens", added},
                     {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}}},
                     {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
                     {"post_processor",
                      {{"type", "TemplateProcessing"},
                       {"single",
                        {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
                         {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                         {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}}},
                       {"pair",
                        {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
                         {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                         {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}},
                         {{"Sequence", {{"id", "B"}, {"type_id", 1}}}},
                         {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 1}}}}}},
                       {"special_tokens",
                        {{"[CLS]", {{"id", "[CLS]"}, {"ids", {3}}, {"tokens", {"[CLS]"}}}},
                         {"[SEP]", {{"id", "[SEP]"}, {"ids", {4}}, {"tokens", {"[SEP]"}}}}}}}},
                     {"model",
                      {{"type", "WordPiece"},
                       {"unk_token", "[UNK]"},
                       {"continuing_subword_prefix", "##"},
                       {"max_input_chars_per_word", 100},
                       {"vocab", vocab}}}};
    }
    ~TinyBert() { fs::remove_all(dir); }

    StTensor& tensor(const std::string& name) {
        for (StTensor& t : tensors) {
            if (t.name == name) return t;
        }
        throw std::runtime_error("no fixture tensor " + name);
    }

    void write() const {
        write_text(dir / "config.json", config.dump(2));
        write_text(dir / "tokenizer.json", tokenizer.dump());
        write_text(dir / "tokenizer_config.json",
                   R"({"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",)"
                   R"( "cls_token": "[CLS]", "mask_token": "[MASK]"})");
        write_text(
            dir / "modules.json",
            R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},)"
            R"( {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])");
        write_text(dir / "1_Pooling" / "config.json",
                   R"({"pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true})");
        write_safetensors(dir / "model.safetensors", tensors);
    }

    ConvertReport convert(GgmlType type = GgmlType::f32) const {
        ConvertOptions o;
        o.hf_dir = dir;
        o.out = out();
        o.type = type;
        return convert_hf(o);
    }
    fs::path out() const { return dir / "out.gguf"; }

    fs::path dir;
    json config;
    json tokenizer;
    std::vector<std::string> tokens;
    std::vector<StTensor> tensors;
};

std::vector<float> floats_of(const StTensor& t) {
    std::vector<float> v(t.bytes.size() / 4);
    std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
    return v;
}

using test::dequantized;

TEST(Convert, TensorNamesShapesAndTypesAreLlamaCpps) {
    TinyBert m("names");
    m.write();
    for (GgmlType type : {GgmlType::f32, GgmlType::f16, GgmlType::q8_0}) {
        SCOPED_TRACE(std::string(ggml_type_name(type)));
        const ConvertReport r = m.convert(type);
        EXPECT_EQ(r.architecture, "bert");
        EXPECT_EQ(r.n_tensors, 21u);  // 5 embedding tensors + 16 per layer
        GgufFile f = GgufFile::open(m.out());
        const std::map<std::string, std::pair<std::vector<int64_t>, GgmlType>> expected = {
            {"token_embd.weight", {{32, 12}, type}},
            {"position_embd.weight", {{32, 16}, GgmlType::f32}},
            {"token_types.weight", {{32, 2}, GgmlType::f32}},
            {"token_embd_norm.weight", {{32}, GgmlType::f32}},
            {"token_embd_norm.bias", {{32}, GgmlType::f32}},
            {"blk.0.attn_q.weight", {{32, 32}, type}},
            {"blk.0.attn_q.bias", {{32}, GgmlType::f32}},
            {"blk.0.attn_k.weight", {{32, 32}, type}},
            {"blk.0.attn_k.bias", {{32}, GgmlType::f32}},
            {"blk.0.attn_v.weight", {{32, 32}, type}},
            {"blk.0.attn_v.bias", {{32}, GgmlType::f32}},
            {"blk.0.attn_output.weight", {{32, 32}, type}},
            {"blk.0.attn_output.bias", {{32}, GgmlType::f32}},
            {"blk.0.attn_output_norm.weight", {{32}, GgmlType::f32}},
            {"blk.0.attn_output_norm.bias", {{32}, GgmlType::f32}},
            {"blk.0.ffn_up.weight", {{32, 64}, type}},
            {"blk.0.ffn_up.bias", {{64}, GgmlType::f32}},
            {"blk.0.ffn_down.weight", {{64, 32}, type}},
            {"blk.0.ffn_down.bias", {{32}, GgmlType::f32}},
            {"blk.0.layer_output_norm.weight", {{32}, GgmlType::f32}},
            {"blk.0.layer_output_norm.bias", {{32}, GgmlType::f32}},
        };
        ASSERT_EQ(f.tensors().size(), expected.size());
        for (const auto& [name, want] : expected) {
            const GgufTensorInfo* t = f.find_tensor(name);
            ASSERT_NE(t, nullptr) << name;
            EXPECT_EQ(t->type, want.second) << name;
            ASSERT_EQ(t->n_dims, want.first.size()) << name;
            for (size_t d = 0; d < want.first.size(); ++d)
                EXPECT_EQ(t->ne[d], want.first[d]) << name;
        }
        EXPECT_EQ(f.get_string("general.architecture"), "bert");
        EXPECT_EQ(f.get_u64("general.file_type"), type == GgmlType::f32   ? 0u
                                                  : type == GgmlType::f16 ? 1u
                                                                          : 7u);
        EXPECT_EQ(f.get_u64("general.quantization_version"), 2u);
    }
}

TEST(Convert, HyperParametersAndPooling) {
    TinyBert m("hparams");
    m.write();
    m.convert();
    GgufFile f = GgufFile::open(m.out());
    EXPECT_EQ(f.get_u64("bert.context_length"), 16u);
    EXPECT_EQ(f.get_u64("bert.embedding_length"), 32u);
    EXPECT_EQ(f.get_u64("bert.feed_forward_length"), 64u);
    EXPECT_EQ(f.get_u64("bert.block_count"), 1u);
    EXPECT_EQ(f.get_u64("bert.attention.head_count"), 2u);
    EXPECT_EQ(f.get_f64("bert.attention.layer_norm_epsilon"), double(1e-12f));
    EXPECT_EQ(f.get_bool("bert.attention.causal"), false);
    EXPECT_EQ(f.get_u64("bert.pooling_type"), 1u);  // mean
    EXPECT_EQ(f.get_u64("tokenizer.ggml.token_type_count"), 2u);

    write_text(m.dir / "1_Pooling" / "config.json",
               R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false})");
    m.convert();
    EXPECT_EQ(GgufFile::open(m.out()).get_u64("bert.pooling_type"), 2u);  // cls

    fs::remove(m.dir / "modules.json");
    m.convert();
    EXPECT_EQ(GgufFile::open(m.out()).find("bert.pooling_type"), nullptr);
}

TEST(Convert, TokenizerKeys) {
    TinyBert m("tokenizer");
    m.write();
    m.convert();
    GgufFile f = GgufFile::open(m.out());
    EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "bert");
    const GgufArray* tokens = f.get_array("tokenizer.ggml.tokens", GgufType::string);
    ASSERT_NE(tokens, nullptr);
    const std::vector<std::string> want = {"[PAD]", "\u2581[unused0]", "[UNK]",     "[CLS]",
                                           "[SEP]", "[MASK]",          "\u2581the", "\u2581cat",
                                           "s",     "\u2581sat",       "\u2581.",   "\u2581a"};
    ASSERT_EQ(tokens->strings.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(tokens->strings[i], want[i]) << i;
    const GgufArray* types = f.get_array("tokenizer.ggml.token_type", GgufType::i32);
    ASSERT_NE(types, nullptr);
    const std::vector<int32_t> want_types = {3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < want_types.size(); ++i)
        EXPECT_EQ(types->raw_at<int32_t>(i), want_types[i]) << i;
    EXPECT_EQ(f.get_u64("tokenizer.ggml.bos_token_id"), 3u);
    EXPECT_EQ(f.get_u64("tokenizer.ggml.eos_token_id"), 4u);
    EXPECT_EQ(f.get_u64("tokenizer.ggml.unknown_token_id"), 2u);
    EXPECT_EQ(f.get_u64("tokenizer.ggml.seperator_token_id"), 4u);
    EXPECT_EQ(f.get_u64("tokenizer.ggml.padding_token_id"), 0u);
    EXPECT_EQ(f.get_u64("tokenizer.ggml.mask_token_id"), 5u);
    EXPECT_EQ(f.get_bool("tokenizer.ggml.add_bos_token"), true);
    EXPECT_EQ(f.get_bool("tokenizer.ggml.add_eos_token"), true);
    EXPECT_EQ(f.get_bool("tokenizer.ggml.add_sep_token"), false);
    EXPECT_EQ(f.get_bool("tokenizer.ggml.wordpiece.hf_normalizer"), true);
    EXPECT_EQ(f.get_u64("tokenizer.ggml.wordpiece.max_input_chars_per_word"), 100u);

    // Without tokenizer.json the same keys come from vocab.txt.
    const std::vector<std::pair<std::string_view, GgufValue>> from_json = gguf_contents(f).kvs;
    std::string vocab_txt;
    for (const std::string& t : m.tokens) vocab_txt += t + "\n";
    fs::remove(m.dir / "tokenizer.json");
    write_text(m.dir / "vocab.txt", vocab_txt);
    m.convert();
    GgufFile g = GgufFile::open(m.out());
    const GgufArray* tokens2 = g.get_array("tokenizer.ggml.tokens", GgufType::string);
    ASSERT_NE(tokens2, nullptr);
    EXPECT_EQ(tokens2->strings, tokens->strings);
    for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                            "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
                            "tokenizer.ggml.padding_token_id", "tokenizer.ggml.mask_token_id"}) {
        EXPECT_EQ(g.get_u64(key), f.get_u64(key)) << key;
    }
}

TEST(Convert, ValuesAreExactOrRoundedOnce) {
    TinyBert m("values");
    // One matrix stored as F16 and one as BF16 in the source: F16 -> F16 is
    // copied, BF16 -> F32 widens exactly.
    StTensor& q = m.tensor("encoder.layer.0.attention.self.query.weight");
    std::vector<float> qf = floats_of(q);
    q.dtype = "F16";
    q.bytes.resize(qf.size() * 2);
    for (size_t i = 0; i < qf.size(); ++i) {
        const uint16_t h = fp32_to_fp16(qf[i]);
        std::memcpy(q.bytes.data() + 2 * i, &h, 2);
    }
    StTensor& k = m.tensor("encoder.layer.0.attention.self.key.weight");
    std::vector<float> kf = floats_of(k);
    k.dtype = "BF16";
    k.bytes.resize(kf.size() * 2);
    for (size_t i = 0; i < kf.size(); ++i) {
        const uint16_t h = fp32_to_bf16(kf[i]);
        std::memcpy(k.bytes.data() + 2 * i, &h, 2);
    }
    m.write();

    m.convert(GgmlType::f32);
    GgufFile f32 = GgufFile::open(m.out());
    const std::vector<float> up = floats_of(m.tensor("encoder.layer.0.intermediate.dense.weight"));
    EXPECT_EQ(dequantized(f32, *f32.find_tensor("blk.0.ffn_up.weight")), up);
    const std::vector<float> k32 = dequantized(f32, *f32.find_tensor("blk.0.attn_k.weight"));
    for (size_t i = 0; i < kf.size(); ++i) EXPECT_EQ(k32[i], bf16_to_fp32(fp32_to_bf16(kf[i])));
    const std::vector<float> q32 = dequantized(f32, *f32.find_tensor("blk.0.attn_q.weight"));
    for (size_t i = 0; i < qf.size(); ++i) EXPECT_EQ(q32[i], fp16_to_fp32(fp32_to_fp16(qf[i])));

    m.convert(GgmlType::f16);
    GgufFile f16 = GgufFile::open(m.out());
    const GgufTensorInfo* q16 = f16.find_tensor("blk.0.attn_q.weight");
    std::span<const uint8_t> q16_bytes = f16.tensor_data(*q16);
    EXPECT_TRUE(std::equal(q16_bytes.begin(), q16_bytes.end(), q.bytes.begin(), q.bytes.end()));
    const std::vector<float> up16 = dequantized(f16, *f16.find_tensor("blk.0.ffn_up.weight"));
    for (size_t i = 0; i < up.size(); ++i) {
        // Round to nearest: within half an f16 ulp (2^-11 relative, normal range).
        EXPECT_LE(std::fabs(up16[i] - up[i]), std::ldexp(std::fabs(up[i]), -11) + 0x1p-25f) << i;
    }
    EXPECT_EQ(dequantized(f16, *f16.find_tensor("blk.0.ffn_up.bias")),
              floats_of(m.tensor("encoder.layer.0.intermediate.dense.bias")));

    m.convert(GgmlType::q8_0);
    GgufFile q8 = GgufFile::open(m.out());
    const std::vector<float> up8 = dequantized(q8, *q8.find_tensor("blk.0.ffn_up.weight"));
    for (size_t b = 0; b < up.size(); b += 32) {
        float amax = 0;
        for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(up[i]));
        // Q8_0: d = amax / 127, each value off by at most d/2, plus |q| <= 127
        // times d's f16 rounding (2^-11 relative).
        const float bound = amax / 127 * 0.5f + std::ldexp(amax, -11) + 1e-7f;
        for (size_t i = b; i < b + 32; ++i) EXPECT_LE(std::fabs(up8[i] - up[i]), bound) << i;
    }
}

TEST(Convert, Q8_0FallsBackToF16ForPartialBlocks) {
    TinyBert m("q8fallback");
    m.write();
    // Rows of 64 (ffn_down: n_in = FFN 64) quantize; change FFN to 48 and
    // ffn_up's rows (32) still quantize while ffn_down's (48) fall back.
    m.config["intermediate_size"] = 48;
    m.tensor("encoder.layer.0.intermediate.dense.weight").shape = {48, 32};
    m.tensor("encoder.layer.0.intermediate.dense.weight").bytes.resize(48 * 32 * 4);
    m.tensor("encoder.layer.0.intermediate.dense.bias").shape = {48};
    m.tensor("encoder.layer.0.intermediate.dense.bias").bytes.resize(48 * 4);
    m.tensor("encoder.layer.0.output.dense.weight").shape = {32, 48};
    m.tensor("encoder.layer.0.output.dense.weight").bytes.resize(48 * 32 * 4);
    m.write();
    m.convert(GgmlType::q8_0);
    GgufFile f = GgufFile::open(m.out());
    EXPECT_EQ(f.find_tensor("blk.0.ffn_up.weight")->type, GgmlType::q8_0);
    EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->type, GgmlType::f16);
}

TEST(Convert, ShardedWeights) {
    TinyBert m("sharded");
    m.write();
    m.convert();
    const std::string single = test::read_file_text(m.out());
    // The same tensors in two shards named by an index: the same file out.
    std::vector<StTensor> a(m.tensors.begin(), m.tensors.begin() + 10);
    std::vector<StTensor> b(m.tensors.begin() + 10, m.tensors.end());
    fs::remove(m.dir / "model.safetensors");
    write_safetensors(m.dir / "model-00001-of-00002.safetensors", a);
    write_safetensors(m.dir / "model-00002-of-00002.safetensors", b);
    json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
    for (const StTensor& t : a) index["weight_map"][t.name] = "model-00001-of-00002.safetensors";
    for (const StTensor& t : b) index["weight_map"][t.name] = "model-00002-of-00002.safetensors";
    write_text(m.dir / "model.safetensors.index.json", index.dump());
    m.convert();
    EXPECT_TRUE(test::read_file_text(m.out()) == single);
}

// Runs the conversion and returns the error it raised (or fails).
Error convert_error(const TinyBert& m) {
    try {
        m.convert();
    } catch (const Error& e) {
        EXPECT_FALSE(fs::exists(m.out())) << "no output on error";
        return e;
    }
    ADD_FAILURE() << "no error";
    return Error(ErrorKind::io, "", "", {}, "", "");
}

TEST(ConvertErrors, MissingConfig) {
    TinyBert m("noconfig");
    m.write();
    fs::remove(m.dir / "config.json");
    Error e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_EQ(fs::path(e.file()).filename(), "config.json");
}

TEST(ConvertErrors, MalformedConfig) {
    TinyBert m("badconfig");
    m.write();
    write_text(m.dir / "config.json", R"({"architectures": ["BertModel"], "hidden_size": 3)");
    Error e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "(JSON)");
    EXPECT_TRUE(e.offset().has_value());

    write_text(m.dir / "config.json", "[1, 2]");
    EXPECT_EQ(convert_error(m).kind(), ErrorKind::bad_type);
}

TEST(ConvertErrors, MissingOrWrongConfigField) {
    TinyBert m("field");
    m.config.erase("hidden_size");
    m.write();
    Error e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "hidden_size");
    EXPECT_EQ(fs::path(e.file()).filename(), "config.json");

    m.config["hidden_size"] = "32";
    m.write();
    e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::bad_type);
    EXPECT_EQ(e.field(), "hidden_size");

    m.config["hidden_size"] = 32;
    m.config["num_attention_heads"] = 5;
    m.write();
    EXPECT_EQ(convert_error(m).field(), "num_attention_heads");

    // A layer count far beyond the weights is an error, not an allocation.
    m.config["num_attention_heads"] = 2;
    m.config["num_hidden_layers"] = 4000000000u;
    m.write();
    e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "num_hidden_layers");

    m.config["num_hidden_layers"] = 1;
    m.config["vocab_size"] = 4000000000u;
    m.write();
    EXPECT_EQ(convert_error(m).field(), "embeddings.word_embeddings.weight.shape");

    m.config["vocab_size"] = TinyBert::kVocab;
    m.config["hidden_act"] = "relu";
    m.write();
    e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "hidden_act");
}

TEST(ConvertErrors, UnknownArchitecture) {
    TinyBert m("arch");
    m.config["architectures"] = {"LlamaForCausalLM"};
    m.write();
    Error e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "architectures");
    EXPECT_NE(e.found().find("LlamaForCausalLM"), std::string::npos);

    m.config.erase("architectures");
    m.write();
    EXPECT_EQ(convert_error(m).field(), "architectures");
}

TEST(ConvertErrors, MissingTensor) {
    TinyBert m("missing");
    std::erase_if(m.tensors, [](const StTensor& t) {
        return t.name == "encoder.layer.0.output.dense.weight";
    });
    m.write();
    Error e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "blk.0.ffn_down.weight");
    EXPECT_EQ(fs::path(e.file()).filename(), "model.safetensors");
}

TEST(ConvertErrors, WrongShape) {
    TinyBert m("shape");
    m.tensor("encoder.layer.0.output.dense.weight").shape = {64, 32};  // transposed
    m.write();
    Error e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "encoder.layer.0.output.dense.weight.shape");
    EXPECT_EQ(e.expected(), "[32, 64]");
    EXPECT_EQ(e.found(), "[64, 32]");
}

TEST(ConvertErrors, UnknownTensorAndUnconvertibleDtype) {
    TinyBert m("unknown");
    m.tensors.push_back(
        {"encoder.layer.0.attention.self.rotary.weight", "F32", {32}, std::vector<uint8_t>(128)});
    m.write();
    Error e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "encoder.layer.0.attention.self.rotary.weight");

    m.tensors.pop_back();
    StTensor& t = m.tensor("embeddings.LayerNorm.bias");
    t.dtype = "I32";
    m.write();
    e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "embeddings.LayerNorm.bias.dtype");
}

TEST(ConvertErrors, BadSafetensorsHeader) {
    TinyBert m("header");
    m.write();
    write_text(m.dir / "model.safetensors", std::string("\x10\0\0\0\0\0\0\0{\"a\":", 13));
    Error e = convert_error(m);
    EXPECT_EQ(fs::path(e.file()).filename(), "model.safetensors");
}

TEST(ConvertErrors, BadTokenizer) {
    TinyBert m("tok");
    m.tokenizer["model"]["type"] = "BPE";
    m.write();
    Error e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "model.type");

    fs::remove(m.dir / "tokenizer.json");
    e = convert_error(m);
    EXPECT_EQ(e.kind(), ErrorKind::io);
    EXPECT_EQ(fs::path(e.file()).filename(), "vocab.txt");
}

TEST(ConvertCli, ConvertsAndReportsErrors) {
    TinyBert m("cli");
    m.write();
    const std::string slim = test::slim_binary().string();
    test::CommandResult r = test::run_command(
        fmt::format("{} convert {} -o {} --type q8_0", slim, m.dir.string(), m.out().string()));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("[  21/21]"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("blk.0.ffn_up.weight"), std::string::npos);
    EXPECT_EQ(GgufFile::open(m.out()).find_tensor("blk.0.ffn_up.weight")->type, GgmlType::q8_0);

    r = test::run_command(
        fmt::format("{} convert {} -o {} --type q4_0", slim, m.dir.string(), m.out().string()));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--type"), std::string::npos) << r.err;

    fs::remove(m.dir / "config.json");
    r = test::run_command(
        fmt::format("{} convert {} -o {}", slim, m.dir.string(), (m.dir / "x.gguf").string()));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(m.dir / "x.gguf"));
}

}  // namespace
}  // namespace slim
