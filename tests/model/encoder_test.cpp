// The BERT encoder on all-MiniLM-L6-v2 (converted to F32 by slim convert)
// against sentence-transformers' embeddings of the same sentences
// (tests/reference/embed/, tools/reference/make_embed_refs.py), in batches of
// different sizes and lengths; and the errors a bad encoder file or bad
// input gives. All 1,000 sentences, both models and every type are in
// encoder_slow_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>

#include "backend/backend.h"
#include "embed_models.h"
#include "format/error.h"
#include "format/gguf.h"
#include "model/encoder.h"
#include "runtime/tokenizer.h"

namespace slim {
namespace {

constexpr size_t kSentences = 30;

class MiniLmEncoder : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(std::filesystem::exists(test::minilm_dir() / "model.safetensors"))
            << "run scripts/get-models.sh";
        file_ = std::make_unique<GgufFile>(
            GgufFile::open(test::ConvertedModels::get().path("all-minilm-l6-v2", "f32")));
        backend_ = make_cpu_backend({2});
    }
    std::unique_ptr<GgufFile> file_;
    std::unique_ptr<Backend> backend_;
};

TEST_F(MiniLmEncoder, ConfigFromTheFile) {
    auto enc = load_encoder(*file_, *backend_);
    const EncoderConfig& c = enc->config();
    EXPECT_EQ(c.arch, "bert");
    EXPECT_EQ(c.n_layer, 6);
    EXPECT_EQ(c.n_embd, 384);
    EXPECT_EQ(c.n_head, 12);
    EXPECT_EQ(c.n_ff, 1536);
    EXPECT_EQ(c.n_ctx_train, 512);
    EXPECT_EQ(c.n_token_types, 2);
    EXPECT_EQ(c.pooling, Pooling::mean);
}

// Every batch size packs sequences of different lengths differently; each
// must give sentence-transformers' embedding of each sentence.
TEST_F(MiniLmEncoder, MatchesSentenceTransformersInAnyBatching) {
    auto enc = load_encoder(*file_, *backend_);
    Tokenizer tok = Tokenizer::load(*file_);
    const std::vector<std::string> sentences = test::reference_sentences();
    const std::vector<float> ref = test::reference_embeddings("all-minilm-l6-v2");
    ASSERT_GE(sentences.size(), kSentences);
    std::vector<std::vector<int32_t>> seqs;
    size_t shortest = 1000, longest = 0;
    for (size_t i = 0; i < kSentences; ++i) {
        seqs.push_back(tok.tokenize(sentences[i], true));
        shortest = std::min(shortest, seqs.back().size());
        longest = std::max(longest, seqs.back().size());
    }
    EXPECT_LT(shortest + 5, longest);  // the batches mix lengths
    for (size_t batch : {size_t(1), size_t(7), size_t(30)}) {
        std::vector<float> out;
        double worst = 1;
        for (size_t b = 0; b < kSentences; b += batch) {
            const size_t n = std::min(batch, kSentences - b);
            enc->embed(std::span(seqs).subspan(b, n), out);
            ASSERT_EQ(out.size(), n * 384);
            for (size_t i = 0; i < n; ++i)
                worst = std::min(worst, test::cosine(&out[i * 384], &ref[(b + i) * 384], 384));
        }
        EXPECT_GE(worst, 0.9999) << "batch " << batch;
    }
}

TEST_F(MiniLmEncoder, HiddenStatesOfEveryToken) {
    auto enc = load_encoder(*file_, *backend_);
    std::vector<std::vector<int32_t>> seqs = {{101, 7592, 102}, {101, 7592, 2088, 999, 102}};
    std::vector<float> hidden, pooled;
    enc->hidden_states(seqs, hidden);
    ASSERT_EQ(hidden.size(), 8u * 384);
    enc->embed(seqs, pooled);
    // Mean pooling is the mean of the second sequence's five rows.
    for (size_t i = 0; i < 384; ++i) {
        double mean = 0;
        for (size_t t = 3; t < 8; ++t) mean += hidden[t * 384 + i];
        EXPECT_NEAR(mean / 5, pooled[384 + i], 1e-5);
    }
}

