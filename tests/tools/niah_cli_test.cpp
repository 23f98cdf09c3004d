// `slim niah` on bad input: a non-zero exit and a message that names what is
// wrong, before the model runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

using test::run_command;

class NiahErrors : public ::testing::Test {
  protected:
    std::filesystem::path write_text(const std::string& name, const std::string& text) {
        auto path = std::filesystem::temp_directory_path() /
                    ("slim-niah-" + std::to_string(::getpid()) + "-" + name);
        std::ofstream(path, std::ios::binary) << text;
        paths_.push_back(path);
        return path;
    }
    void TearDown() override {
        for (const auto& p : paths_) std::filesystem::remove(p);
    }
    // SmolLM2-135M: trained context 8192.
    static test::CommandResult slim_niah(const std::string& args) {
        return run_command(test::slim_binary().string() + " niah -m " +
                           test::smollm2_model().string() + " -t 1 -o /tmp/slim-niah-never " +
                           args);
    }
    static void expect_error(const test::CommandResult& r, const std::string& text) {
        EXPECT_NE(r.exit_code, 0);
        EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("niah: "), std::string::npos) << "the run started:\n" << r.err;
        EXPECT_FALSE(std::filesystem::exists("/tmp/slim-niah-never.json"));
    }

  private:
    std::vector<std::filesystem::path> paths_;
};

TEST_F(NiahErrors, EmptyHaystack) {
    auto r = slim_niah("--haystack " + write_text("empty.txt", "").string());
    expect_error(r, "empty.txt");
    EXPECT_NE(r.err.find("an empty text"), std::string::npos) << r.err;
    r = slim_niah("--haystack " + write_text("blank.txt", "  \n\n ").string());
    expect_error(r, "only whitespace");
}

TEST_F(NiahErrors, MissingHaystack) {
    expect_error(slim_niah("--haystack /nonexistent/haystack.txt"), "/nonexistent/haystack.txt");
}

TEST_F(NiahErrors, ContextAboveTheModels) {
    auto r = slim_niah("--max-ctx 100000");
    expect_error(r, "--max-ctx");
    EXPECT_NE(r.err.find("trained context of 8192"), std::string::npos) << r.err;
    expect_error(slim_niah("--lengths 1024,9000"), "at most 8192 tokens");
    expect_error(slim_niah("--max-ctx 2048 --lengths 1024,4096"), "at most 2048 tokens");
}

TEST_F(NiahErrors, LengthsOutOfRange) {
    expect_error(slim_niah("--lengths 0"), "positive token counts");
    expect_error(slim_niah("--lengths 1x"), "positive token counts");
    expect_error(slim_niah("--lengths 2k,1k"), "ascending");
    expect_error(slim_niah("--lengths 40"), "(template, needle and question");
}

TEST_F(NiahErrors, DepthsOutOfRange) {
    expect_error(slim_niah("--lengths 512 --depths 0,150"), "depths from 0 to 100");
    expect_error(slim_niah("--lengths 512 --depths=-5"), "depths from 0 to 100");
}

TEST_F(NiahErrors, NeedleQuestionAndAnswer) {
    expect_error(slim_niah("--needle 'The key is blue.'"), "--needle, --question and --answer");
    expect_error(
        slim_niah("--needle 'The key is blue.' --question 'What colour is the key?' --answer red"),
        "--answer");
    expect_error(slim_niah("--needle '' --question 'Q?' --answer x"), "non-empty");
}

TEST_F(NiahErrors, NoChatTemplateToAskWith) {
    // llama.cpp's SentencePiece test vocabulary: a llama file without a template.
    auto r = run_command(test::slim_binary().string() + " niah -m " +
                         (test::vocab_dir() / "ggml-vocab-llama-spm.gguf").string() +
                         " --prompt chat -o /tmp/slim-niah-never");
    expect_error(r, "tokenizer.chat_template");
    expect_error(slim_niah("--prompt bogus"), "--prompt");
}

TEST_F(NiahErrors, OutputFolderMissing) {
    auto r = run_command(test::slim_binary().string() + " niah -m " +
                         test::smollm2_model().string() + " -o /nonexistent/run");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("/nonexistent"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace slim
