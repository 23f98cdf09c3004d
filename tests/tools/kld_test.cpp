// `slim kld`'s logits file and its checks, without running a model:
// tests/reference/kld/gemma3-q4_0.kld was written by
// tools/reference/make_kld_refs.py (Python, from llama.cpp's logits), so
// reading it checks slim's reader against an independent writer of the format
// in docs/FORMATS.md. Bad inputs must fail with a clear error before any
// evaluation starts.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "format/error.h"
#include "format/gguf.h"
#include "run_command.h"
#include "runtime/tokenizer.h"
#include "test_paths.h"
#include "tools/kld.h"
#include "tools/perplexity.h"

namespace slim {
namespace {

using nlohmann::json;

std::filesystem::path base_file() {
    return test::reference_dir() / "kld" / "gemma3-q4_0.kld";
}

json reference() {
    std::ifstream in(test::reference_dir() / "kld" / "gemma3-q4_0.json");
    return json::parse(in);
}

std::string wiki_slice(size_t bytes) {
    std::string text = test::read_file_text(test::testdata_dir() /
                                            "eval/wikitext-2-raw/wiki.test.nonblank-lf.raw");
    return text.substr(0, bytes);
}

class KldFile : public ::testing::Test {
  protected:
    std::filesystem::path write(const std::string& name, const std::string& bytes) {
        auto path = std::filesystem::temp_directory_path() /
                    ("slim-kld-" + std::to_string(::getpid()) + "-" + name);
        std::ofstream(path, std::ios::binary) << bytes;
        paths_.push_back(path);
        return path;
    }
    void TearDown() override {
        for (const auto& p : paths_) std::filesystem::remove(p);
    }
    static ErrorKind read_error(const std::filesystem::path& path, std::string* what = nullptr) {
        try {
            read_kld_logits(path);
        } catch (const Error& e) {
            if (what) *what = e.what();
            return e.kind();
        }
        ADD_FAILURE() << "no error for " << path;
        return ErrorKind::io;
    }

