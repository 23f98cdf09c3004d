#include "runtime/jinja/unicode.h"

#include <algorithm>
#include <iterator>

namespace slim::jinja {

namespace {

struct CpRange {
    char32_t first, last;
};
struct CaseRun {
    char32_t first, last;
    int stride, delta;
};
struct CaseMulti {
    char32_t cp;
    char32_t out[3];
};

#include "runtime/jinja/unicode_tables.inc"

template <size_t N>
bool in_ranges(const CpRange (&table)[N], char32_t cp) {
    auto it = std::upper_bound(std::begin(table), std::end(table), cp,
                               [](char32_t c, const CpRange& r) { return c < r.first; });
    if (it == std::begin(table)) return false;
    --it;
    return cp >= it->first && cp <= it->last;
}

// Appends the mapping of `cp` under one of the generated case tables.
template <size_t R, size_t M>
void map_case(const CaseRun (&runs)[R], const CaseMulti (&multi)[M], char32_t cp,
              std::u32string& out) {
    for (const auto& m : multi) {
        if (m.cp == cp && cp != 0) {
            for (char32_t c : m.out)
                if (c) out.push_back(c);
            return;
        }
    }
    auto it = std::upper_bound(std::begin(runs), std::end(runs), cp,
                               [](char32_t c, const CaseRun& r) { return c < r.first; });
    if (it != std::begin(runs)) {
        --it;
        if (cp <= it->last && (cp - it->first) % it->stride == 0) {
            out.push_back(static_cast<char32_t>(static_cast<int64_t>(cp) + it->delta));
            return;
        }
    }
    out.push_back(cp);
}

bool is_cased(char32_t cp) {
    return in_ranges(kCased, cp);
}

// Python lowers a capital sigma at the end of a word to the final form.
bool final_sigma(const std::u32string& s, size_t i) {
    size_t j = i;
    bool before = false;
    while (j > 0) {
        --j;
        if (is_cased(s[j])) {
            before = true;
            break;
        }
        if (!(s[j] == U'\'' || s[j] == U'.' || s[j] == U':' || s[j] == 0xAD || s[j] == 0x2019))
            break;
    }
    if (!before) return false;
    for (size_t k = i + 1; k < s.size(); ++k) {
        if (is_cased(s[k])) return false;
        if (!(s[k] == U'\'' || s[k] == U'.' || s[k] == U':' || s[k] == 0xAD || s[k] == 0x2019))
            break;
    }
    return true;
}

void lower_at(const std::u32string& s, size_t i, std::u32string& out) {
    if (s[i] == 0x3A3 && final_sigma(s, i)) {
        out.push_back(0x3C2);
        return;
    }
    map_case(kLowerMap_runs, kLowerMap_multi, s[i], out);
}

}  // namespace

char32_t utf8_next(std::string_view s, size_t& pos) {
    auto b = static_cast<unsigned char>(s[pos]);
    if (b < 0x80) {
        ++pos;
        return b;
    }
    int n = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : 1;
    char32_t cp = b & (0x3F >> n);
    ++pos;
    for (int i = 0; i < n && pos < s.size(); ++i, ++pos)
        cp = (cp << 6) | (static_cast<unsigned char>(s[pos]) & 0x3F);
    return cp;
}

void utf8_append(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::u32string utf8_decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t pos = 0; pos < s.size();) out.push_back(utf8_next(s, pos));
    return out;
}

std::string utf8_encode(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) utf8_append(out, c);
    return out;
}

size_t utf8_length(std::string_view s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool utf8_valid(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            ++i;
            continue;
        }
        int n;
        char32_t cp, min;
        if ((b & 0xE0) == 0xC0) {
            n = 1, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            n = 2, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            n = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        for (int k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return false;
            auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

bool is_space(char32_t cp) {
    return in_ranges(kSpace, cp);
}
bool is_printable(char32_t cp) {
    return !in_ranges(kNonPrintable, cp);
}
bool is_digit(char32_t cp) {
    return in_ranges(kDigit, cp);
}
bool is_alpha(char32_t cp) {
    return in_ranges(kAlpha, cp);
}
bool is_upper(char32_t cp) {
    return in_ranges(kUpper, cp);
}
bool is_lower(char32_t cp) {
    return in_ranges(kLower, cp);
}

std::string to_upper(std::string_view s) {
    if (is_ascii(s)) {
        std::string out(s);
        for (char& c : out)
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        return out;
    }
    std::u32string out;
    for (char32_t c : utf8_decode(s)) map_case(kUpperMap_runs, kUpperMap_multi, c, out);
    return utf8_encode(out);
}

std::string to_lower(std::string_view s) {
    if (is_ascii(s)) {
        std::string out(s);
        for (char& c : out)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        return out;
    }
    std::u32string in = utf8_decode(s), out;
    for (size_t i = 0; i < in.size(); ++i) lower_at(in, i, out);
    return utf8_encode(out);
}

std::string to_title(std::string_view s) {
    std::u32string in = utf8_decode(s), out;
    bool previous_cased = false;
    for (size_t i = 0; i < in.size(); ++i) {
        if (previous_cased)
            lower_at(in, i, out);
        else
            map_case(kTitleMap_runs, kTitleMap_multi, in[i], out);
        previous_cased = is_cased(in[i]);
    }
    return utf8_encode(out);
}

std::string capitalize(std::string_view s) {
    std::u32string in = utf8_decode(s), out;
    for (size_t i = 0; i < in.size(); ++i) {
        if (i == 0)
            map_case(kTitleMap_runs, kTitleMap_multi, in[i], out);
        else
            lower_at(in, i, out);
    }
    return utf8_encode(out);
}

std::string swap_case(std::string_view s) {
    std::u32string in = utf8_decode(s), out;
    for (size_t i = 0; i < in.size(); ++i) {
        if (is_upper(in[i]))
            lower_at(in, i, out);
        else if (is_lower(in[i]))
            map_case(kUpperMap_runs, kUpperMap_multi, in[i], out);
        else
            out.push_back(in[i]);
    }
    return utf8_encode(out);
}

std::string strip(std::string_view s, const std::string* chars, bool left, bool right) {
    std::u32string in = utf8_decode(s);
    std::u32string set = chars ? utf8_decode(*chars) : std::u32string();
    auto strip_it = [&](char32_t c) {
        return chars ? set.find(c) != std::u32string::npos : is_space(c);
    };
    size_t b = 0, e = in.size();
    if (left)
        while (b < e && strip_it(in[b])) ++b;
    if (right)
        while (e > b && strip_it(in[e - 1])) --e;
    return utf8_encode(std::u32string_view(in).substr(b, e - b));
}

}  // namespace slim::jinja
