// `slim info` as a user runs it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

using test::run_command;

std::string slim() {
    return test::slim_binary().string();
}

TEST(SlimCli, VersionAndHelp) {
    auto v = run_command(slim() + " --version");
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_NE(v.out.find("slim "), std::string::npos);
    auto h = run_command(slim() + " --help");
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("info"), std::string::npos);
}

TEST(SlimCli, BadFlagsFailWithUsage) {
    EXPECT_NE(run_command(slim()).exit_code, 0);
    EXPECT_NE(run_command(slim() + " no-such-verb").exit_code, 0);
    auto r = run_command(slim() + " info --no-such-flag x.gguf");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("no-such-flag"), std::string::npos) << r.err;
    EXPECT_NE(run_command(slim() + " info").exit_code, 0);
}

TEST(SlimInfo, MissingFileIsAClearError) {
    auto r = run_command(slim() + " info /nonexistent/model.gguf");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("No such file"), std::string::npos) << r.err;
}

TEST(SlimInfo, NotAGgufIsAClearError) {
    auto r =
        run_command(slim() + " info " + (test::vocab_dir() / "ggml-vocab-gpt-2.gguf.inp").string());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("header.magic"), std::string::npos) << r.err;
    auto dir = run_command(slim() + " info " + test::vocab_dir().string());
    EXPECT_EQ(dir.exit_code, 1);
    EXPECT_NE(dir.err.find("regular file"), std::string::npos) << dir.err;
}

// Every vocabulary GGUF in the shared test data is described, as text and as JSON.
TEST(SlimInfo, ReadsEveryVocabFile) {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(test::vocab_dir())) {
        if (entry.path().extension() != ".gguf") continue;
        ++n;
        std::string path = entry.path().string();
        auto text = run_command(slim() + " info " + path);
        EXPECT_EQ(text.exit_code, 0) << path << ": " << text.err;
        EXPECT_NE(text.out.find("tokenizer.ggml.tokens"), std::string::npos) << path;
        auto js = run_command(slim() + " info --json " + path);
        ASSERT_EQ(js.exit_code, 0) << path << ": " << js.err;
        nlohmann::json info = nlohmann::json::parse(js.out);
        EXPECT_EQ(info["file_size"].get<uint64_t>(), std::filesystem::file_size(entry.path()));
        EXPECT_EQ(info["tensors"].size(), 0u) << path;
        EXPECT_EQ(info["metadata"]["tokenizer.ggml.tokens"]["type"], "array") << path;
    }
    EXPECT_EQ(n, 19);
}

TEST(SlimInfo, DefaultModel) {
    ASSERT_TRUE(std::filesystem::exists(test::default_model())) << "run scripts/get-models.sh";
    auto r = run_command(slim() + " info --json " + test::default_model().string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json info = nlohmann::json::parse(r.out);
    // Facts about Gemma 3 270M that the gguf package also reports.
    EXPECT_EQ(info["architecture"], "gemma3");
    EXPECT_EQ(info["hyperparameters"]["block_count"], 18);
    EXPECT_EQ(info["hyperparameters"]["embedding_length"], 640);
    EXPECT_EQ(info["hyperparameters"]["attention.layer_norm_rms_epsilon"], 1e-6);
    EXPECT_EQ(info["tensors"].size(), 236u);
    EXPECT_EQ(info["n_parameters"], 268098176u);
    EXPECT_EQ(info["metadata"]["tokenizer.ggml.tokens"]["count"], 262144);
    uint64_t bytes = 0, params = 0;
    for (auto& [type, t] : info["types"].items()) {
        bytes += t["bytes"].get<uint64_t>();
        params += t["parameters"].get<uint64_t>();
    }
    EXPECT_EQ(bytes, info["n_tensor_bytes"].get<uint64_t>());
    EXPECT_EQ(params, info["n_parameters"].get<uint64_t>());
    auto text = run_command(slim() + " info " + test::default_model().string());
    EXPECT_EQ(text.exit_code, 0);
    EXPECT_NE(text.out.find("bits per weight"), std::string::npos);
    EXPECT_NE(text.out.find("token_embd.weight"), std::string::npos);
}

}  // namespace
}  // namespace slim
