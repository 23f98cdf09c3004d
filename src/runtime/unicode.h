// Unicode helpers for the tokenizers: UTF-8 decoding with llama.cpp's rules,
// code-point classes, lower-casing and the GPT-2 byte <-> character map.
//
// Categories, lower-casing and decompositions come from utf8proc; the few
// rules that are llama.cpp's own (which bytes count as invalid UTF-8, what
// "whitespace" means, which code point an NFD decomposition keeps) are
// reproduced here because the tokenizers must give llama.cpp's ids exactly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace slim::unicode {

inline constexpr uint32_t kReplacement = 0xFFFD;

// Length of a UTF-8 sequence from its first byte, by its high nibble (1 for
// continuation bytes), as llama.cpp splits text into characters.
inline size_t utf8_len(uint8_t lead) {
    static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLen[lead >> 4];
}

struct Decoded {
    uint32_t cpt = 0;
    uint32_t len = 1;    // bytes consumed
    bool valid = false;  // false: an invalid byte, consumed alone (cpt = U+FFFD)
};

// Decodes the code point at s[pos] (pos < s.size()) leniently, as llama.cpp
// does: the lead byte fixes the length, continuation bytes must follow, and
// overlong forms and surrogates are accepted.
inline Decoded decode_utf8(std::string_view s, size_t pos) {
    auto b = [&](size_t i) { return uint8_t(s[pos + i]); };
    auto cont = [&](size_t i) { return pos + i < s.size() && (b(i) & 0xC0) == 0x80; };
    uint8_t c = b(0);
    if (c < 0x80) return {c, 1, true};
    if ((c & 0x40) == 0) return {kReplacement, 1, false};
    if ((c & 0x20) == 0) {
        if (!cont(1)) return {kReplacement, 1, false};
        return {uint32_t((c & 0x1F) << 6) | (b(1) & 0x3F), 2, true};
    }
    if ((c & 0x10) == 0) {
        if (!cont(1) || !cont(2)) return {kReplacement, 1, false};
        return {uint32_t((c & 0x0F) << 12) | uint32_t((b(1) & 0x3F) << 6) | (b(2) & 0x3F), 3, true};
    }
    if ((c & 0x08) == 0) {
        if (!cont(1) || !cont(2) || !cont(3)) return {kReplacement, 1, false};
        return {uint32_t((c & 0x07) << 18) | uint32_t((b(1) & 0x3F) << 12) |
                    uint32_t((b(2) & 0x3F) << 6) | (b(3) & 0x3F),
                4, true};
    }
    return {kReplacement, 1, false};
}

// Appends the UTF-8 encoding of cpt; code points past U+10FFFF become U+FFFD.
void append_utf8(std::string& out, uint32_t cpt);

// Re-encodes text code point by code point with decode_utf8: invalid bytes
// become U+FFFD, overlong forms their shortest encoding. This is what
// llama.cpp's pre-tokenizer hands to the BPE and WordPiece models.
std::string sanitize_utf8(std::string_view text);

// True when text is valid, strict UTF-8 (no surrogates, no overlong forms).
bool is_valid_utf8(std::string_view text);

// Code-point classes, one bit per general category group, as llama.cpp's
// unicode_cpt_flags.
enum CptFlag : uint16_t {
    cpt_undefined = 0x0001,    // Cn
    cpt_number = 0x0002,       // N
    cpt_letter = 0x0004,       // L
    cpt_separator = 0x0008,    // Z
    cpt_accent_mark = 0x0010,  // M
    cpt_punctuation = 0x0020,  // P
    cpt_symbol = 0x0040,       // S
    cpt_control = 0x0080,      // Cc Cf Co Cs
    cpt_whitespace = 0x0100,   // the White_Space property
};

uint16_t cpt_flags(uint32_t cpt);
bool is_whitespace(uint32_t cpt);
// Simple (one code point) lower-case mapping.
uint32_t to_lower(uint32_t cpt);
// The first code point of cpt's canonical decomposition. llama.cpp's BERT
// normaliser keeps only that one (é -> e, 가 -> ᄀ) before it drops accents.
uint32_t nfd_first(uint32_t cpt);
// cpt's full canonical decomposition (NFD of the one code point, Hangul
// syllables into their jamo), written to out[0..n); returns n (1 when cpt
// does not decompose). kMaxDecomposition is enough for every code point.
inline constexpr size_t kMaxDecomposition = 8;
size_t nfd(uint32_t cpt, uint32_t (&out)[kMaxDecomposition]);
// General category Mn (a nonspacing mark), the marks HF's BERT normaliser strips.
bool is_nonspacing_mark(uint32_t cpt);

// GPT-2's byte-level alphabet: every byte maps to a printable code point.
uint32_t byte_to_cpt(uint8_t byte);
// The byte a code point stands for, or -1 when it is outside the alphabet.
int cpt_to_byte(uint32_t cpt);

}  // namespace slim::unicode
