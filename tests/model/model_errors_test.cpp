// Bad models and bad requests give typed errors, never a crash.
#include <gtest/gtest.h>

#include "backend/backend.h"
#include "format/error.h"
#include "format/gguf.h"
#include "model/model.h"
#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

// The SmolLM2 file with one change, written to a temporary file.
class BrokenModel : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(std::filesystem::exists(test::smollm2_model())) << "run scripts/get-models.sh";
        file_ = std::make_unique<GgufFile>(GgufFile::open(test::smollm2_model()));
        contents_ = gguf_contents(*file_);
        backend_ = make_cpu_backend({1});
    }

    GgufFile write_and_open(const std::string& name) {
        path_ = std::filesystem::temp_directory_path() / ("slim-broken-" + name + ".gguf");
        gguf_write(path_, contents_);
        return GgufFile::open(path_);
    }
    void TearDown() override {
        if (!path_.empty()) std::filesystem::remove(path_);
    }

    GgufTensorToWrite& tensor(std::string_view name) {
        for (auto& t : contents_.tensors) {
            if (t.name == name) return t;
        }
        throw std::runtime_error("no tensor " + std::string(name));
    }

    Error load_error(const GgufFile& f) {
        try {
            load_model(f, *backend_);
        } catch (const Error& e) {
            return e;
        }
        ADD_FAILURE() << "model loaded";
        return Error(ErrorKind::io, "", "", std::nullopt, "", "");
    }

    std::unique_ptr<GgufFile> file_;
    GgufContents contents_;
    std::unique_ptr<Backend> backend_;
    std::filesystem::path path_;
};

TEST_F(BrokenModel, UnknownArchitecture) {
    for (auto& [key, value] : contents_.kvs) {
        if (key == "general.architecture") value = GgufValue::make_string("mamba9");
    }
    Error e = load_error(write_and_open("arch"));
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "general.architecture");
    EXPECT_EQ(e.found(), "mamba9");
}

TEST_F(BrokenModel, MissingTensor) {
    std::erase_if(contents_.tensors,
                  [](const GgufTensorToWrite& t) { return t.name == "blk.3.ffn_up.weight"; });
    Error e = load_error(write_and_open("missing"));
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "tensor 'blk.3.ffn_up.weight'");
}

TEST_F(BrokenModel, TensorOfTheWrongShape) {
    GgufTensorToWrite& t = tensor("blk.2.attn_q.weight");  // 576 x 576
    std::swap(t.ne[0], t.ne[1]);
    t.ne[0] = 288;  // same bytes, other shape
    t.ne[1] = 1152;
    Error e = load_error(write_and_open("shape"));
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "tensor 'blk.2.attn_q.weight'.shape");
    EXPECT_EQ(e.expected(), "576 x 576");
    EXPECT_EQ(e.found(), "288 x 1152");
}

TEST_F(BrokenModel, UnsupportedQuantType) {
    // MXFP4 is a valid ggml type that slim does not compute with (yet).
    GgufTensorToWrite& t = tensor("blk.1.ffn_gate.weight");  // 576 x 1536
    static std::vector<uint8_t> zeros(576 / 32 * 17 * 1536);
    t.type = GgmlType::mxfp4;
    t.data = zeros;
    Error e = load_error(write_and_open("quant"));
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "tensor 'blk.1.ffn_gate.weight'.type");
    EXPECT_EQ(e.found(), "MXFP4");
}

TEST_F(BrokenModel, PromptLongerThanTheContext) {
    auto model = load_model(*file_, *backend_);
    KvCache cache(*backend_, model->config(), 16);
    std::vector<int32_t> tokens(17, 1);
    std::vector<float> logits(static_cast<size_t>(model->config().n_vocab));
    try {
        model->forward(tokens, cache, logits, false);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
        EXPECT_EQ(e.field(), "context");
    }
    EXPECT_EQ(cache.n_used(), 0);
    std::vector<int32_t> bad_id = {int32_t(model->config().n_vocab)};
    EXPECT_THROW(model->forward(bad_id, cache, logits, false), Error);
}

TEST(SlimRun, BadInputExitsNonZero) {
    const std::string slim = test::slim_binary().string();
    const std::string m = " -m " + test::smollm2_model().string();
    auto too_long = test::run_command(
        slim + " run" + m + " -c 8 -n 4 -p 'one two three four five six seven eight nine ten'");
    EXPECT_EQ(too_long.exit_code, 1);
    EXPECT_NE(too_long.err.find("context"), std::string::npos) << too_long.err;
    auto no_model = test::run_command(slim + " run -m /nonexistent.gguf -p hi");
    EXPECT_EQ(no_model.exit_code, 1);
    EXPECT_NE(no_model.err.find("/nonexistent.gguf"), std::string::npos) << no_model.err;
    auto bad_temp = test::run_command(slim + " run" + m + " -p hi --top-p 2");
    EXPECT_EQ(bad_temp.exit_code, 1);
    EXPECT_NE(bad_temp.err.find("top_p"), std::string::npos) << bad_temp.err;
    auto no_prompt = test::run_command(slim + " run" + m);
    EXPECT_EQ(no_prompt.exit_code, 1);
    auto bad_bias = test::run_command(slim + " run" + m + " -p hi --logit-bias abc");
    EXPECT_EQ(bad_bias.exit_code, 1);
    auto not_gguf = test::run_command(
        slim + " run -m " + (test::vocab_dir() / "ggml-vocab-gpt-2.gguf.inp").string() + " -p hi");
    EXPECT_EQ(not_gguf.exit_code, 1);
    EXPECT_NE(not_gguf.err.find("header.magic"), std::string::npos);
}

TEST(SlimRun, GreedyGenerationStreamsToStdoutAndStatsToStderr) {
    const std::string slim = test::slim_binary().string();
    auto r = test::run_command(slim + " run -m " + test::smollm2_model().string() +
                               " -p 'The capital of France is' -n 8 --temp 0 -t 1 --no-echo");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("The capital"), std::string::npos) << "--no-echo printed the prompt";
    EXPECT_NE(r.out.find("Paris"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("tokens/s"), std::string::npos);
    EXPECT_NE(r.err.find("peak RSS"), std::string::npos);
}

}  // namespace
}  // namespace slim
