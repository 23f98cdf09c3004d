// Both encoder test models, converted by slim convert to F32, F16 and Q8_0,
// against sentence-transformers (tests/reference/embed/, written by
// tools/reference/make_embed_refs.py):
//   - cosine similarity with sentence-transformers' embedding of each of the
//     1,000 reference sentences: >= 0.9999 (F32, F16), >= 0.999 (Q8_0);
//   - STS Benchmark test set: the Spearman correlation of slim's cosine
//     scores with the gold scores within 0.002 of sentence-transformers';
//   - a text longer than the 512 positions, truncated by slim::Embedder as
//     sentence-transformers truncates it (bge-small-random: max_seq_length 512).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

#include "backend/backend.h"
#include "embed_models.h"
#include "format/gguf.h"
#include "tools/embed.h"

namespace slim {
namespace {

struct Case {
    std::string model, type;
    double min_cosine;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    std::string s = info.param.model + "_" + info.param.type;
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}

// Ranks 1..n, ties given their average rank (as scipy.stats.rankdata).
std::vector<double> ranks(const std::vector<double>& v) {
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
        for (size_t k = i; k <= j; ++k) r[order[k]] = double(i + j) / 2 + 1;
        i = j + 1;
    }
    return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
    const std::vector<double> ra = ranks(a), rb = ranks(b);
    const double n = double(a.size());
    const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
    const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
    double cov = 0, va = 0, vb = 0;
    for (size_t i = 0; i < ra.size(); ++i) {
        cov += (ra[i] - ma) * (rb[i] - mb);
        va += (ra[i] - ma) * (ra[i] - ma);
        vb += (rb[i] - mb) * (rb[i] - mb);
    }
    return cov / std::sqrt(va * vb);
}

struct StsPair {
    std::string a, b;
    double gold;
};

// sts-test.csv: tab-separated, the score in column 5, the sentences in 6 and 7.
std::vector<StsPair> stsb_test() {
    std::ifstream in(test::testdata_dir() / "eval/stsb/sts-test.csv");
    std::vector<StsPair> pairs;
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> cols;
        std::stringstream ss(line);
        for (std::string c; std::getline(ss, c, '\t');) cols.push_back(c);
        if (cols.size() >= 7) pairs.push_back({cols[5], cols[6], std::stod(cols[4])});
    }
    return pairs;
}

class EncoderReference : public ::testing::TestWithParam<Case> {
  protected:
    void SetUp() override {
        ASSERT_TRUE(
            std::filesystem::exists(test::encoder_hf_dir(GetParam().model) / "model.safetensors"))
            << "run scripts/get-models.sh";
        file_ = std::make_unique<GgufFile>(
            GgufFile::open(test::ConvertedModels::get().path(GetParam().model, GetParam().type)));
        backend_ = make_cpu_backend({});
        embedder_ = std::make_unique<Embedder>(*file_, *backend_);
    }
    std::unique_ptr<GgufFile> file_;
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<Embedder> embedder_;
};

TEST_P(EncoderReference, ThousandSentences) {
    const std::vector<std::string> sentences = test::reference_sentences();
    const std::vector<float> ref = test::reference_embeddings(GetParam().model);
    ASSERT_EQ(sentences.size(), 1000u);
    ASSERT_EQ(ref.size(), 1000u * 384);
    const EmbedResult r = embedder_->embed(sentences, {});
    ASSERT_EQ(r.embeddings.size(), ref.size());
    EXPECT_EQ(r.n_truncated, 0u);
    double worst = 1, sum = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < 1000; ++i) {
        const double c = test::cosine(&r.embeddings[i * 384], &ref[i * 384], 384);
        sum += c;
        if (c < worst) worst = c, worst_i = i;
    }
    std::printf("%s %s: cosine with sentence-transformers: min %.7f (sentence %zu), mean %.7f\n",
                GetParam().model.c_str(), GetParam().type.c_str(), worst, worst_i, sum / 1000);
    EXPECT_GE(worst, GetParam().min_cosine) << sentences[worst_i];

    // The random bge's embeddings share most of their direction (the mean
    // cosine between different sentences is 0.993), so a plain cosine says
    // little about what tells sentences apart. The same comparison after
    // subtracting the reference's mean embedding from both sides (on unit
    // vectors) does: >= 0.9999 for F32/F16, >= 0.99 for Q8_0, whose rounding
    // is then measured against the small sentence-specific part alone.
    std::vector<double> mean(384, 0.0);
    for (size_t i = 0; i < 1000; ++i)
        for (size_t j = 0; j < 384; ++j) mean[j] += ref[i * 384 + j] / 1000.0;
    double worst_centered = 1;
    for (size_t i = 0; i < 1000; ++i) {
        const float* e = &r.embeddings[i * 384];
        double norm2 = 0;
        for (size_t j = 0; j < 384; ++j) norm2 += double(e[j]) * e[j];
        const double ns = std::sqrt(norm2);  // the reference vectors are unit already
        std::vector<float> a(384), b(384);
        for (size_t j = 0; j < 384; ++j) {
            a[j] = float(e[j] / ns - mean[j]);
            b[j] = float(ref[i * 384 + j] - mean[j]);
        }
        worst_centered = std::min(worst_centered, test::cosine(a.data(), b.data(), 384));
    }
    std::printf("%s %s: cosine after centering: min %.7f\n", GetParam().model.c_str(),
                GetParam().type.c_str(), worst_centered);
    EXPECT_GE(worst_centered, GetParam().type == "q8_0" ? 0.99 : 0.9999);
}

