#include "runtime/unicode.h"

#include <utf8proc.h>

#include <array>

namespace slim::unicode {

void append_utf8(std::string& out, uint32_t cpt) {
    if (cpt < 0x80) {
        out.push_back(char(cpt));
    } else if (cpt < 0x800) {
        out.push_back(char(0xC0 | (cpt >> 6)));
        out.push_back(char(0x80 | (cpt & 0x3F)));
    } else if (cpt < 0x10000) {
        out.push_back(char(0xE0 | (cpt >> 12)));
        out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cpt & 0x3F)));
    } else if (cpt < 0x110000) {
        out.push_back(char(0xF0 | (cpt >> 18)));
        out.push_back(char(0x80 | ((cpt >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cpt & 0x3F)));
    } else {
        append_utf8(out, kReplacement);
    }
}

std::string sanitize_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 8);
    size_t pos = 0;
    while (pos < text.size()) {
        // Runs of ASCII are copied as they are.
        size_t start = pos;
        while (pos < text.size() && uint8_t(text[pos]) < 0x80) ++pos;
        out.append(text.substr(start, pos - start));
        if (pos == text.size()) break;
        Decoded d = decode_utf8(text, pos);
        append_utf8(out, d.cpt);
        pos += d.len;
    }
    return out;
}

bool is_valid_utf8(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
        uint8_t c = uint8_t(text[pos]);
        if (c < 0x80) {
            ++pos;
            continue;
        }
        Decoded d = decode_utf8(text, pos);
        if (!d.valid) return false;
        static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (d.cpt < kMin[d.len] || d.cpt > 0x10FFFF || (d.cpt >= 0xD800 && d.cpt <= 0xDFFF)) {
            return false;
        }
        pos += d.len;
    }
    return true;
}

bool is_whitespace(uint32_t cpt) {
    if (cpt <= 0x20) return cpt == 0x20 || (cpt >= 0x09 && cpt <= 0x0D);
    switch (cpt) {
        case 0x85:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
            return true;
        default:
            return cpt >= 0x2000 && cpt <= 0x200A;
    }
}

namespace {

uint16_t category_flag(uint32_t cpt) {
    if (cpt >= 0x110000) return cpt_undefined;
    switch (utf8proc_category(utf8proc_int32_t(cpt))) {
        case UTF8PROC_CATEGORY_CN:
            return cpt_undefined;
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
            return cpt_letter;
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
            return cpt_accent_mark;
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
            return cpt_number;
        case UTF8PROC_CATEGORY_PC:
        case UTF8PROC_CATEGORY_PD:
        case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PE:
        case UTF8PROC_CATEGORY_PI:
        case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO:
            return cpt_punctuation;
        case UTF8PROC_CATEGORY_SM:
        case UTF8PROC_CATEGORY_SC:
        case UTF8PROC_CATEGORY_SK:
        case UTF8PROC_CATEGORY_SO:
            return cpt_symbol;
        case UTF8PROC_CATEGORY_ZS:
        case UTF8PROC_CATEGORY_ZL:
        case UTF8PROC_CATEGORY_ZP:
            return cpt_separator;
        default:
            return cpt_control;
    }
}

}  // namespace

uint16_t cpt_flags(uint32_t cpt) {
    return uint16_t(category_flag(cpt) | (is_whitespace(cpt) ? cpt_whitespace : 0));
}

uint32_t to_lower(uint32_t cpt) {
    if (cpt < 0x80) return (cpt >= 'A' && cpt <= 'Z') ? cpt + 32 : cpt;
    if (cpt >= 0x110000) return cpt;
    return uint32_t(utf8proc_tolower(utf8proc_int32_t(cpt)));
}

uint32_t nfd_first(uint32_t cpt) {
    if (cpt < 0xC0 || cpt >= 0x110000) return cpt;
    utf8proc_int32_t buf[8];
    int boundclass = 0;
    utf8proc_ssize_t n =
        utf8proc_decompose_char(utf8proc_int32_t(cpt), buf, 8, UTF8PROC_DECOMPOSE, &boundclass);
    return n >= 1 ? uint32_t(buf[0]) : cpt;
}

size_t nfd(uint32_t cpt, uint32_t (&out)[kMaxDecomposition]) {
    out[0] = cpt;
    if (cpt < 0xC0 || cpt >= 0x110000) return 1;
    utf8proc_int32_t buf[kMaxDecomposition];
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(utf8proc_int32_t(cpt), buf, kMaxDecomposition,
                                                 UTF8PROC_DECOMPOSE, &boundclass);
    if (n < 1 || size_t(n) > kMaxDecomposition) return 1;
    for (utf8proc_ssize_t i = 0; i < n; ++i) out[i] = uint32_t(buf[i]);
    return size_t(n);
}

bool is_nonspacing_mark(uint32_t cpt) {
    return cpt >= 0x300 && cpt < 0x110000 &&
           utf8proc_category(utf8proc_int32_t(cpt)) == UTF8PROC_CATEGORY_MN;
}

namespace {

// bytes_to_unicode() of GPT-2's encoder.py: printable Latin-1 bytes stand for
// themselves, the other 68 take the code points from U+0100 on, in order.
struct ByteMap {
    std::array<uint32_t, 256> to_cpt{};
    std::array<int16_t, 324> to_byte{};
    ByteMap() {
        to_byte.fill(-1);
        auto printable = [](int b) {
            return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            to_cpt[b] = printable(b) ? uint32_t(b) : next++;
            to_byte[to_cpt[b]] = int16_t(b);
        }
    }
};

const ByteMap& byte_map() {
    static const ByteMap map;
    return map;
}

}  // namespace

uint32_t byte_to_cpt(uint8_t byte) {
    return byte_map().to_cpt[byte];
}

int cpt_to_byte(uint32_t cpt) {
    return cpt < byte_map().to_byte.size() ? byte_map().to_byte[cpt] : -1;
}

}  // namespace slim::unicode
