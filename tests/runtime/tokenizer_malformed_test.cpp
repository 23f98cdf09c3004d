// Malformed vocabularies: each one is a real vocabulary file with one key
// dropped or changed, built in memory, and must fail to load with a typed
// Error that names the file and the key -- never a crash or a silent default.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "format/error.h"
#include "format/gguf.h"
#include "runtime/tokenizer.h"
#include "test_paths.h"

namespace slim {
namespace {

class MalformedVocab : public testing::Test {
  protected:
    // Loads `vocab`, lets `edit` change its key/value pairs, and returns the
    // Error that parsing the result (the GGUF reader checks the types of
    // known keys) or loading it as a tokenizer throws.
    template <class Edit>
    Error load_error(const std::string& vocab, Edit edit) {
        GgufFile original = GgufFile::open(test::vocab_dir() / ("ggml-vocab-" + vocab + ".gguf"));
        GgufContents contents = gguf_contents(original);
        edit(contents.kvs);
        bytes_ = gguf_serialize(contents);
        try {
            GgufFile edited = GgufFile::parse(bytes_, "edited-" + vocab + ".gguf");
            Tokenizer::load(edited);
        } catch (const Error& e) {
            EXPECT_EQ(e.file(), "edited-" + vocab + ".gguf");
            EXPECT_NE(std::string(e.what()).find(e.field()), std::string::npos) << e.what();
            return e;
        }
        ADD_FAILURE() << "the edited " << vocab << " vocabulary loaded";
        return Error(ErrorKind::io, "", "", std::nullopt, "", "");
    }

    using Kvs = std::vector<std::pair<std::string_view, GgufValue>>;
    static void drop(Kvs& kvs, std::string_view key) {
        std::erase_if(kvs, [&](const auto& kv) { return kv.first == key; });
    }
    static void set(Kvs& kvs, std::string_view key, GgufValue value) {
        for (auto& kv : kvs) {
            if (kv.first == key) {
                kv.second = std::move(value);
                return;
            }
        }
        kvs.emplace_back(key, std::move(value));
    }
    static const GgufArray& array(const Kvs& kvs, std::string_view key) {
        for (const auto& kv : kvs) {
            if (kv.first == key) return *kv.second.as_array();
        }
        throw std::runtime_error("no key " + std::string(key));
    }

    std::vector<uint8_t> bytes_;
};

TEST_F(MalformedVocab, UnchangedCopyLoads) {
    GgufFile original = GgufFile::open(test::vocab_dir() / "ggml-vocab-gpt-2.gguf");
    std::vector<uint8_t> bytes = gguf_serialize(gguf_contents(original));
    GgufFile copy = GgufFile::parse(bytes, "copy.gguf");
    Tokenizer tok = Tokenizer::load(copy);
    EXPECT_EQ(tok.tokenize("Hello world", false), (std::vector<TokenId>{15496, 995}));
}

TEST_F(MalformedVocab, MissingMerges) {
    Error e = load_error("gpt-2", [](Kvs& kvs) { drop(kvs, "tokenizer.ggml.merges"); });
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "tokenizer.ggml.merges");
}

TEST_F(MalformedVocab, MergesOfTheWrongType) {
    Error e = load_error("gpt-2", [](Kvs& kvs) {
        set(kvs, "tokenizer.ggml.merges", GgufValue::make_string("Ġ t"));
    });
    EXPECT_EQ(e.kind(), ErrorKind::bad_type);
    EXPECT_NE(e.field().find("tokenizer.ggml.merges"), std::string::npos) << e.field();
}

TEST_F(MalformedVocab, BosIdOutOfRange) {
    Error e = load_error("gpt-2", [](Kvs& kvs) {
        set(kvs, "tokenizer.ggml.bos_token_id", GgufValue::make_u32(50257));  // n_vocab
    });
    EXPECT_EQ(e.kind(), ErrorKind::out_of_range);
    EXPECT_EQ(e.field(), "tokenizer.ggml.bos_token_id");
    EXPECT_EQ(e.found(), "50257");
}

TEST_F(MalformedVocab, NegativeEosId) {
    Error e = load_error("llama-spm", [](Kvs& kvs) {
        set(kvs, "tokenizer.ggml.eos_token_id", GgufValue::make_i32(-1));
    });
    EXPECT_EQ(e.kind(), ErrorKind::out_of_range);
    EXPECT_EQ(e.field(), "tokenizer.ggml.eos_token_id");
}

TEST_F(MalformedVocab, ScoresOfTheWrongLength) {
    Error e = load_error("llama-spm", [](Kvs& kvs) {
        GgufArray scores = array(kvs, "tokenizer.ggml.scores");
        scores.count -= 1;
        set(kvs, "tokenizer.ggml.scores", GgufValue::make_array(scores));
    });
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "tokenizer.ggml.scores");
    EXPECT_EQ(e.found(), "31999");
}