TEST_F(MiniLmEncoder, BadSequencesAreErrors) {
    auto enc = load_encoder(*file_, *backend_);
    std::vector<float> out;
    std::vector<std::vector<int32_t>> too_long = {std::vector<int32_t>(513, 1000)};
    try {
        enc->embed(too_long, out);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
        EXPECT_EQ(e.field(), "sequence[0]");
        EXPECT_EQ(e.found(), "513 tokens");
    }
    std::vector<std::vector<int32_t>> empty = {{101, 102}, {}};
    EXPECT_THROW(enc->embed(empty, out), Error);
    std::vector<std::vector<int32_t>> bad_id = {{101, 30522, 102}};
    try {
        enc->embed(bad_id, out);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.field(), "sequence[0].token[1]");
    }
}

// A converted MiniLM with one change, written to a temporary file.
class BrokenEncoder : public MiniLmEncoder {
  protected:
    void SetUp() override {
        MiniLmEncoder::SetUp();
        contents_ = gguf_contents(*file_);
    }
    void TearDown() override {
        if (!path_.empty()) std::filesystem::remove(path_);
    }
    Error load_error() {
        path_ = std::filesystem::temp_directory_path() /
                ("slim-broken-encoder-" + std::to_string(::getpid()) + ".gguf");
        gguf_write(path_, contents_);
        GgufFile f = GgufFile::open(path_);
        try {
            load_encoder(f, *backend_);
        } catch (const Error& e) {
            return e;
        }
        ADD_FAILURE() << "encoder loaded";
        return Error(ErrorKind::io, "", "", std::nullopt, "", "");
    }
    GgufTensorToWrite& tensor(std::string_view name) {
        for (auto& t : contents_.tensors)
            if (t.name == name) return t;
        throw std::runtime_error("no tensor " + std::string(name));
    }
    GgufContents contents_;
    std::filesystem::path path_;
};

TEST_F(BrokenEncoder, MissingTensor) {
    std::erase_if(contents_.tensors,
                  [](const GgufTensorToWrite& t) { return t.name == "blk.4.ffn_down.bias"; });
    Error e = load_error();
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "tensor 'blk.4.ffn_down.bias'");
}

TEST_F(BrokenEncoder, TensorOfTheWrongShape) {
    GgufTensorToWrite& t = tensor("blk.2.ffn_up.weight");  // 384 x 1536
    std::swap(t.ne[0], t.ne[1]);
    Error e = load_error();
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "tensor 'blk.2.ffn_up.weight'.shape");
    EXPECT_EQ(e.expected(), "384 x 1536");
    EXPECT_EQ(e.found(), "1536 x 384");
}

TEST_F(BrokenEncoder, PositionTableShorterThanTheContext) {
    for (auto& [key, value] : contents_.kvs)
        if (key == "bert.context_length") value = GgufValue::make_u32(1024);
    Error e = load_error();
    EXPECT_EQ(e.field(), "tensor 'position_embd.weight'.shape");
    EXPECT_EQ(e.expected(), "384 x 1024");
}

TEST_F(BrokenEncoder, UnknownPoolingType) {
    for (auto& [key, value] : contents_.kvs)
        if (key == "bert.pooling_type") value = GgufValue::make_u32(7);
    Error e = load_error();
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "bert.pooling_type");
}

TEST(LoadEncoder, DecoderFileIsNotAnEncoder) {
    GgufFile f = GgufFile::open(test::smollm2_model());
    auto backend = make_cpu_backend({1});
    try {
        load_encoder(f, *backend);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::unsupported);
        EXPECT_EQ(e.field(), "general.architecture");
        EXPECT_EQ(e.found(), "llama (not an encoder model)");
    }
}

TEST(LoadEncoder, VocabularyOnlyBertNamesTheFirstMissingTensor) {
    GgufFile f = GgufFile::open(test::vocab_dir() / "ggml-vocab-bert-bge.gguf");
    auto backend = make_cpu_backend({1});
    try {
        load_encoder(f, *backend);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::bad_value);
        EXPECT_NE(e.field().find("token_types.weight"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace slim
