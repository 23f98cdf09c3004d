// Text <-> token ids for every tokenizer model small GGUF models use, with
// the ids llama.cpp gives (checked against its own tokenizer, see
// tests/runtime/).
//
//   GgufFile file = GgufFile::open("model.gguf");
//   Tokenizer tok = Tokenizer::load(file);
//   std::vector<TokenId> ids = tok.tokenize("Hello", /*add_special=*/true);
//   std::string text = tok.detokenize(ids);
//
// Special tokens. Control tokens (<|im_start|>, <s>, ...) written in the text
// are plain text unless parse_special is set: user input must never turn into
// a control token by accident. User-defined (added) tokens are always matched
// as whole tokens, as Hugging Face tokenizers and llama.cpp do.
//
// A Tokenizer is immutable once loaded; its methods may run on several
// threads at once. It owns copies of what it needs from the GgufFile.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/vocab.h"

namespace slim {

class TokenizerModel;

class Tokenizer {
  public:
    // Throws Error (naming the file and key) for a malformed or unsupported vocabulary.
    static Tokenizer load(const GgufFile& file);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    const Vocab& vocab() const { return *vocab_; }
    uint32_t n_tokens() const { return vocab_->n_tokens(); }

    // add_special: BOS/EOS (CLS/SEP for BERT) as the vocabulary asks for them.
    // parse_special: control tokens written in the text become those tokens.
    // Any bytes are accepted; invalid UTF-8 is handled as llama.cpp does.
    // The second form replaces the contents of `out`.
    std::vector<TokenId> tokenize(std::string_view text, bool add_special,
                                  bool parse_special = false) const;
    void tokenize(std::string_view text, bool add_special, bool parse_special,
                  std::vector<TokenId>& out) const;

    // The bytes a token stands for. Control and unknown tokens render only
    // when `special` is set; the others always. Throws Error for an id
    // outside the vocabulary.
    std::string_view token_to_piece(TokenId id, bool special = true) const;

    // The text of a sequence of ids, as llama.cpp's llama_detokenize makes it:
    // the space SentencePiece adds in front is removed, and for vocabularies
    // that ask for it spaces before punctuation are cleaned up.
    // remove_special drops a leading BOS / trailing EOS the vocabulary adds;
    // unparse_special renders control tokens as their text.
    std::string detokenize(std::span<const TokenId> ids, bool remove_special = false,
                           bool unparse_special = false) const;

  private:
    Tokenizer() = default;
    // Cuts special tokens out of the text; fragments are either a token or a
    // span of text the model encodes.
    struct Fragment {
        TokenId token;  // kTokenNull for text
        uint32_t offset;
        uint32_t length;
    };
    void partition(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;
    void build_special_matchers();
    void build_pieces();

    std::unique_ptr<Vocab> vocab_;
    std::unique_ptr<TokenizerModel> model_;
    // Special-token texts as tries: every special token, and only those
    // matched without parse_special. The value is the token's rank in
    // Vocab::special_tokens() order.
    struct SpecialTrie;
    std::unique_ptr<SpecialTrie> all_specials_;
    std::unique_ptr<SpecialTrie> user_specials_;
    std::string pieces_;  // token_to_piece(id, true) of every token
    std::vector<uint32_t> piece_offsets_;
};

// Turns a stream of ids into text as they arrive, holding back the bytes of a
// UTF-8 character until it is complete, so every string it returns is valid
// UTF-8 on its own (byte tokens and multi-token characters included).
// Invalid sequences come out as U+FFFD. The text equals detokenize() of the
// whole sequence, minus its clean-up of spaces.
class TokenStreamDecoder {
  public:
    explicit TokenStreamDecoder(const Tokenizer& tokenizer, bool special = false)
        : tokenizer_(&tokenizer), special_(special) {}

    // The text that is complete after this token (possibly empty).
    std::string push(TokenId id);
    // Whatever is held back, at the end of the stream.
    std::string finish();

  private:
    const Tokenizer* tokenizer_;
    bool special_;
    bool first_ = true;
    std::string pending_;
};

}  // namespace slim