TEST_F(MalformedVocab, ScoresOfTheWrongType) {
    Error e = load_error("llama-spm", [](Kvs& kvs) {
        GgufArray scores = array(kvs, "tokenizer.ggml.scores");
        scores.elem_type = GgufType::u32;
        set(kvs, "tokenizer.ggml.scores", GgufValue::make_array(scores));
    });
    EXPECT_EQ(e.kind(), ErrorKind::bad_type);
    EXPECT_NE(e.field().find("tokenizer.ggml.scores"), std::string::npos) << e.field();
}

TEST_F(MalformedVocab, TokenTypesOfTheWrongLength) {
    Error e = load_error("qwen2", [](Kvs& kvs) {
        GgufArray types = array(kvs, "tokenizer.ggml.token_type");
        types.count = 10;
        set(kvs, "tokenizer.ggml.token_type", GgufValue::make_array(types));
    });
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "tokenizer.ggml.token_type");
}

TEST_F(MalformedVocab, MissingTokens) {
    Error e = load_error("bert-bge", [](Kvs& kvs) { drop(kvs, "tokenizer.ggml.tokens"); });
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "tokenizer.ggml.tokens");
}

TEST_F(MalformedVocab, MissingTokenizerModel) {
    Error e = load_error("gpt-2", [](Kvs& kvs) { drop(kvs, "tokenizer.ggml.model"); });
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "tokenizer.ggml.model");
}

TEST_F(MalformedVocab, UnknownTokenizerModel) {
    Error e = load_error("gpt-2", [](Kvs& kvs) {
        set(kvs, "tokenizer.ggml.model", GgufValue::make_string("wordlevel"));
    });
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "tokenizer.ggml.model");
    EXPECT_EQ(e.found(), "\"wordlevel\"");
}

TEST_F(MalformedVocab, UnknownPreTokenizer) {
    Error e = load_error("qwen2", [](Kvs& kvs) {
        set(kvs, "tokenizer.ggml.pre", GgufValue::make_string("no-such-pre"));
    });
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
    EXPECT_EQ(e.field(), "tokenizer.ggml.pre");
    EXPECT_EQ(e.found(), "\"no-such-pre\"");
}

TEST_F(MalformedVocab, CharsmapBlobLargerThanTheCharsmap) {
    std::vector<uint8_t> charsmap;
    Error e = load_error("nomic-bert-moe", [&](Kvs& kvs) {
        GgufArray map = array(kvs, "tokenizer.ggml.precompiled_charsmap");
        charsmap.assign(map.scalars, map.scalars + map.count);
        uint32_t blob = uint32_t(charsmap.size());
        std::memcpy(charsmap.data(), &blob, 4);
        map.scalars = charsmap.data();
        set(kvs, "tokenizer.ggml.precompiled_charsmap", GgufValue::make_array(map));
    });
    EXPECT_EQ(e.kind(), ErrorKind::out_of_range);
    EXPECT_EQ(e.field(), "tokenizer.ggml.precompiled_charsmap");
}

TEST(TokenizerErrors, IdOutOfRangeInDetokenize) {
    GgufFile file = GgufFile::open(test::vocab_dir() / "ggml-vocab-gpt-2.gguf");
    Tokenizer tok = Tokenizer::load(file);
    std::vector<TokenId> ids = {15496, 50257};
    try {
        tok.detokenize(ids);
        FAIL() << "detokenize accepted id 50257";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::out_of_range);
        EXPECT_EQ(e.found(), "50257");
    }
    EXPECT_THROW(tok.token_to_piece(-1), Error);
}

}  // namespace
}  // namespace slim
