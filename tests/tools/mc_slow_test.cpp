// `slim mc` against llama.cpp's per-ending log-likelihoods on the first 20
// items of HellaSwag and ARC-Easy, for Gemma 3 270M and SmolLM2-135M
// (tests/reference/mc/, written by tools/reference/make_mc_refs.py through
// llama-cpp-python).
#include <gtest/gtest.h>

#include <algorithm>
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
#include "tools/mc.h"

namespace slim {
namespace {

using nlohmann::json;

struct Case {
    const char* model;  // reference name
    const char* task;
};

std::filesystem::path model_path(const std::string& name) {
    return name == "gemma3" ? test::default_model() : test::smollm2_model();
}

std::string task_file(const std::string& task) {
    const auto dir = test::testdata_dir() / "eval";
    return (task == "hellaswag" ? dir / "hellaswag/hellaswag_val_full.txt.bz2"
                                : dir / "arc/arc_easy_test.llm-foundry.jsonl")
        .string();
}

// slim computes both models with llama.cpp's arithmetic bit for bit
// (tests/model/decoder_slow_test.cpp), so every sum of log-probs must agree to
// the reference's rounding and every prediction must be llama.cpp's. For
// scale, the test prints llama.cpp's own spread on the task: the reference
// records its sums batched and one token at a time (logprob,
// logprob_sequential), which differ by up to 0.73 nats on Gemma's HellaSwag.
constexpr double kLogprobTolerance = 1e-4;

struct Spread {
    double max = 0, mean = 0;
};

Spread self_spread(const json& ref) {
    Spread s;
    int n = 0;
    for (const json& item : ref["items"]) {
        for (const json& e : item["endings"]) {
            const double d =
                std::abs(e["logprob"].get<double>() - e["logprob_sequential"].get<double>());
            s.max = std::max(s.max, d);
            s.mean += d;
            ++n;
        }
    }
    s.mean /= n;
    return s;
}

class McReference : public ::testing::TestWithParam<Case> {};

TEST_P(McReference, PerEndingLogLikelihoodsMatchLlamaCpp) {
    const std::string name = GetParam().model, task = GetParam().task;
    std::ifstream in(test::reference_dir() / "mc" / (name + "-" + task + ".json"));
    const json ref = json::parse(in);
    const int n_items = ref["n_items"].get<int>();

    GgufFile file = GgufFile::open(model_path(name).string());
    Tokenizer tokenizer = Tokenizer::load(file);
    auto backend = make_cpu_backend({2});
    auto model = load_model(file, *backend, 512);
    std::vector<McItem> items = load_mc_file(task_file(task));
    McOptions options;
    options.limit = n_items;
    McResult r = mc_evaluate(*model, *backend, tokenizer, items, options);
    ASSERT_EQ(r.n_items, n_items);

    const Spread own = self_spread(ref);
    double worst = 0, sum_diff = 0;
    int n_endings = 0;
    int flips = 0;
    for (int i = 0; i < n_items; ++i) {
        const json& item = ref["items"][size_t(i)];
        const McItemResult& got = r.items[size_t(i)];
        ASSERT_EQ(got.logprob.size(), item["endings"].size());
        for (size_t j = 0; j < got.logprob.size(); ++j) {
            const json& e = item["endings"][j];
            EXPECT_EQ(got.n_tokens[j], int(e["continuation"].size()))
                << "item " << i << " ending " << j << ": the continuation is tokenized differently";
            const double want = e["logprob"].get<double>();
            worst = std::max(worst, std::abs(got.logprob[j] - want));
            sum_diff += std::abs(got.logprob[j] - want);
            ++n_endings;
            EXPECT_NEAR(got.logprob[j], want, kLogprobTolerance) << "item " << i << " ending " << j;
        }
        if (got.pred != item["pred"].get<int>()) ++flips;
        if (got.pred_norm != item["pred_norm"].get<int>()) ++flips;
    }
    const double mean_diff = sum_diff / n_endings;
    std::printf(
        "%s %s: %d items, acc %d/%d (llama.cpp %d), acc_norm %d/%d (llama.cpp %d); |slim - "
        "llama.cpp| per ending: max %.4f, mean %.4f nats (llama.cpp batched vs sequential: max "
        "%.4f, mean %.4f); %d differing predictions\n",
        name.c_str(), task.c_str(), n_items, r.correct, n_items, ref["correct"].get<int>(),
        r.correct_norm, n_items, ref["correct_norm"].get<int>(), worst, mean_diff, own.max,
        own.mean, flips);
    EXPECT_EQ(flips, 0);
}

INSTANTIATE_TEST_SUITE_P(All, McReference,
                         ::testing::Values(Case{"gemma3", "hellaswag"}, Case{"gemma3", "arc-easy"},
                                           Case{"llama", "hellaswag"}, Case{"llama", "arc-easy"}),
                         [](const auto& param_info) {
                             std::string s =
                                 std::string(param_info.param.model) + "_" + param_info.param.task;
                             std::replace(s.begin(), s.end(), '-', '_');
                             return s;
                         });

// The command as a user runs it, on 3 items: scores and the 95% interval.
TEST(McCli, PrintsAccuracyWithConfidenceInterval) {
    auto r = test::run_command(test::slim_binary().string() + " mc -t 2 -m " +
                               test::smollm2_model().string() + " --task " + task_file("arc-easy") +
                               " --limit 3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(test::reference_dir() / "mc" / "llama-arc-easy.json");
    const json ref = json::parse(in);
    int want = 0;
    for (int i = 0; i < 3; ++i)
        want += ref["items"][size_t(i)]["pred"] == ref["items"][size_t(i)]["gold"];
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        r.out, m, std::regex(R"(acc      = ([0-9.]+) \+/- ([0-9.]+) \(95% CI, (\d+)/3\))")))
        << r.out;
    EXPECT_EQ(std::stoi(m[3]), want) << r.out;
    const double p = want / 3.0;
    EXPECT_NEAR(std::stod(m[2]), 1.96 * std::sqrt(p * (1 - p) / 3), 1e-4) << r.out;
    EXPECT_NE(r.out.find("acc_norm = "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("3/3 items"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace slim
