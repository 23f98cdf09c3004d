#include "runtime/jinja/lexer.h"

#include <fmt/format.h>

#include "format/error.h"
#include "runtime/jinja/unicode.h"

namespace slim::jinja {

namespace {

class Lexer {
  public:
    Lexer(std::string_view src, const std::string& name) : src_(src), name_(name) {}

    std::vector<Token> run() {
        bool line_starting = true;
        while (pos_ < src_.size()) {
            size_t tag = find_tag(pos_);
            if (tag == std::string_view::npos) {
                emit(Tok::data, std::string(src_.substr(pos_)), pos_);
                break;
            }
            char kind = src_[tag + 1];
            char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
            if (sign != '-' && sign != '+') sign = '\0';
            std::string text(src_.substr(pos_, tag - pos_));
            if (sign == '-') {
                text = strip(text, nullptr, false, true);
            } else if (sign != '+' && kind != '{') {
                // lstrip_blocks: drop the indentation before a block or comment tag.
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if ((l_pos > 0 || line_starting) && l_pos < text.size() &&
                    all_space(std::string_view(text).substr(l_pos)))
                    text.resize(l_pos);
            }
            if (!text.empty()) emit(Tok::data, std::move(text), pos_);
            size_t begin = tag;
            pos_ = tag + 2 + (sign ? 1 : 0);
            if (kind == '#') {
                line_starting = comment(begin);
            } else if (kind == '%' && raw_block(begin, sign)) {
                line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
            } else {
                line_starting = tag_body(kind == '%', begin);
            }
        }
        tokens_.push_back(
            Token{Tok::eof, "", static_cast<uint32_t>(src_.size()), line_at(src_.size())});
        return std::move(tokens_);
    }

  private:
    [[noreturn]] void error(size_t at, const std::string& expected, const std::string& found) {
        throw Error(ErrorKind::bad_value, name_, fmt::format("line {}", line_at(at)), at, expected,
                    found);
    }

    uint32_t line_at(size_t at) {
        // Lines are counted incrementally, as offsets mostly grow.
        if (at < line_pos_) line_pos_ = 0, line_ = 1;
        for (; line_pos_ < at && line_pos_ < src_.size(); ++line_pos_)
            if (src_[line_pos_] == '\n') ++line_;
        return line_;
    }

    void emit(Tok type, std::string value, size_t at) {
        tokens_.push_back(Token{type, std::move(value), static_cast<uint32_t>(at), line_at(at)});
    }

    size_t find_tag(size_t from) const {
        for (size_t i = from; i + 1 < src_.size(); ++i) {
            if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
                return i;
        }
        return std::string_view::npos;
    }

    static bool all_space(std::string_view s) {
        for (size_t p = 0; p < s.size();)
            if (!is_space(utf8_next(s, p))) return false;
        return true;
    }

    // Skips Unicode whitespace; returns whether the last character skipped was a newline.
    bool skip_space() {
        bool newline = false;
        while (pos_ < src_.size()) {
            size_t p = pos_;
            char32_t cp = utf8_next(src_, p);
            if (!is_space(cp)) break;
            newline = cp == '\n';
            pos_ = p;
        }
        return newline;
    }

    // After `{#`: returns whether the comment's end left us at a line start.
    bool comment(size_t begin) {
        size_t end = src_.find("#}", pos_);
        if (end == std::string_view::npos) error(begin, "'#}'", "Missing end of comment tag");
        char before = end > pos_ ? src_[end - 1] : '\0';
        pos_ = end + 2;
        if (before == '-') {
            size_t start = pos_;
            bool nl = skip_space();
            return pos_ > start ? nl : false;
        }
        if (before != '+' && pos_ < src_.size() && src_[pos_] == '\n') {
            ++pos_;
            return true;
        }
        return false;
    }

    bool starts_with(size_t at, std::string_view s) const { return src_.substr(at, s.size()) == s; }

