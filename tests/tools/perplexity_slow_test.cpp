// slim's perplexity against llama.cpp's on the same GGUF, text slice and
// context (tests/reference/perplexity/, written by
// tools/reference/make_perplexity_refs.py through llama-cpp-python).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "backend/backend.h"
#include "format/gguf.h"
#include "model/model.h"
#include "run_command.h"
#include "runtime/tokenizer.h"
#include "test_paths.h"
#include "tools/perplexity.h"

namespace slim {
namespace {

using nlohmann::json;

json reference(const std::string& name) {
    std::ifstream in(test::reference_dir() / "perplexity" / (name + ".json"));
    return json::parse(in);
}

// The slice of WikiText-2 the reference scored: its first text_bytes bytes.
std::string wiki_slice(const json& ref) {
    std::string text = test::read_file_text(test::testdata_dir() /
                                            "eval/wikitext-2-raw/wiki.test.nonblank-lf.raw");
    return text.substr(0, ref["text_bytes"].get<size_t>());
}

// slim computes with llama.cpp's arithmetic bit for bit for both models
// (backend/cpu/ggml_math.h, backend/cpu/kernels.h), so every figure equals
// llama.cpp's up to the 7 significant digits the reference keeps, although
// slim runs each chunk in two batches of 64 and llama.cpp in one
// of 128. The issue asks for 0.1%. The CLI prints chunks to 4 decimals.
constexpr double kPplTolerance = 1e-6;
constexpr double kPrintedTolerance = 1e-5;

// llama.cpp's own figure moves by this much between batched and one-token-at-a-
// time evaluation of the same chunks (ppl_sequential in the reference).
double self_noise(const json& ref) {
    return std::abs(ref["ppl_sequential"].get<double>() / ref["ppl"].get<double>() - 1);
}

void expect_agreement(const std::filesystem::path& model_path, const std::string& name) {
    const json ref = reference(name);
    GgufFile file = GgufFile::open(model_path.string());
    Tokenizer tokenizer = Tokenizer::load(file);
    auto backend = make_cpu_backend({2});
    auto model = load_model(file, *backend, 64);
    const std::string text = wiki_slice(ref);

    PerplexityOptions options;
    options.n_ctx = ref["n_ctx"].get<int>();
    options.n_chunks = ref["n_chunks"].get<int>();
    std::vector<TokenId> tokens = perplexity_tokenize(tokenizer, text, options);
    ASSERT_EQ(int(tokens.size()), ref["n_tokens"].get<int>());
    ASSERT_EQ(std::vector<TokenId>(tokens.begin(), tokens.begin() + 16),
              ref["first_tokens"].get<std::vector<TokenId>>());

    PerplexityResult r = perplexity(*model, *backend, tokenizer, text, options);
    EXPECT_EQ(r.n_chunks, ref["n_chunks"].get<int>());
    EXPECT_EQ(r.n_scored, ref["n_scored"].get<int>());
    const auto ref_chunks = ref["chunk_ppl"].get<std::vector<double>>();
    ASSERT_EQ(r.chunk_ppl.size(), ref_chunks.size());
    for (size_t i = 0; i < ref_chunks.size(); ++i) {
        EXPECT_NEAR(r.chunk_ppl[i] / ref_chunks[i], 1.0, kPplTolerance) << "chunk " << i + 1;
    }
    const double ppl_ref = ref["ppl"].get<double>();
    const double rel = std::abs(r.ppl / ppl_ref - 1);
    std::printf(
        "%s: slim PPL = %.4f +/- %.5f, llama.cpp %.4f +/- %.5f (sequential %.4f): "
        "relative difference %.4f%% (llama.cpp batched vs sequential %.4f%%)\n",
        name.c_str(), r.ppl, r.ppl_stderr, ppl_ref, ref["ppl_stderr"].get<double>(),
        ref["ppl_sequential"].get<double>(), 100 * rel, 100 * self_noise(ref));
    EXPECT_LT(rel, kPplTolerance) << "slim " << r.ppl << " vs llama.cpp " << ppl_ref;
    EXPECT_NEAR(r.ppl_stderr / ref["ppl_stderr"].get<double>(), 1.0, kPplTolerance);
}

TEST(PerplexityReference, Gemma3) {
    expect_agreement(test::default_model(), "gemma3");
}

TEST(PerplexityReference, SmolLM2) {
    expect_agreement(test::smollm2_model(), "llama");
}

// The command as a user runs it: llama-perplexity's output lines.
TEST(PerplexityCli, PrintsChunksAndFinalEstimate) {
    const json ref = reference("llama");
    auto path = std::filesystem::temp_directory_path() / "slim-perplexity-slice.txt";
    std::ofstream(path, std::ios::binary) << wiki_slice(ref);
    auto r = test::run_command(test::slim_binary().string() + " perplexity -m " +
                               test::smollm2_model().string() + " -f " + path.string() +
                               " -c 128 --chunks 1 -t 2");
    std::filesystem::remove(path);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(^\[1\]([0-9.]+),\n)"))) << r.out;
    EXPECT_NEAR(std::stod(m[1]) / ref["chunk_ppl"][0].get<double>(), 1.0, kPrintedTolerance);
    EXPECT_TRUE(std::regex_search(
        r.out, std::regex(R"(\nFinal estimate: PPL = [0-9]+\.[0-9]{4} \+/- [0-9]+\.[0-9]{5}\n$)")))
        << r.out;
    EXPECT_NE(r.err.find("1/1 chunks"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace slim
