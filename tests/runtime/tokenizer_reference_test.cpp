// slim's tokenizer against llama.cpp's own, on all 19 vocabulary files: the
// WikiText-2 slices and the hostile strings of tests/reference/tokenizer/
// (written by tools/reference/make_tokenizer_refs.py with llama-cpp-python).
// For every text: the ids with add_special = parse_special = false and with
// both true, and llama_detokenize of each list, must be exactly llama.cpp's.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "run_command.h"
#include "runtime/tokenizer.h"
#include "test_paths.h"
#include "tokenizer_ref_support.h"

namespace slim {
namespace {

using json = nlohmann::json;

json read_json(const std::filesystem::path& path) {
    return json::parse(test::read_file_text(path));
}

using test::fnv1a64;
using test::ids_bytes;
using test::ids_match;
using Text = test::RefText;

const std::vector<Text>& texts() {
    static const std::vector<Text> all = test::load_reference_texts();
    return all;
}

bool text_match(const json& ref, const std::string& text, std::string& why) {
    if (ref["n"].get<size_t>() == text.size() && ref["fnv64"].get<std::string>() == fnv1a64(text)) {
        return true;
    }
    why = fmt::format("expected {} bytes{}, got {} bytes: \"{}\"", ref["n"].get<size_t>(),
                      ref.contains("text") ? " \"" + ref["text"].get<std::string>() + "\"" : "",
                      text.size(), text.size() <= 200 ? text : text.substr(0, 200) + "...");
    return false;
}

class TokenizerReference : public testing::TestWithParam<const char*> {};

TEST_P(TokenizerReference, MatchesLlamaCpp) {
    const std::string name = GetParam();
    json ref = read_json(test::reference_dir() / "tokenizer" / (name + ".json"));
    GgufFile file = GgufFile::open(test::vocab_dir() / ref["vocab"].get<std::string>());
    Tokenizer tok = Tokenizer::load(file);
    const json& cases = ref["cases"];

    size_t n_ids = 0, ok_ids = 0, n_text = 0, ok_text = 0, n_round = 0, ok_round = 0;
    double slowest = 0;
    std::string slowest_name;
    for (const Text& t : texts()) {
        ASSERT_TRUE(cases.contains(t.name)) << name << ": no reference for " << t.name;
        const json& c = cases[t.name];
        std::string why;

        auto start = std::chrono::steady_clock::now();
        std::vector<TokenId> plain = tok.tokenize(t.bytes, false, false);
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (seconds > slowest) slowest = seconds, slowest_name = t.name;
        std::vector<TokenId> special = tok.tokenize(t.bytes, true, true);

        ++n_ids;
        if (ids_match(c["plain"], plain, why)) {
            ++ok_ids;
        } else {
            ADD_FAILURE() << name << " / " << t.name << " (plain): " << why;
        }
        ++n_ids;
        if (ids_match(c["special"], special, why)) {
            ++ok_ids;
        } else {
            ADD_FAILURE() << name << " / " << t.name << " (special): " << why;
        }

        // Detokenize llama.cpp's own ids, so a tokenize difference does not
        // hide or fake one here.
        std::string detok_plain = tok.detokenize(plain, false, false);
        ++n_text;
        if (text_match(c["detok_plain"], detok_plain, why)) {
            ++ok_text;
        } else {
            ADD_FAILURE() << name << " / " << t.name << " (detokenize plain): " << why;
        }
        ++n_text;
        std::string detok_special = tok.detokenize(special, true, true);
        if (text_match(c["detok_special"], detok_special, why)) {
            ++ok_text;
        } else {
            ADD_FAILURE() << name << " / " << t.name << " (detokenize special): " << why;
        }

        // Where llama.cpp gets the text back, slim must too.
        const json& back = c["detok_plain"];
        if (back["n"].get<size_t>() == t.bytes.size() &&
            back["fnv64"].get<std::string>() == fnv1a64(t.bytes)) {
            ++n_round;
            if (detok_plain == t.bytes) {
                ++ok_round;
            } else {
                ADD_FAILURE() << name << " / " << t.name << ": detokenize(tokenize(x)) != x";
            }
        }
    }
    std::printf("%s: ids %zu/%zu, detokenize %zu/%zu, round trips %zu/%zu; slowest %s %.3f s\n",
                name.c_str(), ok_ids, n_ids, ok_text, n_text, ok_round, n_round,
                slowest_name.c_str(), slowest);
#ifdef NDEBUG
    EXPECT_LT(slowest, 1.0) << "100 KB of one character must tokenize in under a second";
#endif
}

INSTANTIATE_TEST_SUITE_P(Vocab, TokenizerReference,
                         testing::Values("aquila", "baichuan", "bert-bge", "command-r",
                                         "deepseek-coder", "deepseek-llm", "falcon", "gemma-4",
                                         "gpt-2", "gpt-neox", "llama-bpe", "llama-spm", "mpt",
                                         "nomic-bert-moe", "phi-3", "qwen2", "qwen35", "refact",
                                         "starcoder"),
                         [](const testing::TestParamInfo<const char*>& param) {
                             std::string n = param.param;
                             for (char& c : n) {
                                 if (c == '-') c = '_';
                             }
                             return n;
                         });

// Every pre-tokenizer name: the gpt-2 vocabulary with tokenizer.ggml.pre
// changed, against llama.cpp with the same override, on the short texts.
TEST(TokenizerReference, EveryPreTokenizerMatchesLlamaCpp) {
    json ref = read_json(test::reference_dir() / "tokenizer" / "pre-tokenizers.json");
    GgufFile original = GgufFile::open(test::vocab_dir() / ref["vocab"].get<std::string>());
    size_t names = 0, names_ok = 0;
    for (const auto& [pre, cases] : ref["pre"].items()) {
        GgufContents contents = gguf_contents(original);
        for (auto& kv : contents.kvs) {
            if (kv.first == "tokenizer.ggml.pre") kv.second = GgufValue::make_string(pre);
        }
        std::vector<uint8_t> bytes = gguf_serialize(contents);
        GgufFile file = GgufFile::parse(bytes, "gpt-2 with pre " + pre);
        Tokenizer tok = Tokenizer::load(file);
        size_t ok = 0;
        for (const Text& t : texts()) {
            if (!cases.contains(t.name)) continue;
            std::vector<TokenId> ids = tok.tokenize(t.bytes, false, false);
            std::string got = fmt::format("{}:{}", ids.size(), fnv1a64(ids_bytes(ids)));
            if (got == cases[t.name].get<std::string>()) {
                ++ok;
            } else {
                ADD_FAILURE() << "pre " << pre << " / " << t.name << ": expected "
                              << cases[t.name].get<std::string>() << ", got " << got << " ["
                              << fmt::format("{}", fmt::join(ids, ", ")) << "]";
            }
        }
        ++names;
        if (ok == cases.size()) ++names_ok;
    }
    std::printf("pre-tokenizers: %zu/%zu names give llama.cpp's ids on every text\n", names_ok,
                names);
    EXPECT_EQ(names_ok, names);
}

}  // namespace
}  // namespace slim
