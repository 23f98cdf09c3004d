// Tokenizer::load and tokenize: cut special tokens out of the text, then hand
// each remaining fragment to the model, with the per-model framing
// (BOS/EOS/CLS/SEP, SentencePiece's leading space) llama.cpp applies.
#include "runtime/tokenizer.h"

#include <algorithm>

#include "format/gguf.h"
#include "runtime/tokenizer_models.h"

namespace slim {

struct Tokenizer::SpecialTrie {
    ByteTrie trie;
};

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const GgufFile& file) {
    Tokenizer t;
    t.vocab_ = std::make_unique<Vocab>(Vocab::load(file));
    switch (t.vocab_->type()) {
        case VocabType::spm:
            t.model_ = std::make_unique<SpmModel>(*t.vocab_);
            break;
        case VocabType::bpe:
            t.model_ = std::make_unique<BpeModel>(*t.vocab_);
            break;
        case VocabType::wpm:
            t.model_ = std::make_unique<WpmModel>(*t.vocab_);
            break;
        case VocabType::ugm:
            t.model_ = std::make_unique<UgmModel>(*t.vocab_);
            break;
    }
    t.build_special_matchers();
    t.build_pieces();
    return t;
}

void Tokenizer::build_special_matchers() {
    all_specials_ = std::make_unique<SpecialTrie>();
    user_specials_ = std::make_unique<SpecialTrie>();
    const std::vector<TokenId>& specials = vocab_->special_tokens();
    // Insert from the last rank down so that, for a text two tokens share,
    // the better rank stays.
    for (size_t r = specials.size(); r-- > 0;) {
        TokenId id = specials[r];
        std::string_view text = vocab_->text(id);
        all_specials_->trie.insert(text, TokenId(r));
        if (!(vocab_->attr(id) & (token_attr::control | token_attr::unknown))) {
            user_specials_->trie.insert(text, TokenId(r));
        }
    }
}

// llama.cpp's tokenizer_st_partition: for each special token, longest text
// first, split every text fragment at each of its occurrences (leftmost,
// non-overlapping), honouring the token's lstrip/rstrip. Only tokens that
// occur somewhere in the text can split anything, so those are found first
// with one pass over the text and the splitting runs for them alone.
void Tokenizer::partition(std::string_view text, bool parse_special,
                          std::vector<Fragment>& out) const {
    out.clear();
    if (text.empty()) return;
    out.push_back({kTokenNull, 0, uint32_t(text.size())});
    const ByteTrie& trie = (parse_special ? all_specials_ : user_specials_)->trie;
    if (trie.empty()) return;

    std::vector<TokenId> ranks;
    for (size_t pos = 0; pos < text.size(); ++pos) {
        int32_t node = 0;
        for (size_t p = pos; p < text.size(); ++p) {
            node = trie.child(node, uint8_t(text[p]));
            if (node < 0) break;
            if (trie.value(node) != kTokenNull) ranks.push_back(trie.value(node));
        }
    }
    if (ranks.empty()) return;
    std::sort(ranks.begin(), ranks.end());
    ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());

    auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    std::vector<Fragment> next;
    for (TokenId rank : ranks) {
        TokenId id = vocab_->special_tokens()[size_t(rank)];
        std::string_view tok = vocab_->text(id);
        uint32_t attr = vocab_->attr(id);
        next.clear();
        for (const Fragment& f : out) {
            if (f.token != kTokenNull) {
                next.push_back(f);
                continue;
            }
            size_t base = f.offset, len = f.length;
            while (true) {
                size_t match = text.substr(0, base + len).find(tok, base);
                if (match == std::string_view::npos) {
                    if (len > 0) next.push_back({kTokenNull, uint32_t(base), uint32_t(len)});
                    break;
                }
                size_t left = match - base;
                if (attr & token_attr::lstrip) {
                    while (left > 0 && is_space(text[base + left - 1])) --left;
                }
                if (left > 0) next.push_back({kTokenNull, uint32_t(base), uint32_t(left)});
                next.push_back({id, 0, 0});
                size_t right = match + tok.size();
                size_t right_len = base + len - right;
                if (right_len == 0) break;
                if (attr & token_attr::rstrip) {
                    while (right_len > 0 && is_space(text[right])) ++right, --right_len;
                }
                base = right;
                len = right_len;
            }
        }
        out.swap(next);
    }
}

std::vector<TokenId> Tokenizer::tokenize(std::string_view text, bool add_special,
                                         bool parse_special) const {
    std::vector<TokenId> out;
    tokenize(text, add_special, parse_special, out);
    return out;
}

namespace {

void escape_whitespace(std::string& s) {
    if (s.find(' ') == std::string::npos) return;
    std::string out;
    out.reserve(s.size() + s.size() / 2);
    for (char c : s) {
        if (c == ' ') {
            out += "\xE2\x96\x81";
        } else {
            out.push_back(c);
        }
    }
    s.swap(out);
}

}  // namespace

void Tokenizer::tokenize(std::string_view text, bool add_special, bool parse_special,
                         std::vector<TokenId>& out) const {
    out.clear();
    thread_local std::vector<Fragment> fragments;
    partition(text, parse_special, fragments);
    const VocabFlags& flags = vocab_->flags();
    const SpecialTokens& special = vocab_->special();
    const VocabType type = vocab_->type();
    auto push_if = [&](bool cond, TokenId id) {
        if (cond && id != kTokenNull) out.push_back(id);
    };

    // BERT always frames with CLS ... SEP; the others follow add_bos/add_eos.
    push_if(add_special && (type == VocabType::wpm || flags.add_bos), special.bos);
    bool prev_special = true;  // SentencePiece: a space before text that starts a fragment run
    std::string buf;
    for (const Fragment& f : fragments) {
        if (f.token != kTokenNull) {
            out.push_back(f.token);
            prev_special = true;
            continue;
        }
        std::string_view piece = text.substr(f.offset, f.length);
        switch (type) {
            case VocabType::spm:
                buf.clear();
                if (flags.add_space_prefix && prev_special) buf.push_back(' ');
                buf.append(piece);
                escape_whitespace(buf);
                model_->encode(buf, out);
                break;
            case VocabType::bpe:
                if (flags.escape_whitespaces) {
                    buf.assign(piece);
                    escape_whitespace(buf);
                    model_->encode(buf, out);
                } else {
                    model_->encode(piece, out);
                }
                break;
            case VocabType::wpm:
            case VocabType::ugm:
                model_->encode(piece, out);
                break;
        }
        prev_special = false;
    }
    if (type == VocabType::wpm) {
        push_if(add_special, special.sep);
    } else {
        push_if(add_special && flags.add_eos, special.eos);
    }
}

}  // namespace slim
