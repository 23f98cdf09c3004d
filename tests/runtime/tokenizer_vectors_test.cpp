// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out, the
// ids Hugging Face tokenizers gives): every case must give exactly the
// expected ids, with add_special = false and parse_special = false.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <sstream>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "run_command.h"
#include "runtime/tokenizer.h"
#include "test_paths.h"

namespace slim {
namespace {

// The .inp format: cases separated by "\n__ggml_vocab_test__\n"; a trailing
// separator ends the last case.
std::vector<std::string> read_inputs(const std::filesystem::path& path) {
    const std::string text = test::read_file_text(path);
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> cases;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t next = text.find(sep, pos);
        if (next == std::string::npos) {
            cases.push_back(text.substr(pos));
            break;
        }
        cases.push_back(text.substr(pos, next - pos));
        pos = next + sep.size();
    }
    return cases;
}

// The .out format: one line of space-separated ids per case.
std::vector<std::vector<TokenId>> read_outputs(const std::filesystem::path& path) {
    std::vector<std::vector<TokenId>> out;
    std::istringstream in(test::read_file_text(path));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::vector<TokenId> ids;
        TokenId id;
        while (fields >> id) ids.push_back(id);
        out.push_back(std::move(ids));
    }
    return out;
}

std::string ids_text(const std::vector<TokenId>& ids) {
    return fmt::format("[{}]", fmt::join(ids, ", "));
}

class TokenizerVectors : public testing::TestWithParam<const char*> {};

TEST_P(TokenizerVectors, AllCasesExact) {
    const std::string name = GetParam();
    const auto base = test::vocab_dir() / ("ggml-vocab-" + name + ".gguf");
    GgufFile file = GgufFile::open(base);
    Tokenizer tok = Tokenizer::load(file);
    auto inputs = read_inputs(base.string() + ".inp");
    auto expected = read_outputs(base.string() + ".out");
    ASSERT_EQ(inputs.size(), expected.size()) << name;
    ASSERT_FALSE(inputs.empty());

    size_t passed = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        std::vector<TokenId> ids = tok.tokenize(inputs[i], /*add_special=*/false,
                                                /*parse_special=*/false);
        if (ids == expected[i]) {
            ++passed;
        } else {
            ADD_FAILURE() << name << " case " << i << " \"" << inputs[i] << "\"\n  expected "
                          << ids_text(expected[i]) << "\n  got      " << ids_text(ids);
        }
    }
    std::printf("%s: %zu/%zu\n", name.c_str(), passed, inputs.size());
    EXPECT_EQ(passed, inputs.size());
}

INSTANTIATE_TEST_SUITE_P(Vocab, TokenizerVectors,
                         testing::Values("bert-bge", "command-r", "deepseek-coder", "deepseek-llm",
                                         "falcon", "gemma-4", "gpt-2", "llama-bpe", "llama-spm",
                                         "mpt", "phi-3", "qwen2", "qwen35", "refact", "starcoder"),
                         [](const testing::TestParamInfo<const char*>& param) {
                             std::string n = param.param;
                             for (char& c : n) {
                                 if (c == '-') c = '_';
                             }
                             return n;
                         });

}  // namespace
}  // namespace slim
