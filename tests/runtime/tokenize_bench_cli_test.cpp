// `slim tokenize --bench N`: the ids are printed as without it, and the
// timing (median seconds and MB/s of N runs after a warm-up) goes to stderr.
#include <gtest/gtest.h>

#include <regex>

#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

using test::run_command;

std::string tokenize_cmd() {
    return test::slim_binary().string() + " tokenize -m " +
           (test::vocab_dir() / "ggml-vocab-llama-spm.gguf").string() + " -p 'Hello world' --ids";
}

TEST(SlimTokenizeBench, PrintsIdsAndTiming) {
    auto r = run_command(tokenize_cmd() + " --bench 3");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "[1, 15043, 3186]\n");
    EXPECT_TRUE(std::regex_search(
        r.err, std::regex(R"(11 bytes -> 3 tokens; 3 runs, median [0-9.]+ s .*MB/s, 1 thread)")))
        << r.err;
}

TEST(SlimTokenizeBench, RejectsARunCountBelowOne) {
    auto r = run_command(tokenize_cmd() + " --bench 0");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace slim
