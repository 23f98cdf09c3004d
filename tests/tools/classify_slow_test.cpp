// `slim classify` end to end on a real word-sense sample
// (tests/reference/classify/interest-sample.tsv: 211 "interest" lines from
// Senseval, tools/senseval_to_tsv.py --max-per-sense 40) with
// all-MiniLM-L6-v2 in F32:
//   - train on three quarters, predict the rest: the probabilities must be
//     those of transformers' hidden states + scikit-learn's regression on the
//     same lines (tools/reference/make_wsd_refs.py), for the target word and
//     for the pooled sentence;
//   - 5-fold cross-validation on all 211 lines: the target word's accuracy
//     must be far above the majority-class baseline, which must be the share
//     of the largest class.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "embed_models.h"
#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

namespace fs = std::filesystem;

class SlimClassifyWsd : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(fs::exists(test::minilm_dir() / "model.safetensors"))
            << "run scripts/get-models.sh";
        model_ = test::ConvertedModels::get().path("all-minilm-l6-v2", "f32").string();
        dir_ = fs::temp_directory_path() / ("slim-classify-wsd-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
        data_ = (test::reference_dir() / "classify" / "interest-sample.tsv").string();
        ref_ = nlohmann::json::parse(
            test::read_file_text(test::reference_dir() / "classify" / "wsd_minilm.json"));
        // The split make_wsd_refs.py uses: every fourth line (from the first) held out.
        std::ifstream in(data_);
        std::ofstream train(dir_ / "train.tsv"), test(dir_ / "test.txt");
        size_t i = 0;
        for (std::string line; std::getline(in, line); ++i) {
            if (i % 4 == 0) {
                test << line.substr(0, line.find('\t')) << "\n";
                ++n_test_;
            } else {
                train << line << "\n";
            }
        }
    }
    void TearDown() override { fs::remove_all(dir_); }

    test::CommandResult slim(const std::string& args) {
        return test::run_command(fmt::format("{} classify {}", test::slim_binary().string(), args));
    }

    void expect_reference(const std::string& mode, const std::string& target_flag) {
        const std::string head = (dir_ / (mode + ".gguf")).string();
        auto r = slim(fmt::format("train -m {} --data {} -o {} --folds 0 --l2 {} {} -t 2", model_,
                                  (dir_ / "train.tsv").string(), head, ref_["l2"].get<double>(),
                                  target_flag));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        r = slim(fmt::format("predict -m {} --head {} -f {} --format jsonl -t 2", model_, head,
                             (dir_ / "test.txt").string()));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const nlohmann::json& want = ref_[mode];
        const std::vector<std::string> labels = ref_["labels"];
        std::istringstream lines(r.out);
        size_t i = 0, same = 0;
        double worst = 0;
        for (std::string line; std::getline(lines, line); ++i) {
            const nlohmann::json j = nlohmann::json::parse(line);
            ASSERT_LT(i, want["probabilities"].size());
            EXPECT_EQ(j["index"].get<size_t>(), i);
            same += j["label"] == want["predicted"][i];
            for (size_t c = 0; c < labels.size(); ++c) {
                const double got = j["probabilities"][labels[c]].get<double>();
                worst = std::max(worst, std::abs(got - want["probabilities"][i][c].get<double>()));
            }
        }
        EXPECT_EQ(i, n_test_);
        // The embeddings differ from transformers' in the last float bits
        // (cosine 0.99999), so probabilities agree to about a thousandth and
        // all predicted labels but a near tie agree.
        EXPECT_LT(worst, 0.01) << mode;  // 0.0014 measured
        EXPECT_GE(same + 1, n_test_) << mode;
        std::cerr << mode << ": " << same << "/" << n_test_
                  << " labels as scikit-learn, largest probability difference " << worst << "\n";
    }

    std::string model_, data_;
    fs::path dir_;
    nlohmann::json ref_;
    size_t n_test_ = 0;
};

TEST_F(SlimClassifyWsd, TargetWordHeadMatchesTransformersAndScikitLearn) {
    expect_reference("target", "--target-word interest,interests");
}

TEST_F(SlimClassifyWsd, PooledHeadMatchesTransformersAndScikitLearn) {
    expect_reference("pooled", "");
}

TEST_F(SlimClassifyWsd, CrossValidationFarAboveMajority) {
    const std::string head = (dir_ / "cv.gguf").string();
    const auto r =
        slim(fmt::format("train -m {} --data {} -o {} --target-word interest,interests "
                         "--folds 5 --seed 7 -t 2",
                         model_, data_, head));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(classifier: +accuracy ([0-9.]+))")))
        << r.out;
    const double acc = std::stod(m[1]);
    ASSERT_TRUE(std::regex_search(
        r.out, m, std::regex(R"(majority-class baseline: accuracy ([0-9.]+), macro-F1 ([0-9.]+))")))
        << r.out;
    // Five senses have 40 lines each, interest_2 11: the majority guess is
    // right 40 times in 211 whichever of the five it picks.
    EXPECT_NEAR(std::stod(m[1]), 40.0 / 211, 1e-4);
    EXPECT_GT(acc, 0.6) << r.out;  // 0.73 to 0.77 with seeds 0 and 7
    EXPECT_NE(r.out.find("confusion matrix"), std::string::npos);
    EXPECT_NE(r.out.find("interest_6"), std::string::npos);
    EXPECT_TRUE(fs::exists(head));
    std::cerr << r.out;
}

}  // namespace
}  // namespace slim
