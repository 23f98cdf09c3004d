// `slim classify` as a user runs it, on bad input: each gives exit code 1 and
// one line naming the file, the line or key, and what was expected. The
// models are the test encoders converted to F32 (embed_models.h); only the
// checks after the model is loaded need them, and they run no forward pass
// except for the small head trained to test the model check.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>

#include "embed_models.h"
#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

namespace fs = std::filesystem;

class SlimClassify : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("slim-classify-cli-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& text) {
        const fs::path p = dir_ / name;
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }
    std::string bge() {
        EXPECT_TRUE(fs::exists(test::bge_random_dir() / "model.safetensors"))
            << "run scripts/get-models.sh";
        return test::ConvertedModels::get().path("bge-small-random", "f32").string();
    }
    std::string minilm() {
        EXPECT_TRUE(fs::exists(test::minilm_dir() / "model.safetensors"))
            << "run scripts/get-models.sh";
        return test::ConvertedModels::get().path("all-minilm-l6-v2", "f32").string();
    }
    test::CommandResult slim(const std::string& args) {
        return test::run_command(fmt::format("{} classify {}", test::slim_binary().string(), args));
    }
    // The one error line, and nothing on stdout.
    void expect_error(const test::CommandResult& r, const std::string& what) {
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find("slim: error: " + what), std::string::npos) << r.err;
        EXPECT_EQ(r.out, "");
    }

    fs::path dir_;
};

const char* kTwoSenses =
    "interest rates rose\tmoney\n"
    "the interest on the loan\tmoney\n"
    "he lost interest in it\tattention\n"
    "a keen interest in music\tattention\n";

TEST_F(SlimClassify, LabelFileWithOneClass) {
    const std::string tsv = write("one.tsv", "a\tx\nb\tx\nc\tx\n");
    expect_error(
        slim(fmt::format("train -m missing.gguf --data {} -o {}/h.gguf", tsv, dir_.string())),
        tsv + ": labels: expected at least two different labels, found only 'x' (3 lines)");
}

TEST_F(SlimClassify, MalformedLines) {
    const std::string no_tab = write("a.tsv", "good line\tx\nno tab here\n");
    expect_error(slim(fmt::format("train -m missing.gguf --data {} -o h.gguf", no_tab)),
                 no_tab + ": line 2: expected text<TAB>label, found no tab");
    const std::string no_text = write("b.tsv", "good\tx\n\ty\n");
    expect_error(slim(fmt::format("train -m missing.gguf --data {} -o h.gguf", no_text)),
                 no_text +
                     ": line 2: expected text<TAB>label with a non-empty text, found an "
                     "empty text");
    const std::string no_label = write("c.tsv", "good\tx\nsome text\t\n");
    expect_error(slim(fmt::format("train -m missing.gguf --data {} -o h.gguf", no_label)),
                 no_label +
                     ": line 2: expected text<TAB>label with a non-empty label, found an "
                     "empty label");
}

// Every fold must hold a line of every label, so k above the smallest class
// is refused before anything is embedded, naming that class; --folds 0 trains
// without cross-validation.
TEST_F(SlimClassify, MoreFoldsThanTheSmallestClass) {
    const std::string tsv = write("t.tsv", kTwoSenses);
    expect_error(slim(fmt::format("train -m missing.gguf --data {} -o h.gguf --folds 3", tsv)),
                 tsv +
                     ": --folds: expected 0 (no cross-validation) or 2 to 2: every fold needs "
                     "a line of each label, and the smallest, 'attention', has 2 lines, found 3");
    expect_error(slim(fmt::format("train -m missing.gguf --data {} -o h.gguf --folds 1", tsv)),
                 tsv + ": --folds: expected 0 (no cross-validation) or 2 to 2");
}

