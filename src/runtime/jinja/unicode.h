// The few Unicode operations Python's str gives templates: code points (len,
// indexing and slicing count code points, not bytes), whitespace as
// str.isspace() sees it, case mapping and repr()'s notion of printable.
//
// Case mapping and printability use small tables written here rather than a
// Unicode library: templates only upper/lower role names and keywords, and
// the tables cover Latin, Greek, Cyrillic and full-width Latin. Other scripts
// pass through unchanged, where Python would map the few that have case.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace slim::jinja {

// Decodes one code point at `pos` of valid UTF-8 and advances `pos`.
char32_t utf8_next(std::string_view s, size_t& pos);
void utf8_append(std::string& out, char32_t cp);
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
// Number of code points.
size_t utf8_length(std::string_view s);
bool is_ascii(std::string_view s);
// Whether `s` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool utf8_valid(std::string_view s);

// Python's str.isspace() for one code point (also what `\s` matches).
bool is_space(char32_t cp);
bool is_printable(char32_t cp);
bool is_digit(char32_t cp);
bool is_alpha(char32_t cp);
bool is_upper(char32_t cp);
bool is_lower(char32_t cp);

// Python's str.upper(), str.lower() and the per-character title case.
std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
// Python's str.title(): each run of cased letters starts upper, rest lower.
std::string to_title(std::string_view s);
// Python's str.capitalize(): first character title case, rest lower.
std::string capitalize(std::string_view s);
// Python's str.swapcase().
std::string swap_case(std::string_view s);

// Python's str.strip/lstrip/rstrip; `chars` null means whitespace.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);

}  // namespace slim::jinja
