// Special tokens, framing and detokenization. The expected ids and texts are
// what llama.cpp gives for the same calls (llama-cpp-python 0.3.36,
// llama_tokenize / llama_detokenize on the same vocabulary files).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "format/gguf.h"
#include "runtime/tokenizer.h"
#include "test_paths.h"

namespace slim {
namespace {

using Ids = std::vector<TokenId>;

const Tokenizer& tokenizer(const std::string& vocab) {
    static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
    auto& t = cache[vocab];
    if (!t) {
        GgufFile file = GgufFile::open(test::vocab_dir() / ("ggml-vocab-" + vocab + ".gguf"));
        t = std::make_unique<Tokenizer>(Tokenizer::load(file));
    }
    return *t;
}

TEST(SpecialTokens, ControlTokensAreTextUnlessParseSpecial) {
    const Tokenizer& qwen = tokenizer("qwen2");
    const std::string chat = "<|im_start|>user\nhi<|im_end|>";
    EXPECT_EQ(qwen.tokenize(chat, false, false),
              (Ids{27, 91, 318, 4906, 91, 29, 872, 198, 6023, 27, 91, 318, 6213, 91, 29}));
    EXPECT_EQ(qwen.tokenize(chat, false, true), (Ids{151644, 872, 198, 6023, 151645}));
}

TEST(SpecialTokens, SentencePieceBosAndSpacesAroundSpecials) {
    const Tokenizer& spm = tokenizer("llama-spm");
    EXPECT_EQ(spm.tokenize("Hello <s> world", true, false),
              (Ids{1, 15043, 529, 29879, 29958, 3186}));
    EXPECT_EQ(spm.tokenize("Hello <s> world", true, true), (Ids{1, 15043, 29871, 1, 29871, 3186}));
}

TEST(SpecialTokens, BertFramesWithClsAndSep) {
    const Tokenizer& bert = tokenizer("bert-bge");
    EXPECT_EQ(bert.tokenize("Hello [SEP] world", true, false),
              (Ids{101, 7592, 1031, 19802, 1033, 2088, 102}));
    EXPECT_EQ(bert.tokenize("Hello [SEP] world", true, true), (Ids{101, 7592, 102, 2088, 102}));
}

TEST(SpecialTokens, UserDefinedTokensAlwaysMatch) {
    EXPECT_EQ(tokenizer("deepseek-coder").tokenize("õ õõ", false, false),
              (Ids{32000, 207, 32000, 32000}));
    EXPECT_EQ(tokenizer("mpt").tokenize("a        b", false, false), (Ids{66, 50270, 67}));
}

TEST(SpecialTokens, Phi3StripsSpacesAfterSpecials) {
    const Tokenizer& phi = tokenizer("phi-3");
    EXPECT_EQ(phi.tokenize("<|user|> hi <|end|>  x", true, true),
              (Ids{1, 32010, 7251, 29871, 32007, 921}));
    EXPECT_EQ(
        phi.tokenize("<|user|> hi <|end|>  x", true, false),
        (Ids{1, 529, 29989, 1792, 29989, 29958, 7251, 529, 29989, 355, 29989, 29958, 29871, 921}));
}

TEST(SpecialTokens, UnigramMaskStripsTheSpaceBefore) {
    const Tokenizer& ugm = tokenizer("nomic-bert-moe");
    EXPECT_EQ(ugm.tokenize("Hello <mask> world", true, true), (Ids{0, 35378, 250001, 8999, 2}));
    EXPECT_EQ(ugm.tokenize("Hello <mask> world", true, false),
              (Ids{0, 35378, 4426, 1510, 92, 2740, 8999, 2}));
}

TEST(SpecialTokens, Gemma4AlwaysAddsBos) {
    EXPECT_EQ(tokenizer("gemma-4").tokenize("Hello world", true), (Ids{2, 9259, 1902}));
}

TEST(SpecialTokens, ByteFallback) {
    EXPECT_EQ(tokenizer("llama-spm").tokenize("😁", false), (Ids{29871, 243, 162, 155, 132}));
}

TEST(Detokenize, AsLlamaCpp) {
    const Tokenizer& gpt2 = tokenizer("gpt-2");
    std::string text = "Hello , world ! I 'm here . It ' s";
    EXPECT_EQ(gpt2.detokenize(gpt2.tokenize(text, false)), "Hello, world! I'm here. It's");

    const Tokenizer& bert = tokenizer("bert-bge");
    Ids ids = bert.tokenize("Hello , world!", true);
    EXPECT_EQ(bert.detokenize(ids, true, false), " hello, world!");
    EXPECT_EQ(bert.detokenize(ids, false, true), "[CLS] hello, world![SEP]");

    const Tokenizer& spm = tokenizer("llama-spm");
    EXPECT_EQ(spm.detokenize(spm.tokenize(" Hello world", true)), "  Hello world");
    // Dropping BOS keeps the SentencePiece space (llama.cpp only strips it
    // when the first token is text).
    EXPECT_EQ(spm.detokenize(spm.tokenize("Hello world", true), true), " Hello world");
    EXPECT_EQ(spm.detokenize(spm.tokenize("Hello world", false)), "Hello world");
}

TEST(Detokenize, RoundTripsPlainText) {
    // No " ?" or " ," here: vocabularies that clean up spaces would drop them.
    const std::string text = "Hello, y'all! How are you 😁 我想在apple工作1314151天～\n\tCửa Việt";
    for (const char* vocab : {"llama-spm", "gpt-2", "llama-bpe", "qwen2", "gemma-4", "phi-3"}) {
        const Tokenizer& tok = tokenizer(vocab);
        EXPECT_EQ(tok.detokenize(tok.tokenize(text, false)), text) << vocab;
    }
}

// Strict UTF-8: every lead byte followed by exactly its continuation bytes.
bool is_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        uint8_t c = uint8_t(s[i]);
        size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k) {
            if ((uint8_t(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

TEST(StreamDecoder, HoldsBackIncompleteCharacters) {
    const Tokenizer& spm = tokenizer("llama-spm");
    TokenStreamDecoder dec(spm);
    // "▁", then the four byte tokens of U+1F601.
    EXPECT_EQ(dec.push(29871), "");  // the leading space SentencePiece adds is dropped
    EXPECT_EQ(dec.push(243), "");
    EXPECT_EQ(dec.push(162), "");
    EXPECT_EQ(dec.push(155), "");
    EXPECT_EQ(dec.push(132), "😁");
    EXPECT_EQ(dec.finish(), "");
}

TEST(StreamDecoder, ConcatenationEqualsDetokenize) {
    const std::string text = "Ünïcödé 😁 我想在apple工作 and ~~~ bytes";
    for (const char* vocab : {"llama-spm", "gpt-2", "qwen2", "gemma-4", "deepseek-llm"}) {
        const Tokenizer& tok = tokenizer(vocab);
        Ids ids = tok.tokenize(text, false);
        TokenStreamDecoder dec(tok);
        std::string streamed;
        for (TokenId id : ids) {
            std::string part = dec.push(id);
            EXPECT_TRUE(is_utf8(part)) << vocab << ": " << part;
            streamed += part;
        }
        streamed += dec.finish();
        Ids again = tok.tokenize(streamed, false);
        EXPECT_EQ(again, ids) << vocab << ": " << streamed;
    }
}

TEST(StreamDecoder, InvalidBytesBecomeReplacementCharacters) {
    const Tokenizer& spm = tokenizer("llama-spm");
    TokenStreamDecoder dec(spm);
    // <0xE6> <0x88> then 'A': the character never completes.
    std::string out = dec.push(spm.vocab().byte_token(0xE6));
    out += dec.push(spm.vocab().byte_token(0x88));
    out += dec.push(spm.vocab().find("A"));
    out += dec.finish();
    EXPECT_EQ(out,
              "\xEF\xBF\xBD\xEF\xBF\xBD"
              "A");
    TokenStreamDecoder dec2(spm);
    out = dec2.push(spm.vocab().byte_token(0xE6));
    out += dec2.finish();
    EXPECT_EQ(out, "\xEF\xBF\xBD");
}

TEST(Tokenizer, ConcurrentCallsAgree) {
    const Tokenizer& tok = tokenizer("llama-bpe");
    std::string text;
    for (int i = 0; i < 200; ++i) text += "Thread " + std::to_string(i) + " says héllo, 世界! ";
    const Ids expected = tok.tokenize(text, true);
    std::vector<Ids> results(4);
    std::vector<std::thread> threads;
    for (auto& r : results) {
        threads.emplace_back([&] {
            for (int k = 0; k < 20; ++k) r = tok.tokenize(text, true);
        });
    }
    for (auto& t : threads) t.join();
    for (const Ids& r : results) EXPECT_EQ(r, expected);
}

}  // namespace
}  // namespace slim
