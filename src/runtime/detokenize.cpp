// Ids back to text: the piece of every token (computed once at load, as
// llama.cpp caches them), llama_detokenize's framing and space clean-up, and
// a streaming decoder that only ever returns whole UTF-8 characters.
#include <fmt/format.h>

#include <cstdlib>

#include "format/error.h"
#include "runtime/tokenizer.h"
#include "runtime/unicode.h"

namespace slim {

namespace {

void unescape_whitespace(std::string_view text, std::string& out) {
    for (size_t i = 0; i < text.size(); ++i) {
        if (text.compare(i, 3, "\xE2\x96\x81") == 0) {
            out.push_back(' ');
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
}

// A byte-level token text back to bytes. Characters outside GPT-2's alphabet
// come out in llama.cpp's "[UNK_BYTE_0x..]" spelling.
void decode_byte_level(std::string_view text, std::string& out) {
    for (size_t pos = 0; pos < text.size();) {
        unicode::Decoded d = unicode::decode_utf8(text, pos);
        pos += d.len;
        int b = unicode::cpt_to_byte(d.cpt);
        if (b >= 0) {
            out.push_back(char(b));
            continue;
        }
        std::string utf8;
        unicode::append_utf8(utf8, d.cpt);
        out += "[UNK_BYTE_0x";
        for (char c : utf8) out += fmt::format("{:02x}", uint8_t(c));
        out += text;
        out += "]";
    }
}

// <0xNN> -> the byte, reading the two hex digits as strtol does.
char byte_of_token(std::string_view text) {
    std::string hex(text.substr(std::min<size_t>(3, text.size()), 2));
    return char(std::strtol(hex.c_str(), nullptr, 16));
}

}  // namespace

void Tokenizer::build_pieces() {
    const Vocab& v = *vocab_;
    const uint32_t n = v.n_tokens();
    piece_offsets_.reserve(n + 1);
    piece_offsets_.push_back(0);
    for (TokenId id = 0; id < TokenId(n); ++id) {
        uint32_t attr = v.attr(id);
        std::string_view text = v.text(id);
        if (attr & (token_attr::unknown | token_attr::control | token_attr::user_defined)) {
            pieces_ += text;
        } else if (attr & token_attr::normal) {
            if (v.type() == VocabType::bpe && !v.flags().escape_whitespaces) {
                decode_byte_level(text, pieces_);
            } else {
                unescape_whitespace(text, pieces_);
            }
        } else if (attr & token_attr::byte) {
            pieces_.push_back(byte_of_token(text));
        }
        piece_offsets_.push_back(uint32_t(pieces_.size()));
    }
}

std::string_view Tokenizer::token_to_piece(TokenId id, bool special) const {
    if (!vocab_->is_valid(id)) {
        throw Error(ErrorKind::out_of_range, vocab_->file(), "token id", std::nullopt,
                    fmt::format("an id below {}", vocab_->n_tokens()), std::to_string(id));
    }
    if (!special && (vocab_->attr(id) & (token_attr::unknown | token_attr::control))) return {};
    return std::string_view(pieces_).substr(piece_offsets_[id],
                                            piece_offsets_[id + 1] - piece_offsets_[id]);
}

std::string Tokenizer::detokenize(std::span<const TokenId> ids, bool remove_special,
                                  bool unparse_special) const {
    const VocabFlags& flags = vocab_->flags();
    bool remove_space = flags.add_space_prefix;
    if (remove_special && flags.add_bos && !ids.empty() && ids.front() == vocab_->special().bos) {
        remove_space = false;
        ids = ids.subspan(1);
    }
    if (remove_special && flags.add_eos && !ids.empty() && ids.back() == vocab_->special().eos) {
        ids = ids.first(ids.size() - 1);
    }
    std::string text;
    for (TokenId id : ids) {
        std::string_view piece = token_to_piece(id, unparse_special);
        if (remove_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
        remove_space = false;
        text += piece;
    }
    if (!flags.clean_spaces || text.empty()) return text;

    // llama.cpp's three clean-up passes, each compacting the text in place.
    // 1: " ?", " !", " .", " ," lose the space.
    size_t n = text.size(), w = 1;
    for (size_t i = 1; i < n; ++i) {
        char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --w;
        text[w++] = x;
    }
    // 2: a lone apostrophe between spaces loses both spaces.
    n = w, w = 1;
    for (size_t i = 1; i < n; ++i) {
        char x = text[i];
        if (x == '\'' && i + 1 < n && text[i - 1] == ' ' && text[i + 1] == ' ') {
            --w;
            text[++i] = '\0';
        }
        text[w++] = x;
    }
    // 3: " 's", " 'm", " 're", " 've" lose the space.
    n = w, w = 1;
    for (size_t i = 1; i < n; ++i) {
        char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') {
                --w;
            } else if (i + 2 < n && x1 != 't' && x1 != 'd') {
                char x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --w;
            }
        }
        text[w++] = x;
    }
    text.resize(w);
    return text;
}

namespace {

// Bytes in the complete UTF-8 character at s[pos]: > 0 valid, 0 when the
// text ends inside a character that may still be completed, -1 invalid.
int utf8_char_len(std::string_view s, size_t pos) {
    uint8_t c = uint8_t(s[pos]);
    if (c < 0x80) return 1;
    int len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    for (int i = 1; i < len; ++i) {
        if (pos + i >= s.size()) return 0;
        uint8_t b = uint8_t(s[pos + i]);
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return -1;
    }
    return len;
}

}  // namespace

std::string TokenStreamDecoder::push(TokenId id) {
    std::string_view piece = tokenizer_->token_to_piece(id, special_);
    if (first_ && tokenizer_->vocab().flags().add_space_prefix && !piece.empty() &&
        piece.front() == ' ') {
        piece.remove_prefix(1);
    }
    first_ = false;
    pending_ += piece;

    std::string out;
    size_t pos = 0;
    while (pos < pending_.size()) {
        int len = utf8_char_len(pending_, pos);
        if (len == 0) break;  // wait for the rest of this character
        if (len < 0) {
            out += "\xEF\xBF\xBD";
            ++pos;
            continue;
        }
        out.append(pending_, pos, size_t(len));
        pos += size_t(len);
    }
    pending_.erase(0, pos);
    return out;
}

std::string TokenStreamDecoder::finish() {
    std::string out = pending_.empty() ? "" : "\xEF\xBF\xBD";
    pending_.clear();
    return out;
}

}  // namespace slim