  private:
    std::vector<std::filesystem::path> paths_;
};

// The Python-written file reads back with the header the script recorded, its
// vocabulary hash is the one slim computes from the Gemma GGUF, and its tokens
// are the ones slim's tokenizer makes of the same text.
TEST_F(KldFile, ReadsTheReferenceWrittenFromLlamaCpp) {
    const json ref = reference();
    KldLogits base = read_kld_logits(base_file());
    const KldHeader& h = base.header;
    EXPECT_EQ(h.version, kKldFormatVersion);
    EXPECT_EQ(int(h.n_ctx), ref["n_ctx"].get<int>());
    EXPECT_EQ(int(h.n_chunks), ref["n_chunks"].get<int>());
    EXPECT_EQ(int(h.top_k), ref["top_k"].get<int>());
    EXPECT_EQ(int(h.n_tokens), ref["n_tokens"].get<int>());
    EXPECT_EQ(int(h.n_vocab), ref["n_vocab"].get<int>());
    EXPECT_EQ(int(h.n_positions), ref["llama_cpp"]["n_positions"].get<int>());
    EXPECT_EQ(fmt::format("{:016x}", h.vocab_hash), ref["vocab_hash"].get<std::string>());

    GgufFile file = GgufFile::open(test::default_model().string());
    Tokenizer tokenizer = Tokenizer::load(file);
    EXPECT_EQ(kld_vocab_hash(tokenizer.vocab()), h.vocab_hash);

    PerplexityOptions options;
    options.n_ctx = int(h.n_ctx);
    std::vector<TokenId> tokens =
        perplexity_tokenize(tokenizer, wiki_slice(ref["text_bytes"].get<size_t>()), options);
    EXPECT_EQ(tokens, base.tokens);
    EXPECT_NO_THROW(check_kld_text(h, "text", tokens, int(h.n_ctx)));

    // Every position: log-probs descending and below 0, and exp() of the
    // top-k summing to at most 1.
    for (size_t p = 0; p < h.n_positions; ++p) {
        double mass = 0;
        for (size_t j = 0; j < h.top_k; ++j) {
            const float lp = base.top_logp[p * h.top_k + j];
            EXPECT_LE(lp, 0.0f);
            if (j > 0) {
                EXPECT_LE(lp, base.top_logp[p * h.top_k + j - 1]);
            }
            mass += std::exp(double(lp));
        }
        EXPECT_LE(mass, 1.0 + 1e-5) << "position " << p;
    }
}

TEST_F(KldFile, RoundTripsThroughTheWriter) {
    KldLogits base = read_kld_logits(base_file());
    auto path = write("copy.kld", "");
    write_kld_logits(base, path);
    EXPECT_EQ(test::read_file_text(path), test::read_file_text(base_file()));
}

TEST_F(KldFile, WrongMagic) {
    std::string what;
    EXPECT_EQ(read_error(write("magic.kld", "GGUF and more bytes than the magic"), &what),
              ErrorKind::bad_magic);
    EXPECT_NE(what.find("slim kld logits file"), std::string::npos) << what;
    EXPECT_EQ(read_error(test::default_model()), ErrorKind::bad_magic);
}

TEST_F(KldFile, WrongVersion) {
    std::string bytes = test::read_file_text(base_file());
    bytes[8] = 7;  // the u32 version after the 8-byte magic
    std::string what;
    EXPECT_EQ(read_error(write("version.kld", bytes), &what), ErrorKind::unsupported);
    EXPECT_NE(what.find("version 7"), std::string::npos) << what;
}

TEST_F(KldFile, Truncated) {
    const std::string bytes = test::read_file_text(base_file());
    std::string what;
    EXPECT_EQ(read_error(write("cut.kld", bytes.substr(0, bytes.size() - 100)), &what),
              ErrorKind::truncated);
    EXPECT_NE(what.find("positions"), std::string::npos) << what;
    EXPECT_EQ(read_error(write("header.kld", bytes.substr(0, 20))), ErrorKind::truncated);
    EXPECT_EQ(read_error(write("extra.kld", bytes + "x")), ErrorKind::too_large);
}

TEST_F(KldFile, CorruptTokens) {
    std::string bytes = test::read_file_text(base_file());
    KldLogits base = read_kld_logits(base_file());
    // The first token follows the header and the two names.
    const size_t tokens_at = 8 + 4 + 4 + 8 + 8 + 5 * 4 + 4 + base.header.model_name.size() + 4 +
                             base.header.text_name.size();
    bytes[tokens_at + 5] ^= 1;
    std::string what;
    EXPECT_EQ(read_error(write("tokens.kld", bytes), &what), ErrorKind::bad_value);
    EXPECT_NE(what.find("corrupt"), std::string::npos) << what;
}

TEST(KldCheck, OtherTextAndContext) {
    KldLogits base = read_kld_logits(base_file());
    std::vector<TokenId> other = base.tokens;
    other[300] += 1;
    try {
        check_kld_text(base.header, "other.txt", other, int(base.header.n_ctx));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::bad_value);
        EXPECT_NE(std::string(e.what()).find("another text"), std::string::npos) << e.what();
    }
    EXPECT_THROW(check_kld_text(base.header, "text", base.tokens, 64), Error);
    EXPECT_THROW(check_kld_vocab(base.header, "model", base.header.n_vocab, 12345), Error);
}

// The estimator is the exact KL when the top-k covers the vocabulary, and
// below it otherwise (the log-sum inequality).
TEST(KldEstimator, ExactWithTheWholeVocabularyAndALowerBoundOtherwise) {
    const std::vector<float> base_logits = {2.0f, 1.0f, 0.5f, -1.0f, -3.0f, 0.0f};
    const std::vector<float> other_logits = {1.0f, 1.5f, 0.0f, 0.5f, -2.0f, -1.0f};
    auto lse = [](const std::vector<float>& x) {
        double s = 0;
        for (float v : x) s += std::exp(double(v));
        return std::log(s);
    };
    const double lp = lse(base_logits), lq = lse(other_logits);
    double exact = 0;
    for (size_t i = 0; i < base_logits.size(); ++i) {
        const double a = base_logits[i] - lp, b = other_logits[i] - lq;
        exact += std::exp(a) * (a - b);
    }
    // Ids by descending base logit.
    const std::vector<int32_t> order = {0, 1, 2, 5, 3, 4};
    std::vector<float> logp;
    for (int32_t id : order) logp.push_back(float(base_logits[size_t(id)] - lp));
    const double full = kld_topk_estimate(order, logp, other_logits, lq);
    EXPECT_NEAR(full, exact, 1e-6);
    double previous = 0;
    for (size_t k = 1; k < order.size(); ++k) {
        const double est = kld_topk_estimate(std::span(order).first(k), std::span(logp).first(k),
                                             other_logits, lq);
        EXPECT_LE(est, exact + 1e-9) << "k = " << k;
        EXPECT_GE(est, previous - 1e-9) << "k = " << k;  // refining the partition adds KL
        previous = est;
    }
}

// numpy.percentile's default (linear) on [1, 2, 3, 4]: 2.5 at 50%, 3.97 at 99%.
TEST(KldEstimator, PercentilesInterpolateAsNumpy) {
    const std::vector<double> v = {1, 2, 3, 4};
    EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.5), 2.5);
    EXPECT_NEAR(percentile_sorted(v, 0.99), 3.97, 1e-12);
    EXPECT_DOUBLE_EQ(percentile_sorted(v, 1.0), 4);
}

