// `slim perplexity` on bad input: a non-zero exit and a message that says
// what is wrong, before any long computation starts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

using test::run_command;

class PerplexityErrors : public ::testing::Test {
  protected:
    std::filesystem::path write_text(const std::string& name, const std::string& text) {
        auto path = std::filesystem::temp_directory_path() /
                    ("slim-perplexity-" + std::to_string(::getpid()) + "-" + name);
        std::ofstream(path, std::ios::binary) << text;
        paths_.push_back(path);
        return path;
    }
    void TearDown() override {
        for (const auto& p : paths_) std::filesystem::remove(p);
    }
    static test::CommandResult slim_perplexity(const std::string& args) {
        return run_command(test::slim_binary().string() + " perplexity -m " +
                           test::smollm2_model().string() + " -t 1 " + args);
    }

  private:
    std::vector<std::filesystem::path> paths_;
};

TEST_F(PerplexityErrors, EmptyText) {
    auto r = slim_perplexity("-f " + write_text("empty.txt", "").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("empty.txt"), std::string::npos) << r.err;
}

TEST_F(PerplexityErrors, TextShorterThanTwoChunks) {
    // A few dozen tokens; -c 64 needs 128.
    auto r = slim_perplexity(
        "-c 64 -f " +
        write_text("short.txt", "The quick brown fox jumps over the lazy dog. ").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("at least 128 tokens"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("short.txt"), std::string::npos) << r.err;
}

TEST_F(PerplexityErrors, ContextAboveTheModels) {
    // SmolLM2-135M was trained on 8192 tokens.
    auto r = slim_perplexity("-c 100000 -f " + write_text("text.txt", "Some text.").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--ctx-size"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("trained context of 8192"), std::string::npos) << r.err;
}

TEST_F(PerplexityErrors, MissingFile) {
    auto r = slim_perplexity("-f /nonexistent/wiki.test.raw");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("/nonexistent/wiki.test.raw"), std::string::npos) << r.err;
}

TEST_F(PerplexityErrors, NoTextFileGiven) {
    auto r = slim_perplexity("");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace slim
