// WordPiece (BERT). A normaliser splits the text into words -- whitespace
// ends a word; punctuation, ASCII symbols and CJK ideographs are words of
// their own; control characters vanish; optionally lower-cased and stripped
// of accents -- then each word, prefixed with "▁", is cut greedily into the
// longest tokens, and a word that cannot be spelled becomes [UNK].
//
// Two normalisers, because the two references disagree and a GGUF file says
// which one it was made for:
//
//  - llama.cpp's llm_tokenizer_wpm_session (the default: llama.cpp's
//    converter writes no key for it). It keeps only the first code point of
//    a character's canonical decomposition (가 -> ᄀ, dropping the vowel),
//    drops every mark (Mn, Mc and Me: Devanagari vowel signs vanish), counts
//    U+0085 as whitespace and spells words of any length.
//  - Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece, which the
//    model was trained with (tokenizer.ggml.wordpiece.hf_normalizer): full
//    canonical decomposition, only nonspacing marks (Mn) dropped, control,
//    format and private-use characters (Cc, Cf, Co; tab, CR and LF
//    excepted, U+0085 included) removed before whitespace is looked at,
//    unassigned ones kept, categories as of HF's old Unicode tables (see
//    kHfOverrides), and words longer than max_input_chars_per_word
//    characters (tokenizer.ggml.wordpiece.max_input_chars_per_word) are
//    [UNK] at once.
//
// The vocabulary stores "##x" as "x" and a word-initial "x" as "▁x"
// (llama.cpp's phantom space), so a piece inside a word must not start with
// "▁" in HF's scheme: there it would be "##▁…", which BERT vocabularies lack.
#include <algorithm>
#include <iterator>

#include "runtime/tokenizer_models.h"
#include "runtime/unicode.h"

namespace slim {

namespace {

constexpr std::string_view kWordPrefix = "\xE2\x96\x81";  // U+2581

bool is_chinese_char(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) ||
           (c >= 0x2B920 && c <= 0x2CEAF) ||  // sic: HF's Rust code starts at 0x2B920
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_ascii_punctuation(uint32_t c) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}

// The normalised words of a text, each "▁" + its characters, back to back.
class Words {
  public:
    struct Word {
        uint32_t offset;
        uint32_t length;  // bytes, with the prefix
        uint32_t chars;   // characters, without it
    };

    void end_word() {
        if (open_) {
            words_.back().length = uint32_t(text_.size() - words_.back().offset);
            open_ = false;
        }
    }
    void append(uint32_t cpt) {
        if (!open_) {
            words_.push_back({uint32_t(text_.size()), 0, 0});
            text_ += kWordPrefix;
            open_ = true;
        }
        if (cpt < 0x80) {
            text_.push_back(char(cpt));
        } else {
            unicode::append_utf8(text_, cpt);
        }
        ++words_.back().chars;
    }
    // A character that is a word of its own.
    void isolated(uint32_t cpt) {
        end_word();
        append(cpt);
        end_word();
    }
    const std::vector<Word>& words() {
        end_word();
        return words_;
    }
    std::string_view text(const Word& w) const {
        return std::string_view(text_).substr(w.offset, w.length);
    }

