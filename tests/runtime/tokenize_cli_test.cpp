// `slim tokenize` and `slim detokenize` as a user runs them. Expected ids are
// llama.cpp's (llama-tokenize prints the same list for these inputs).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

using test::run_command;

std::string slim() {
    return test::slim_binary().string();
}
std::string vocab(const std::string& name) {
    return (test::vocab_dir() / ("ggml-vocab-" + name + ".gguf")).string();
}

TEST(SlimTokenize, IdsAsAPythonList) {
    auto r = run_command(slim() + " tokenize -m " + vocab("llama-spm") + " -p 'Hello world' --ids");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "[1, 15043, 3186]\n");
    auto no_bos = run_command(slim() + " tokenize -m " + vocab("llama-spm") +
                              " -p 'Hello world' --ids --no-bos");
    EXPECT_EQ(no_bos.out, "[15043, 3186]\n");
}

TEST(SlimTokenize, SpecialTextIsPlainUnlessAsked) {
    std::string cmd = slim() + " tokenize -m " + vocab("qwen2") + " -p '<|im_start|>hi' --ids";
    EXPECT_EQ(run_command(cmd).out, "[27, 91, 318, 4906, 91, 29, 6023]\n");
    EXPECT_EQ(run_command(cmd + " --parse-special").out, "[151644, 6023]\n");
}

TEST(SlimTokenize, PiecesAndDefaultTable) {
    auto pieces =
        run_command(slim() + " tokenize -m " + vocab("gpt-2") + " -p 'Hello world' --pieces");
    EXPECT_EQ(pieces.out, "[\"Hello\",\" world\"]\n");
    auto table = run_command(slim() + " tokenize -m " + vocab("gpt-2") + " -p 'Hello world'");
    EXPECT_EQ(table.out, " 15496 -> 'Hello'\n   995 -> ' world'\n");
}

TEST(SlimTokenize, FromFileAndStdin) {
    auto path = std::filesystem::temp_directory_path() / "slim-tokenize-input.txt";
    std::ofstream(path) << "Hello world";
    auto f =
        run_command(slim() + " tokenize -m " + vocab("gpt-2") + " -f " + path.string() + " --ids");
    EXPECT_EQ(f.out, "[15496, 995]\n") << f.err;
    std::filesystem::remove(path);
    auto in = run_command("printf 'Hello world' | " + slim() + " tokenize -m " + vocab("gpt-2") +
                          " --ids");
    EXPECT_EQ(in.out, "[15496, 995]\n") << in.err;
}

TEST(SlimDetokenize, IdsFromArgumentsOrStdin) {
    auto args = run_command(slim() + " detokenize -m " + vocab("gpt-2") + " '[15496, 995]'");
    EXPECT_EQ(args.exit_code, 0) << args.err;
    EXPECT_EQ(args.out, "Hello world\n");
    auto spaced = run_command(slim() + " detokenize -m " + vocab("gpt-2") + " 15496 995");
    EXPECT_EQ(spaced.out, "Hello world\n");
    auto in = run_command("echo '[15496, 995]' | " + slim() + " detokenize -m " + vocab("gpt-2"));
    EXPECT_EQ(in.out, "Hello world\n");
    auto special =
        run_command(slim() + " detokenize -m " + vocab("llama-spm") + " 1 15043 --special");
    EXPECT_EQ(special.out, "<s> Hello\n");
}

TEST(SlimTokenize, ErrorsAreClear) {
    auto missing = run_command(slim() + " tokenize -m /nonexistent.gguf -p x");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("/nonexistent.gguf"), std::string::npos) << missing.err;

    auto no_model = run_command(slim() + " tokenize -p x");
    EXPECT_NE(no_model.exit_code, 0);

    auto bad_id = run_command(slim() + " detokenize -m " + vocab("gpt-2") + " 15496 abc");
    EXPECT_EQ(bad_id.exit_code, 1);
    EXPECT_NE(bad_id.err.find("\"abc\""), std::string::npos) << bad_id.err;

    auto range = run_command(slim() + " detokenize -m " + vocab("gpt-2") + " 50257");
    EXPECT_EQ(range.exit_code, 1);
    EXPECT_NE(range.err.find("50257"), std::string::npos) << range.err;

    auto not_vocab = run_command(slim() + " tokenize -m " + vocab("gpt-2") + ".inp -p x");
    EXPECT_EQ(not_vocab.exit_code, 1);
}

}  // namespace
}  // namespace slim