    // `{% raw %}...{% endraw %}`: the text in between is data, untouched.
    bool raw_block(size_t begin, char sign) {
        size_t p = pos_;
        auto skip_ws = [&](size_t q) {
            while (q < src_.size()) {
                size_t r = q;
                if (!is_space(utf8_next(src_, r))) break;
                q = r;
            }
            return q;
        };
        p = skip_ws(p);
        if (!starts_with(p, "raw")) return false;
        p = skip_ws(p + 3);
        if (starts_with(p, "-%}")) {
            pos_ = p + 3;
            skip_space();
        } else if (starts_with(p, "%}")) {
            pos_ = p + 2;
        } else {
            return false;
        }
        (void)sign;
        // Find `{%(-|+)? \s* endraw \s* (+%}|-%}\s*|%}\n?)`.
        for (size_t q = pos_; (q = src_.find("{%", q)) != std::string_view::npos; q += 2) {
            size_t r = q + 2;
            char esign = r < src_.size() && (src_[r] == '-' || src_[r] == '+') ? src_[r] : '\0';
            if (esign) ++r;
            r = skip_ws(r);
            if (!starts_with(r, "endraw")) continue;
            r = skip_ws(r + 6);
            size_t after;
            if (starts_with(r, "+%}")) {
                after = r + 3;
            } else if (starts_with(r, "-%}")) {
                after = r + 3;
                while (after < src_.size()) {
                    size_t t = after;
                    if (!is_space(utf8_next(src_, t))) break;
                    after = t;
                }
            } else if (starts_with(r, "%}")) {
                after = r + 2;
                if (after < src_.size() && src_[after] == '\n') ++after;
            } else {
                continue;
            }
            std::string text(src_.substr(pos_, q - pos_));
            if (esign == '-') {
                text = strip(text, nullptr, false, true);
            } else if (esign != '+') {
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if (l_pos > 0 && l_pos < text.size() &&
                    all_space(std::string_view(text).substr(l_pos)))
                    text.resize(l_pos);
            }
            if (!text.empty()) emit(Tok::data, std::move(text), pos_);
            pos_ = after;
            return true;
        }
        error(begin, "'{% endraw %}'", "Missing end of raw directive");
    }

    // The inside of `{% ... %}` or `{{ ... }}`; returns whether the end tag
    // consumed a newline.
    bool tag_body(bool block, size_t begin) {
        emit(block ? Tok::block_begin : Tok::variable_begin, "", begin);
        std::string balance;
        while (pos_ < src_.size()) {
            size_t at = pos_;
            if (balance.empty()) {
                if (block) {
                    if (starts_with(at, "+%}")) {
                        pos_ += 3;
                        emit(Tok::block_end, "", at);
                        return false;
                    }
                    if (starts_with(at, "-%}")) {
                        pos_ += 3;
                        emit(Tok::block_end, "", at);
                        size_t start = pos_;
                        bool nl = skip_space();
                        return pos_ > start ? nl : false;
                    }
                    if (starts_with(at, "%}")) {
                        pos_ += 2;
                        emit(Tok::block_end, "", at);
                        if (pos_ < src_.size() && src_[pos_] == '\n') {
                            ++pos_;
                            return true;
                        }
                        return false;
                    }
                } else {
                    if (starts_with(at, "-}}")) {
                        pos_ += 3;
                        emit(Tok::variable_end, "", at);
                        size_t start = pos_;
                        bool nl = skip_space();
                        return pos_ > start ? nl : false;
                    }
                    if (starts_with(at, "}}")) {
                        pos_ += 2;
                        emit(Tok::variable_end, "", at);
                        return false;
                    }
                }
            }
            size_t p = pos_;
            char32_t cp = utf8_next(src_, p);
            if (is_space(cp)) {
                skip_space();
            } else if (cp >= '0' && cp <= '9') {
                number();
            } else if (cp == '_' || (cp < 0x80 && std::isalpha(static_cast<int>(cp))) ||
                       (cp >= 0x80 && is_alpha(cp))) {
                name();
            } else if (cp == '\'' || cp == '"') {
                string_literal();
            } else {
                op(balance);
            }
        }
        return false;  // the parser reports the missing end tag
    }