  private:
    std::string text_;
    std::vector<Word> words_;
    bool open_ = false;
};

// llama.cpp's normaliser, code point by code point.
void split_llama(std::string_view text, const VocabFlags& flags, Words& words) {
    for (size_t pos = 0; pos < text.size();) {
        unicode::Decoded d = unicode::decode_utf8(text, pos);
        pos += d.len;
        if (d.cpt < 0x80) {  // the common case, in short
            const uint32_t c = d.cpt;
            if (c == ' ' || (c >= '\t' && c <= '\r')) {
                words.end_word();
            } else if (c < 0x20 || c == 0x7F) {
                // NUL and the other controls vanish
            } else if (is_ascii_punctuation(c)) {
                words.isolated(c);
            } else {
                words.append(flags.lowercase && c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            continue;
        }
        uint32_t cpt = flags.strip_accents ? unicode::nfd_first(d.cpt) : d.cpt;
        uint16_t f = unicode::cpt_flags(cpt);
        if (f & unicode::cpt_whitespace) {
            words.end_word();
            continue;
        }
        if (cpt == 0 || cpt == unicode::kReplacement || (f & unicode::cpt_control)) continue;
        if (flags.strip_accents && (f & unicode::cpt_accent_mark)) continue;
        uint32_t c = flags.lowercase ? unicode::to_lower(cpt) : cpt;
        if ((f & unicode::cpt_punctuation) || (cpt < 0x7F && (f & unicode::cpt_symbol)) ||
            is_chinese_char(cpt)) {
            words.isolated(c);
        } else {
            words.append(c);
        }
    }
}

// How HF's BertNormalizer and BertPreTokenizer treat a code point.
enum HfClass : uint8_t {
    hf_plain,    // part of a word
    hf_removed,  // Cc, Cf, Co (tab, LF and CR are whitespace); U+0000 and U+FFFD
    hf_space,    // White_Space: ends a word
    hf_punct,    // ASCII punctuation and symbols, Unicode P*: a word of its own
    hf_mark,     // Mn: dropped when stripping accents
};

// HF takes general categories from the `unicode_categories` crate, whose
// tables predate Unicode 9, and utf8proc has Unicode 15: characters assigned
// or re-categorised since are plain letters to HF. These are the code points
// where the two disagree, found by tokenizing every code point with both
// (all-MiniLM-L6-v2's vocabulary, tokenizers 0.23.3, utf8proc 2.8.0); the
// test in tests/runtime/tokenizer_hf_test.cpp checks all 1,112,064.
struct HfOverride {
    uint32_t first, last;
    HfClass cls;
};
constexpr HfOverride kHfOverrides[] = {
    {0x61D, 0x61D, hf_plain},     {0x7FD, 0x7FD, hf_plain},     {0x890, 0x891, hf_plain},
    {0x898, 0x89F, hf_plain},     {0x8CA, 0x8E2, hf_plain},     {0x9FD, 0x9FE, hf_plain},
    {0xA76, 0xA76, hf_plain},     {0xAFA, 0xAFF, hf_plain},     {0xB55, 0xB55, hf_plain},
    {0xC04, 0xC04, hf_plain},     {0xC3C, 0xC3C, hf_plain},     {0xC77, 0xC77, hf_plain},
    {0xC84, 0xC84, hf_plain},     {0xD00, 0xD00, hf_plain},     {0xD3B, 0xD3C, hf_plain},
    {0xD81, 0xD81, hf_plain},     {0xEBA, 0xEBA, hf_plain},     {0xECE, 0xECE, hf_plain},
    {0x166D, 0x166D, hf_punct},   {0x1734, 0x1734, hf_mark},    {0x180F, 0x180F, hf_plain},
    {0x1885, 0x1886, hf_plain},   {0x1ABF, 0x1ACE, hf_plain},   {0x1B7D, 0x1B7E, hf_plain},
    {0x1DF6, 0x1DFB, hf_plain},   {0x2E43, 0x2E4F, hf_plain},   {0x2E52, 0x2E5D, hf_plain},
    {0xA82C, 0xA82C, hf_plain},   {0xA8C5, 0xA8C5, hf_plain},   {0xA8FF, 0xA8FF, hf_plain},
    {0xA9BD, 0xA9BD, hf_plain},   {0x10D24, 0x10D27, hf_plain}, {0x10EAB, 0x10EAD, hf_plain},
    {0x10EFD, 0x10EFF, hf_plain}, {0x10F46, 0x10F50, hf_plain}, {0x10F55, 0x10F59, hf_plain},
    {0x10F82, 0x10F89, hf_plain}, {0x11070, 0x11070, hf_plain}, {0x11073, 0x11074, hf_plain},
    {0x110C2, 0x110C2, hf_plain}, {0x110CD, 0x110CD, hf_plain}, {0x111C9, 0x111C9, hf_punct},
    {0x111CF, 0x111CF, hf_plain}, {0x1123E, 0x1123E, hf_plain}, {0x11241, 0x11241, hf_plain},
    {0x1133B, 0x1133B, hf_plain}, {0x11438, 0x1143F, hf_plain}, {0x11442, 0x11444, hf_plain},
    {0x11446, 0x11446, hf_plain}, {0x1144B, 0x1144F, hf_plain}, {0x1145A, 0x1145B, hf_plain},
    {0x1145D, 0x1145E, hf_plain}, {0x11660, 0x1166C, hf_plain}, {0x116B9, 0x116B9, hf_plain},
    {0x1182F, 0x11837, hf_plain}, {0x11839, 0x1183B, hf_plain}, {0x1193B, 0x1193C, hf_plain},
    {0x1193E, 0x1193E, hf_plain}, {0x11943, 0x11946, hf_plain}, {0x119D4, 0x119D7, hf_plain},
    {0x119DA, 0x119DB, hf_plain}, {0x119E0, 0x119E0, hf_plain}, {0x119E2, 0x119E2, hf_plain},
    {0x11A01, 0x11A0A, hf_plain}, {0x11A33, 0x11A38, hf_plain}, {0x11A3B, 0x11A47, hf_plain},
    {0x11A51, 0x11A56, hf_plain}, {0x11A59, 0x11A5B, hf_plain}, {0x11A8A, 0x11A96, hf_plain},
    {0x11A98, 0x11A9C, hf_plain}, {0x11A9E, 0x11AA2, hf_plain}, {0x11B00, 0x11B09, hf_plain},
    {0x11C30, 0x11C36, hf_plain}, {0x11C38, 0x11C3D, hf_plain}, {0x11C3F, 0x11C3F, hf_plain},
    {0x11C41, 0x11C45, hf_plain}, {0x11C70, 0x11C71, hf_plain}, {0x11C92, 0x11CA7, hf_plain},
    {0x11CAA, 0x11CB0, hf_plain}, {0x11CB2, 0x11CB3, hf_plain}, {0x11CB5, 0x11CB6, hf_plain},
    {0x11D31, 0x11D36, hf_plain}, {0x11D3A, 0x11D3A, hf_plain}, {0x11D3C, 0x11D3D, hf_plain},
    {0x11D3F, 0x11D45, hf_plain}, {0x11D47, 0x11D47, hf_plain}, {0x11D90, 0x11D91, hf_plain},
    {0x11D95, 0x11D95, hf_plain}, {0x11D97, 0x11D97, hf_plain}, {0x11EF3, 0x11EF4, hf_plain},
    {0x11EF7, 0x11EF8, hf_plain}, {0x11F00, 0x11F01, hf_plain}, {0x11F36, 0x11F3A, hf_plain},
    {0x11F40, 0x11F40, hf_plain}, {0x11F42, 0x11F4F, hf_plain}, {0x11FFF, 0x11FFF, hf_plain},
    {0x12FF1, 0x12FF2, hf_plain}, {0x13430, 0x13440, hf_plain}, {0x13447, 0x13455, hf_plain},
    {0x16E97, 0x16E9A, hf_plain}, {0x16F4F, 0x16F4F, hf_plain}, {0x16FE2, 0x16FE2, hf_plain},
    {0x16FE4, 0x16FE4, hf_plain}, {0x1CF00, 0x1CF2D, hf_plain}, {0x1CF30, 0x1CF46, hf_plain},
    {0x1E000, 0x1E006, hf_plain}, {0x1E008, 0x1E018, hf_plain}, {0x1E01B, 0x1E021, hf_plain},
    {0x1E023, 0x1E024, hf_plain}, {0x1E026, 0x1E02A, hf_plain}, {0x1E08F, 0x1E08F, hf_plain},
    {0x1E130, 0x1E136, hf_plain}, {0x1E2AE, 0x1E2AE, hf_plain}, {0x1E2EC, 0x1E2EF, hf_plain},
    {0x1E4EC, 0x1E4EF, hf_plain}, {0x1E944, 0x1E94A, hf_plain}, {0x1E95E, 0x1E95F, hf_plain},
};

HfClass hf_class(uint32_t c) {
    if (c < 0x80) {
        if (c == '\t' || c == '\n' || c == '\r' || c == ' ') return hf_space;
        if (c < 0x20 || c == 0x7F) return hf_removed;  // vertical tab and form feed too
        return is_ascii_punctuation(c) ? hf_punct : hf_plain;
    }
    if (c >= kHfOverrides[0].first) {
        const HfOverride* end = std::end(kHfOverrides);
        const HfOverride* o =
            std::upper_bound(std::begin(kHfOverrides), end, c,
                             [](uint32_t v, const HfOverride& r) { return v < r.first; });
        if (o != std::begin(kHfOverrides) && c <= (o - 1)->last) return (o - 1)->cls;
    }
    uint16_t f = unicode::cpt_flags(c);
    // U+0085 is a control character before it is whitespace.
    if (c == unicode::kReplacement || (f & unicode::cpt_control)) return hf_removed;
    if (f & unicode::cpt_whitespace) return hf_space;
    if (f & unicode::cpt_punctuation) return hf_punct;
    if (unicode::is_nonspacing_mark(c)) return hf_mark;
    return hf_plain;
}

// HF's BertNormalizer (clean text, CJK spacing, strip accents, lower-case, in
// that order) and BertPreTokenizer (split at whitespace and punctuation).
void split_hf(std::string_view text, const VocabFlags& flags, Words& words) {
    uint32_t parts[unicode::kMaxDecomposition];
    for (size_t pos = 0; pos < text.size();) {
        unicode::Decoded d = unicode::decode_utf8(text, pos);
        pos += d.len;
        const uint32_t cpt = d.cpt;
        if (cpt < 0x80) {  // the common case, in short
            switch (hf_class(cpt)) {
                case hf_space:
                    words.end_word();
                    break;
                case hf_punct:
                    words.isolated(cpt);
                    break;
                case hf_plain:
                    words.append(flags.lowercase && cpt >= 'A' && cpt <= 'Z' ? cpt + 32 : cpt);
                    break;
                default:
                    break;
            }
            continue;
        }
        HfClass cls = hf_class(cpt);
        if (cls == hf_removed) continue;
        if (cls == hf_space) {
            words.end_word();
            continue;
        }
        const bool chinese = is_chinese_char(cpt);
        if (chinese) words.end_word();
        size_t n = flags.strip_accents ? unicode::nfd(cpt, parts) : (parts[0] = cpt, 1);
        for (size_t i = 0; i < n; ++i) {
            uint32_t c = parts[i];
            if (c != cpt) cls = hf_class(c);  // U+1FEF decomposes to "`", punctuation
            if (flags.strip_accents && cls == hf_mark) continue;
            if (flags.lowercase) {
                if (c == 0x130) {  // İ: the one code point whose lower case is two
                    words.append('i');
                    c = 0x307;
                } else {
                    c = unicode::to_lower(c);
                }
            }
            if (!chinese && cls == hf_punct) {
                words.isolated(c);
            } else {
                words.append(c);
            }
        }
        if (chinese) words.end_word();
    }
}

}  // namespace

void WpmModel::encode(std::string_view text, std::vector<TokenId>& out) const {
    const VocabFlags& flags = vocab_.flags();
    Words words;
    if (flags.hf_normalizer) {
        split_hf(text, flags, words);
    } else {
        split_llama(text, flags, words);
    }

    const size_t max_len = vocab_.max_token_len();
    for (const Words::Word& w : words.words()) {
        if (flags.max_word_chars > 0 && w.chars > flags.max_word_chars) {
            out.push_back(vocab_.special().unk);
            continue;
        }
        const std::string_view word = words.text(w);
        const size_t n = word.size();
        const size_t start = out.size();
        for (size_t i = 0; i < n;) {
            TokenId id = kTokenNull;
            size_t j = std::min(n, i + max_len);
            if (!(i > 0 && flags.hf_normalizer && word.substr(i, 3) == kWordPrefix)) {
                for (; j > i; --j) {
                    id = vocab_.find(word.substr(i, j - i));
                    if (id != kTokenNull) break;
                }
            }
            if (id == kTokenNull) {  // the word cannot be spelled: drop what it matched
                out.resize(start);
                break;
            }
            out.push_back(id);
            i = j;
        }
        if (out.size() == start) out.push_back(vocab_.special().unk);
    }
}

}  // namespace slim
