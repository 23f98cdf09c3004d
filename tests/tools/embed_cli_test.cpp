// `slim embed` as a user runs it, on all-MiniLM-L6-v2 converted to F32:
// every output format against sentence-transformers' embeddings
// (tests/reference/embed/), --similarity against the cosines of those
// embeddings, the truncation warning, and bad input (exit code 1, one
// line naming what is wrong).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "embed_models.h"
#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

namespace fs = std::filesystem;
constexpr size_t kN = 6;

class SlimEmbed : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(fs::exists(test::minilm_dir() / "model.safetensors"))
            << "run scripts/get-models.sh";
        model_ = test::ConvertedModels::get().path("all-minilm-l6-v2", "f32").string();
        dir_ = fs::temp_directory_path() / ("slim-embed-cli-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
        sentences_ = test::reference_sentences();
        ref_ = test::reference_embeddings("all-minilm-l6-v2");
        std::ofstream f(dir_ / "in.txt");
        for (size_t i = 0; i < kN; ++i) f << sentences_[i] << "\n";
    }
    void TearDown() override { fs::remove_all(dir_); }

    test::CommandResult embed(const std::string& args) {
        return test::run_command(
            fmt::format("{} embed -m {} {}", test::slim_binary().string(), model_, args));
    }

    std::string model_;
    fs::path dir_;
    std::vector<std::string> sentences_;
    std::vector<float> ref_;
};

TEST_F(SlimEmbed, JsonlLinesMatchSentenceTransformers) {
    auto r = embed("-f " + (dir_ / "in.txt").string() + " -t 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    size_t i = 0;
    for (std::string line; std::getline(lines, line); ++i) {
        const nlohmann::json j = nlohmann::json::parse(line);
        ASSERT_EQ(j["index"].get<size_t>(), i);
        const std::vector<float> e = j["embedding"].get<std::vector<float>>();
        ASSERT_EQ(e.size(), 384u);
        EXPECT_GE(test::cosine(e.data(), &ref_[i * 384], 384), 0.9999) << sentences_[i];
    }
    EXPECT_EQ(i, kN);
    EXPECT_NE(r.err.find("mean pooling"), std::string::npos) << r.err;
}

TEST_F(SlimEmbed, NpyFileWithNormalize) {
    const fs::path out = dir_ / "out.npy";
    std::string prompts;
    for (size_t i = 0; i < 3; ++i) prompts += fmt::format(" -p '{}'", sentences_[i]);
    auto r = embed(prompts + " --format npy --normalize -o " + out.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string bytes = test::read_file_text(out);
    ASSERT_GT(bytes.size(), 10u);
    ASSERT_EQ(bytes.substr(0, 6), "\x93NUMPY");
    const size_t header_len = uint8_t(bytes[8]) | (uint8_t(bytes[9]) << 8);
    const std::string header = bytes.substr(10, header_len);
    EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
    EXPECT_NE(header.find("'shape': (3, 384)"), std::string::npos) << header;
    EXPECT_EQ((10 + header_len) % 64, 0u);
    ASSERT_EQ(bytes.size(), 10 + header_len + 3 * 384 * 4);
    for (size_t i = 0; i < 3; ++i) {
        float e[384];
        std::memcpy(e, bytes.data() + 10 + header_len + i * 384 * 4, sizeof(e));
        double norm = 0;
        for (float x : e) norm += double(x) * x;
        EXPECT_NEAR(norm, 1.0, 1e-5);
        EXPECT_GE(test::cosine(e, &ref_[i * 384], 384), 0.9999);
    }
}

TEST_F(SlimEmbed, SimilarityOfLinePairs) {
    {
        std::ofstream a(dir_ / "a.txt"), b(dir_ / "b.txt");
        for (size_t i = 0; i < 3; ++i) a << sentences_[i] << "\n";
        for (size_t i = 3; i < 6; ++i) b << sentences_[i] << "\n";
    }
    auto r = embed("--similarity " + (dir_ / "a.txt").string() + " " + (dir_ / "b.txt").string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    size_t i = 0;
    for (std::string line; std::getline(lines, line); ++i) {
        const double want = test::cosine(&ref_[i * 384], &ref_[(i + 3) * 384], 384);
        EXPECT_NEAR(std::stod(line), want, 2e-4) << line;
    }
    EXPECT_EQ(i, 3u);
}

TEST_F(SlimEmbed, LongTextIsTruncatedWithAWarning) {
    auto r = embed("-f " + (test::embed_reference_dir() / "long.txt").string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("warning: 1 of 1 texts longer than the model's 512 positions were "
                         "truncated"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
}

TEST_F(SlimEmbed, BadInputExitsNonZero) {
    auto missing = embed("-f /nonexistent/sentences.txt");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("/nonexistent/sentences.txt"), std::string::npos) << missing.err;

    auto decoder = test::run_command(fmt::format(
        "{} embed -m {} -p hello", test::slim_binary().string(), test::smollm2_model().string()));
    EXPECT_EQ(decoder.exit_code, 1);
    EXPECT_NE(decoder.err.find("not an encoder model"), std::string::npos) << decoder.err;

    auto no_model =
        test::run_command(test::slim_binary().string() + " embed -m /nonexistent.gguf -p hello");
    EXPECT_EQ(no_model.exit_code, 1);
    EXPECT_NE(no_model.err.find("/nonexistent.gguf"), std::string::npos) << no_model.err;

    {
        std::ofstream a(dir_ / "two.txt"), b(dir_ / "three.txt");
        a << "one\ntwo\n";
        b << "one\ntwo\nthree\n";
    }
    auto uneven =
        embed("--similarity " + (dir_ / "two.txt").string() + " " + (dir_ / "three.txt").string());
    EXPECT_EQ(uneven.exit_code, 1);
    EXPECT_NE(uneven.err.find("2 lines"), std::string::npos) << uneven.err;

    std::ofstream(dir_ / "empty.txt").close();
    auto empty = embed("-f " + (dir_ / "empty.txt").string());
    EXPECT_EQ(empty.exit_code, 1);
    EXPECT_NE(empty.err.find("empty"), std::string::npos) << empty.err;

    auto no_input = embed("");
    EXPECT_EQ(no_input.exit_code, 1);
    auto bad_format = embed("-p hi --format csv");
    EXPECT_EQ(bad_format.exit_code, 1);
    EXPECT_NE(bad_format.err.find("--format"), std::string::npos) << bad_format.err;
}

}  // namespace
}  // namespace slim