    void number() {
        size_t at = pos_;
        auto digits = [&](size_t p, auto is_digit_fn) {
            // (\d+_)*\d+ : digits with single underscores between them.
            size_t q = p;
            if (q >= src_.size() || !is_digit_fn(src_[q])) return p;
            while (q < src_.size()) {
                if (is_digit_fn(src_[q])) {
                    ++q;
                } else if (src_[q] == '_' && q + 1 < src_.size() && is_digit_fn(src_[q + 1])) {
                    ++q;
                } else {
                    break;
                }
            }
            return q;
        };
        auto dec = [](char c) { return c >= '0' && c <= '9'; };
        // Floats first, as jinja2 tries them before integers (not right after a '.').
        if (at == 0 || src_[at - 1] != '.') {
            size_t q = digits(at, dec);
            size_t frac = q;
            if (q < src_.size() && src_[q] == '.') {
                size_t r = digits(q + 1, dec);
                if (r > q + 1) frac = r;
            }
            size_t exp_end = frac;
            if (frac < src_.size() && (src_[frac] == 'e' || src_[frac] == 'E')) {
                size_t r = frac + 1;
                if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
                size_t s = digits(r, dec);
                if (s > r) exp_end = s;
            }
            if (exp_end > q) {
                std::string text;
                for (size_t i = at; i < exp_end; ++i)
                    if (src_[i] != '_') text.push_back(src_[i]);
                pos_ = exp_end;
                emit(Tok::floating, text, at);
                return;
            }
        }
        // Integers: 0b.., 0o.., 0x.., [1-9](_?\d)*, 0(_?0)*.
        std::string text;
        int base = 10;
        size_t q = at;
        if (src_[at] == '0' && at + 1 < src_.size() &&
            std::string_view("bBoOxX").find(src_[at + 1]) != std::string_view::npos) {
            char b = static_cast<char>(std::tolower(src_[at + 1]));
            base = b == 'b' ? 2 : b == 'o' ? 8 : 16;
            auto ok = [base](char c) {
                if (base == 2) return c == '0' || c == '1';
                if (base == 8) return c >= '0' && c <= '7';
                return std::isxdigit(static_cast<unsigned char>(c)) != 0;
            };
            size_t r = at + 2;
            while (r < src_.size()) {
                if (src_[r] == '_' && r + 1 < src_.size() && ok(src_[r + 1])) {
                    r += 2;
                } else if (ok(src_[r])) {
                    ++r;
                } else {
                    break;
                }
            }
            if (r > at + 2) {
                for (size_t i = at + 2; i < r; ++i)
                    if (src_[i] != '_') text.push_back(src_[i]);
                pos_ = r;
                emit(Tok::integer, std::to_string(parse_int(text, base, at)), at);
                return;
            }
        }
        if (src_[at] == '0') {
            q = at + 1;
            while (q < src_.size()) {
                if (src_[q] == '0') {
                    ++q;
                } else if (src_[q] == '_' && q + 1 < src_.size() && src_[q + 1] == '0') {
                    q += 2;
                } else {
                    break;
                }
            }
            pos_ = q;
            emit(Tok::integer, "0", at);
            return;
        }
        q = digits(at, dec);
        for (size_t i = at; i < q; ++i)
            if (src_[i] != '_') text.push_back(src_[i]);
        pos_ = q;
        emit(Tok::integer, std::to_string(parse_int(text, 10, at)), at);
    }

    int64_t parse_int(const std::string& text, int base, size_t at) {
        int64_t v = 0;
        for (char c : text) {
            int d =
                std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
            if (v > (INT64_MAX - d) / base) error(at, "an integer that fits 64 bits", text);
            v = v * base + d;
        }
        return v;
    }

    void name() {
        size_t at = pos_;
        while (pos_ < src_.size()) {
            size_t p = pos_;
            char32_t cp = utf8_next(src_, p);
            bool ok = cp == '_' || (cp < 0x80 && std::isalnum(static_cast<int>(cp))) ||
                      (cp >= 0x80 && (is_alpha(cp) || is_digit(cp)));
            if (!ok) break;
            pos_ = p;
        }
        emit(Tok::name, std::string(src_.substr(at, pos_ - at)), at);
    }

