// slim's WordPiece tokenizer against Hugging Face `tokenizers` on
// all-MiniLM-L6-v2's vocabulary: tests/reference/tokenizer/all-minilm-l6-v2.gguf
// and the ids `tokenizers` gave for it, both written by
// tools/reference/make_minilm_vocab.py from the package's tokenizer.json.
// The texts are those of the llama.cpp reference test (texts.json), texts
// aimed at the places the two BERT pipelines differ, both sentences of the
// first 500 rows of the STS-B test set, the whole WikiText-2 test text, and
// every Unicode code point.
//
//   plain:   tokenize(text, add_special=false, parse_special=false)
//            == encode(text, add_special_tokens=False), special text not matched
//   special: tokenize(text, add_special=true, parse_special=true)
//            == encode(text, add_special_tokens=True)
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "format/error.h"
#include "format/gguf.h"
#include "run_command.h"
#include "runtime/tokenizer.h"
#include "runtime/unicode.h"
#include "test_paths.h"
#include "tokenizer_ref_support.h"

namespace slim {
namespace {

using json = nlohmann::json;

// Every text a case can name: texts.json as tokenizer_reference_test.cpp
// reads it, both sentences of the STS-B rows and the whole WikiText-2 test
// text. Cases that carry their own text (the HF-specific ones, and texts
// that are not UTF-8) do not need one.
std::map<std::string, std::string> load_texts(const json& ref, std::vector<std::string>& shared) {
    std::map<std::string, std::string> out;
    for (test::RefText& t : test::load_reference_texts()) {
        shared.push_back(t.name);
        out[t.name] = std::move(t.bytes);
    }
    // Tab-separated rows; the two sentences are fields 5 and 6.
    std::istringstream csv(
        test::read_file_text(test::testdata_dir() / ref["stsb"]["file"].get<std::string>()));
    std::string line;
    for (size_t row = 0; row < ref["stsb"]["rows"].get<size_t>() && std::getline(csv, line);
         ++row) {
        std::vector<std::string> fields;
        size_t start = 0;
        for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
            fields.push_back(line.substr(start, tab - start));
        }
        fields.push_back(line.substr(start));
        if (fields.size() < 7) {
            ADD_FAILURE() << "sts-test.csv row " << row << ": " << fields.size() << " fields";
            continue;
        }
        out[fmt::format("stsb-{:03d}a", row)] = fields[5];
        out[fmt::format("stsb-{:03d}b", row)] = fields[6];
    }
    out["wiki-test-full"] =
        test::read_file_text(test::testdata_dir() / ref["wiki"].get<std::string>());
    return out;
}

using test::ids_match;

class TokenizerHf : public testing::Test {
  protected:
    static void SetUpTestSuite() {
        const auto dir = test::reference_dir() / "tokenizer";
        ref_ = new json(json::parse(test::read_file_text(dir / "all-minilm-l6-v2-hf.json")));
        GgufFile file = GgufFile::open(dir / (*ref_)["vocab"].get<std::string>());
        tok_ = new Tokenizer(Tokenizer::load(file));
    }
    static void TearDownTestSuite() {
        delete tok_;
        delete ref_;
    }
    static json* ref_;
    static Tokenizer* tok_;
};

json* TokenizerHf::ref_ = nullptr;
Tokenizer* TokenizerHf::tok_ = nullptr;

TEST_F(TokenizerHf, MiniLmMatchesHuggingFaceTokenizers) {
    const json& cases = (*ref_)["cases"];
    std::vector<std::string> shared;
    std::map<std::string, std::string> texts = load_texts(*ref_, shared);
    for (const std::string& name : shared) {
        EXPECT_TRUE(cases.contains(name)) << "no HF reference for " << name;
    }

    size_t ok_plain = 0, ok_special = 0;
    for (const auto& [name, c] : cases.items()) {
        // Text that is not UTF-8 was given to both as Python's lossy decoding.
        std::string text;
        if (c.contains("text")) {
            text = c["text"].get<std::string>();
        } else if (auto it = texts.find(name); it != texts.end()) {
            text = it->second;
        } else {
            ADD_FAILURE() << "no text for the HF case " << name;
            continue;
        }
        std::string why;
        if (ids_match(c["plain"], tok_->tokenize(text, false, false), why)) {
            ++ok_plain;
        } else {
            ADD_FAILURE() << name << " (plain): " << why;
        }
        if (ids_match(c["special"], tok_->tokenize(text, true, true), why)) {
            ++ok_special;
        } else {
            ADD_FAILURE() << name << " (special): " << why;
        }
    }
    std::printf("all-MiniLM-L6-v2 vs tokenizers %s: plain %zu/%zu, special %zu/%zu\n",
                (*ref_)["tokenizers"].get<std::string>().c_str(), ok_plain, cases.size(),
                ok_special, cases.size());
}

// Every code point (the surrogates aside) in texts of 4096: each as "x{c}y"
// on its own line, then each alone between spaces. Catches every place the
// Unicode tables of the two disagree (see kHfOverrides in tokenizer_wpm.cpp).
TEST_F(TokenizerHf, MiniLmMatchesHuggingFaceOnEveryCodePoint) {
    const json& chunks = (*ref_)["unicode"];
    const uint32_t size = (*ref_)["unicode_chunk"].get<uint32_t>();
    size_t n_cpts = 0, ok_cpts = 0, n_chunks = 0;
    for (uint32_t base = 0; base < 0x110000; base += size) {
        std::string lines, alone;
        size_t count = 0;
        for (uint32_t c = base; c < base + size; ++c) {
            if (c >= 0xD800 && c < 0xE000) continue;
            std::string ch;
            unicode::append_utf8(ch, c);
            lines += "x" + ch + "y\n";
            alone += ch + " ";
            ++count;
        }
        if (count == 0) continue;
        ++n_chunks;
        n_cpts += count;
        const std::string name = fmt::format("unicode-{:06x}", base);
        if (!chunks.contains(name)) {
            ADD_FAILURE() << "no HF reference for " << name;
            continue;
        }
        std::string why;
        if (ids_match(chunks[name], tok_->tokenize(lines + alone, false, false), why)) {
            ok_cpts += count;
        } else {
            ADD_FAILURE() << fmt::format("code points U+{:04X}..U+{:04X}: {}", base,
                                         base + size - 1, why);
        }
    }
    EXPECT_EQ(n_chunks, chunks.size());
    std::printf("all-MiniLM-L6-v2 vs tokenizers: %zu/%zu code points\n", ok_cpts, n_cpts);
}

// The two keys are what switches the WordPiece pipeline: without them the
// same vocabulary tokenizes as llama.cpp does, i.e. as bert-bge (the same
// 30522 tokens, checked against llama.cpp in tokenizer_reference_test.cpp).
TEST_F(TokenizerHf, WithoutSlimKeysMiniLmTokenizesLikeLlamaCpp) {
    const auto dir = test::reference_dir() / "tokenizer";
    GgufFile original = GgufFile::open(dir / (*ref_)["vocab"].get<std::string>());
    GgufContents contents = gguf_contents(original);
    size_t dropped = std::erase_if(contents.kvs, [](const auto& kv) {
        return kv.first.starts_with("tokenizer.ggml.wordpiece.");
    });
    EXPECT_EQ(dropped, 2u);
    std::vector<uint8_t> bytes = gguf_serialize(contents);
    GgufFile file = GgufFile::parse(bytes, "minilm-without-keys.gguf");
    Tokenizer plain = Tokenizer::load(file);
    GgufFile bge_file = GgufFile::open(test::vocab_dir() / "ggml-vocab-bert-bge.gguf");
    Tokenizer bge = Tokenizer::load(bge_file);

    std::vector<std::string> shared;
    std::map<std::string, std::string> texts = load_texts(*ref_, shared);
    std::vector<std::string> differ_from_hf;
    for (const std::string& name : shared) {
        const std::string& text = texts[name];
        std::vector<TokenId> ids = plain.tokenize(text, true, true);
        EXPECT_EQ(ids, bge.tokenize(text, true, true)) << name;
        if (ids != tok_->tokenize(text, true, true)) differ_from_hf.push_back(name);
    }
    // Long words, Hangul, Mc/Me marks and U+0085: where llama.cpp and HF disagree.
    EXPECT_FALSE(differ_from_hf.empty());
    std::printf("llama.cpp's WordPiece differs from HF's on %zu of %zu texts: %s\n",
                differ_from_hf.size(), shared.size(),
                fmt::format("{}", fmt::join(differ_from_hf, ", ")).c_str());
}

TEST_F(TokenizerHf, BadWordPieceKeysAreTypedErrors) {
    const auto dir = test::reference_dir() / "tokenizer";
    GgufFile original = GgufFile::open(dir / (*ref_)["vocab"].get<std::string>());
    auto load_error = [&](std::string_view key, GgufValue value) -> Error {
        GgufContents contents = gguf_contents(original);
        for (auto& kv : contents.kvs) {
            if (kv.first == key) kv.second = std::move(value);
        }
        std::vector<uint8_t> bytes = gguf_serialize(contents);
        try {
            GgufFile file = GgufFile::parse(bytes, "edited.gguf");
            Tokenizer::load(file);
        } catch (const Error& e) {
            EXPECT_EQ(e.file(), "edited.gguf");
            EXPECT_EQ(e.field(), key);
            return e;
        }
        ADD_FAILURE() << "loaded with a bad " << key;
        return Error(ErrorKind::io, "", "", std::nullopt, "", "");
    };
    EXPECT_EQ(load_error("tokenizer.ggml.wordpiece.hf_normalizer", GgufValue::make_u8(1)).kind(),
              ErrorKind::bad_type);
    EXPECT_EQ(load_error("tokenizer.ggml.wordpiece.max_input_chars_per_word",
                         GgufValue::make_string("100"))
                  .kind(),
              ErrorKind::bad_type);
    EXPECT_EQ(
        load_error("tokenizer.ggml.wordpiece.max_input_chars_per_word", GgufValue::make_i32(-1))
            .kind(),
        ErrorKind::out_of_range);
}

}  // namespace
}  // namespace slim