// The command on bad input: a non-zero exit and a message naming the problem,
// before any model runs.
class KldCliErrors : public KldFile {
  protected:
    static test::CommandResult slim_kld(const std::string& args) {
        return test::run_command(test::slim_binary().string() + " kld -t 1 " + args);
    }
};

TEST_F(KldCliErrors, LogitsFromAnotherModel) {
    auto r = slim_kld("--base " + base_file().string() + " -m " + test::smollm2_model().string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("different vocabulary"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("SmolLM2"), std::string::npos) << r.err;
}

TEST_F(KldCliErrors, LogitsFromAnotherText) {
    const json ref = reference();
    // The same number of bytes from further on: another text.
    std::string text = test::read_file_text(test::testdata_dir() /
                                            "eval/wikitext-2-raw/wiki.test.nonblank-lf.raw");
    auto path = write("other.txt", text.substr(10000, ref["text_bytes"].get<size_t>()));
    auto r = slim_kld("--base " + base_file().string() + " -m " + test::default_model().string() +
                      " -f " + path.string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("another text"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("wiki.test.nonblank-lf.raw"), std::string::npos) << r.err;
}

TEST_F(KldCliErrors, ContextOtherThanTheBases) {
    auto r = slim_kld("--base " + base_file().string() + " -m " + test::default_model().string() +
                      " -c 256");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("the base's context of 128"), std::string::npos) << r.err;
}

TEST_F(KldCliErrors, NotALogitsFile) {
    auto r = slim_kld("--base " + write("text.kld", "just some text\n").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("slim kld logits file"), std::string::npos) << r.err;
}

TEST_F(KldCliErrors, EmptyText) {
    auto out = write("out.kld", "");
    auto r = slim_kld("-m " + test::smollm2_model().string() + " --save-logits " + out.string() +
                      " -f " + write("empty.txt", "").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
}

TEST_F(KldCliErrors, TextShorterThanTwoChunks) {
    auto out = write("out.kld", "");
    auto r = slim_kld("-m " + test::smollm2_model().string() + " --save-logits " + out.string() +
                      " -c 64 -f " + write("short.txt", "The quick brown fox.").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("at least 128 tokens"), std::string::npos) << r.err;
}

TEST_F(KldCliErrors, ContextAboveTheModels) {
    auto out = write("out.kld", "");
    auto r = slim_kld("-m " + test::smollm2_model().string() + " --save-logits " + out.string() +
                      " -c 100000 -f " + write("text.txt", "Some text.").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("trained context of 8192"), std::string::npos) << r.err;
}

TEST_F(KldCliErrors, NeitherSaveNorBase) {
    auto r = slim_kld("-m " + test::smollm2_model().string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--save-logits / --base"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace slim