TEST_F(SlimClassify, LineWithoutTheTargetWord) {
    const std::string tsv = write("t.tsv", std::string(kTwoSenses) + "nothing to see\tmoney\n");
    const std::string head = (dir_ / "h.gguf").string();
    expect_error(slim(fmt::format("train -m {} --data {} -o {} --folds 0 --target-word interest",
                                  bge(), tsv, head)),
                 tsv +
                     ":5: target word: expected a text containing 'interest' (--target-word), "
                     "found a line without it");
    EXPECT_FALSE(fs::exists(head));
}

// Several penalties are cross-validated and one is chosen; a bad list is refused.
TEST_F(SlimClassify, PenaltyList) {
    std::string lines;
    for (int i = 0; i < 3; ++i) lines += kTwoSenses;
    const std::string tsv = write("t.tsv", lines);
    const std::string head = (dir_ / "h.gguf").string();
    auto r = slim(
        fmt::format("train -m {} --data {} -o {} --folds 3 --l2 0.01,1 -t 2", bge(), tsv, head));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("L2 penalties, 3-fold cross-validation each"), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '<'), 1) << r.out;  // one "<- chosen"
    EXPECT_NE(r.out.find("majority-class baseline: accuracy 0.5000"), std::string::npos) << r.out;
    for (const char* bad : {"abc", "0.1,", "-1", "0.1,,1"}) {
        expect_error(
            slim(fmt::format("train -m {} --data {} -o {} --l2 '{}'", bge(), tsv, head, bad)),
            fmt::format("--l2: expected penalties >= 0 separated by commas"));
    }
    expect_error(
        slim(fmt::format("train -m {} --data {} -o {} --l2 0.1,1 --folds 0", bge(), tsv, head)),
        "--l2: expected one value when --folds is 0");
}

TEST_F(SlimClassify, NotAHead) {
    const std::string model = bge();
    expect_error(slim(fmt::format("predict -m {0} --head {0} -p 'some text'", model)),
                 model +
                     ": general.architecture: expected classifier (a head written by slim "
                     "classify train), found bert");
    const std::string junk = write("junk.gguf", "not a gguf file at all");
    const auto r = slim(fmt::format("predict -m {} --head {} -p 'x'", model, junk));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("slim: error: " + junk), std::string::npos) << r.err;
}

TEST_F(SlimClassify, HeadFromAnotherModel) {
    const std::string tsv = write("t.tsv", kTwoSenses);
    const std::string head = (dir_ / "h.gguf").string();
    auto r = slim(fmt::format("train -m {} --data {} -o {} --folds 0 --target-word interest -t 2",
                              bge(), tsv, head));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(fs::exists(head));
    // The model it was trained on: one label and its probability per text.
    r = slim(fmt::format("predict -m {} --head {} -p 'interest rates' -p 'an interest in art'",
                         bge(), head));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
    // Another model of the same shape (384 dims): refused by its hash.
    r = slim(fmt::format("predict -m {} --head {} -p 'interest rates'", minilm(), head));
    expect_error(r, head + ": classifier.encoder.hash: expected xxh3-64:");
    EXPECT_NE(r.err.find("the head was trained on bge-small-random"), std::string::npos) << r.err;
}

TEST_F(SlimClassify, PredictInputWithoutTheWordOrEmpty) {
    const std::string tsv = write("t.tsv", kTwoSenses);
    const std::string head = (dir_ / "h.gguf").string();
    ASSERT_EQ(slim(fmt::format("train -m {} --data {} -o {} --folds 0 --target-word interest",
                               bge(), tsv, head))
                  .exit_code,
              0);
    const std::string in = write("in.txt", "interest rates\nno word here\n");
    expect_error(slim(fmt::format("predict -m {} --head {} -f {}", bge(), head, in)),
                 in + ":2: target word: expected a text containing 'interest'");
    const std::string empty = write("empty.txt", "interest rates\n\ninterest\n");
    expect_error(slim(fmt::format("predict -m {} --head {} -f {}", bge(), head, empty)),
                 empty + ": line 2: expected a text to classify, found an empty line");
}

}  // namespace
}  // namespace slim