// The STS-B correlation once per model (2,758 sentences each: the slowest
// test here), and truncation on the model whose reference has a long text.
class EncoderStsb : public EncoderReference {};
class EncoderTruncation : public EncoderReference {};

TEST_P(EncoderStsb, SpearmanMatchesSentenceTransformers) {
    const std::vector<StsPair> pairs = stsb_test();
    const nlohmann::json meta = test::embed_reference_meta();
    ASSERT_EQ(pairs.size(), meta["stsb_pairs"].get<size_t>());
    std::vector<std::string> texts;
    for (const StsPair& p : pairs) texts.push_back(p.a);
    for (const StsPair& p : pairs) texts.push_back(p.b);
    const EmbedResult r = embedder_->embed(texts, {});
    std::vector<double> cos, gold;
    const size_t n = pairs.size();
    for (size_t i = 0; i < n; ++i) {
        cos.push_back(test::cosine(&r.embeddings[i * 384], &r.embeddings[(n + i) * 384], 384));
        gold.push_back(pairs[i].gold);
    }
    const double rho = spearman(cos, gold);
    const double ref = meta["models"][GetParam().model]["stsb_spearman"].get<double>();
    std::printf("%s %s: STS-B test Spearman: slim %.6f, sentence-transformers %.6f\n",
                GetParam().model.c_str(), GetParam().type.c_str(), rho, ref);
    EXPECT_NEAR(rho, ref, 0.002);
}

TEST_P(EncoderTruncation, LongTextIsTruncatedToThePositions) {
    const nlohmann::json m = test::embed_reference_meta()["models"][GetParam().model];
    std::string text = test::read_file_text(test::embed_reference_dir() / "long.txt");
    text.pop_back();  // the newline
    bool truncated = false;
    EXPECT_EQ(embedder_->tokenize(text, &truncated).size(), 512u);
    EXPECT_TRUE(truncated);
    EXPECT_GT(m["long_tokens_untruncated"].get<int>(), 512);
    const std::vector<float> ref = m["long_embedding"].get<std::vector<float>>();
    const EmbedResult r = embedder_->embed(std::vector<std::string>{text}, {});
    EXPECT_EQ(r.n_truncated, 1u);
    EXPECT_GE(test::cosine(r.embeddings.data(), ref.data(), 384), GetParam().min_cosine);
}

INSTANTIATE_TEST_SUITE_P(Models, EncoderReference,
                         ::testing::Values(Case{"all-minilm-l6-v2", "f32", 0.9999},
                                           Case{"all-minilm-l6-v2", "f16", 0.9999},
                                           Case{"all-minilm-l6-v2", "q8_0", 0.999},
                                           Case{"bge-small-random", "f32", 0.9999},
                                           Case{"bge-small-random", "f16", 0.9999},
                                           Case{"bge-small-random", "q8_0", 0.999}),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Models, EncoderStsb,
                         ::testing::Values(Case{"all-minilm-l6-v2", "f32", 0.9999},
                                           Case{"bge-small-random", "f32", 0.9999}),
                         case_name);
// MiniLM's sentence-transformers config truncates at 256 tokens, not at the
// 512 positions slim truncates at, so only bge has a long-text reference.
INSTANTIATE_TEST_SUITE_P(Models, EncoderTruncation,
                         ::testing::Values(Case{"bge-small-random", "f32", 0.9999},
                                           Case{"bge-small-random", "f16", 0.9999},
                                           Case{"bge-small-random", "q8_0", 0.999}),
                         case_name);

}  // namespace
}  // namespace slim