    static int hex_value(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    // A quoted string, unescaped as Python's "unicode-escape" codec does
    // (which is what jinja2 applies to string literals).
    void string_literal() {
        size_t at = pos_;
        char quote = src_[pos_++];
        size_t start = pos_;
        while (pos_ < src_.size() && src_[pos_] != quote) pos_ += src_[pos_] == '\\' ? 2 : 1;
        if (pos_ >= src_.size()) error(at, "a closing quote", "unterminated string");
        std::string_view body = src_.substr(start, pos_ - start);
        ++pos_;
        std::string out;
        for (size_t i = 0; i < body.size();) {
            if (body[i] != '\\') {
                size_t j = i;
                utf8_next(body, j);
                out.append(body.substr(i, j - i));
                i = j;
                continue;
            }
            size_t esc = i;
            ++i;
            char c = body[i];
            auto hex_escape = [&](int n) {
                char32_t cp = 0;
                for (int k = 1; k <= n; ++k) {
                    int h = i + k < body.size() ? hex_value(body[i + k]) : -1;
                    if (h < 0)
                        error(at + 1 + esc, "a complete escape sequence",
                              fmt::format("truncated \\{}{} escape", c,
                                          std::string(static_cast<size_t>(n), 'X')));
                    cp = cp * 16 + static_cast<char32_t>(h);
                }
                if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    error(at + 1 + esc, "a valid code point", "illegal Unicode character");
                utf8_append(out, cp);
                i += static_cast<size_t>(n) + 1;
            };
            switch (c) {
                case '\n':
                    ++i;
                    break;
                case '\\':
                    out.push_back('\\'), ++i;
                    break;
                case '\'':
                    out.push_back('\''), ++i;
                    break;
                case '"':
                    out.push_back('"'), ++i;
                    break;
                case 'a':
                    out.push_back('\a'), ++i;
                    break;
                case 'b':
                    out.push_back('\b'), ++i;
                    break;
                case 'f':
                    out.push_back('\f'), ++i;
                    break;
                case 'n':
                    out.push_back('\n'), ++i;
                    break;
                case 'r':
                    out.push_back('\r'), ++i;
                    break;
                case 't':
                    out.push_back('\t'), ++i;
                    break;
                case 'v':
                    out.push_back('\v'), ++i;
                    break;
                case 'x':
                    hex_escape(2);
                    break;
                case 'u':
                    hex_escape(4);
                    break;
                case 'U':
                    hex_escape(8);
                    break;
                case 'N':
                    throw Error(ErrorKind::unsupported, name_, fmt::format("line {}", line_at(at)),
                                at, "a construct slim implements", "\\N{...} escape in a string");
                default:
                    if (c >= '0' && c <= '7') {
                        char32_t cp = 0;
                        int n = 0;
                        while (n < 3 && i < body.size() && body[i] >= '0' && body[i] <= '7') {
                            cp = cp * 8 + static_cast<char32_t>(body[i] - '0');
                            ++i, ++n;
                        }
                        utf8_append(out, cp);
                    } else if (static_cast<unsigned char>(c) >= 0x80) {
                        // The codec sees this character as its backslash escape
                        // after a literal backslash: "\é" becomes "\xe9".
                        size_t j = i;
                        char32_t cp = utf8_next(body, j);
                        out += cp < 0x100     ? fmt::format("\\x{:02x}", static_cast<uint32_t>(cp))
                               : cp < 0x10000 ? fmt::format("\\u{:04x}", static_cast<uint32_t>(cp))
                                              : fmt::format("\\U{:08x}", static_cast<uint32_t>(cp));
                        i = j;
                    } else {
                        out.push_back('\\');
                        out.push_back(c);
                        ++i;
                    }
            }
        }
        emit(Tok::string, std::move(out), at);
    }

    void op(std::string& balance) {
        static const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/",
                                           "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                           ">",  "<",  "=",  ".",  ":",  "|",  ",", ";"};
        size_t at = pos_;
        for (const char* o : kOps) {
            std::string_view s(o);
            if (!starts_with(at, s)) continue;
            char c = s[0];
            if (s.size() == 1 && (c == '(' || c == '[' || c == '{')) {
                balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
            } else if (s.size() == 1 && (c == ')' || c == ']' || c == '}')) {
                if (balance.empty()) error(at, "an expression", fmt::format("unexpected '{}'", c));
                if (balance.back() != c)
                    error(at, fmt::format("'{}'", balance.back()),
                          fmt::format("unexpected '{}'", c));
                balance.pop_back();
            }
            pos_ += s.size();
            emit(Tok::op, std::string(s), at);
            return;
        }
        size_t p = pos_;
        utf8_next(src_, p);
        error(at, "an expression", fmt::format("unexpected char '{}'", src_.substr(at, p - at)));
    }

    std::string_view src_;
    const std::string& name_;
    size_t pos_ = 0;
    size_t line_pos_ = 0;
    uint32_t line_ = 1;
    std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const std::string& template_name) {
    // jinja2 reads "\r\n" and "\r" as "\n" everywhere and drops one trailing newline.
    std::string src;
    src.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            src.push_back('\n');
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            src.push_back(source[i]);
        }
    }
    if (!src.empty() && src.back() == '\n') src.pop_back();
    if (!utf8_valid(src))
        throw Error(ErrorKind::bad_value, template_name, "source", std::nullopt, "UTF-8 text",
                    "invalid UTF-8");
    Lexer lexer(src, template_name);
    return lexer.run();
}

}  // namespace slim::jinja
