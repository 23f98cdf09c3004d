// WordPiece as llama.cpp's llm_tokenizer_wpm_session runs it: BERT's basic
// normaliser splits the text into words (whitespace ends a word; punctuation,
// ASCII symbols and CJK ideographs are words of their own; control
// characters vanish; optionally lower-cased and stripped of accents), then
// each word, prefixed with "▁", is cut greedily into the longest tokens.
#include <algorithm>

#include "runtime/tokenizer_models.h"
#include "runtime/unicode.h"

namespace slim {

namespace {

bool is_chinese_char(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) ||
           (c >= 0x2B920 && c <= 0x2CEAF) ||  // sic: HF's Rust code starts at 0x2B920
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

void WpmModel::encode(std::string_view text, std::vector<TokenId>& out) const {
    const VocabFlags& flags = vocab_.flags();
    // Words, each with the "▁" prefix the vocabulary spells word starts with.
    std::vector<std::string> words(1, std::string());
    auto finish_word = [&] {
        if (words.back().size() > 0) words.emplace_back();
    };
    const std::string_view kPrefix = "\xE2\x96\x81";
    for (size_t pos = 0; pos < text.size();) {
        unicode::Decoded d = unicode::decode_utf8(text, pos);
        pos += d.len;
        uint32_t cpt = flags.strip_accents ? unicode::nfd_first(d.cpt) : d.cpt;
        uint16_t f = unicode::cpt_flags(cpt);
        if (f & unicode::cpt_whitespace) {
            finish_word();
            continue;
        }
        if (cpt == 0 || cpt == unicode::kReplacement || (f & unicode::cpt_control)) continue;
        if (flags.strip_accents && (f & unicode::cpt_accent_mark)) continue;
        std::string s;
        unicode::append_utf8(s, flags.lowercase ? unicode::to_lower(cpt) : cpt);
        if ((f & unicode::cpt_punctuation) || (cpt < 0x7F && (f & unicode::cpt_symbol)) ||
            is_chinese_char(cpt)) {
            finish_word();
            words.back() = s;
            words.emplace_back();
        } else {
            words.back() += s;
        }
    }
    if (words.back().empty()) words.pop_back();

    const size_t max_len = vocab_.max_token_len();
    std::string word1;
    for (const std::string& word : words) {
        if (word.empty()) continue;
        word1.assign(kPrefix);
        word1 += word;
        const size_t n = word1.size();
        const size_t start = out.size();
        for (size_t i = 0; i < n; ++i) {
            bool match = false;
            for (size_t j = std::min(n, i + max_len + 1); j > i; --j) {
                TokenId id = vocab_.find(std::string_view(word1).substr(i, j - i));
                if (id != kTokenNull) {
                    out.push_back(id);
                    match = true;
                    i = j - 1;
                    break;
                }
            }
            if (!match) {  // the word cannot be spelled: drop what it matched
                out.resize(start);
                break;
            }
        }
        if (out.size() == start) out.push_back(vocab_.special().unk);
    }
}

}  // namespace slim
