#include "runtime/jinja/format.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "runtime/jinja/failure.h"
#include "runtime/jinja/interpreter.h"
#include "runtime/jinja/unicode.h"

namespace slim::jinja {

namespace {

thread_local size_t g_text_limit = 64u << 20;

void check_text(const std::string& out) {
    if (out.size() > g_text_limit)
        fail_too_large("strings of at most " + std::to_string(g_text_limit) + " bytes");
}

// Namespaces can hold themselves; Python's repr would stop at its recursion
// limit, slim stops here.
class DepthGuard {
  public:
    explicit DepthGuard(int& depth) : depth_(depth) {
        if (++depth_ > static_cast<int>(kMaxNesting)) {
            --depth_;
            fail_too_large("values nested at most " + std::to_string(kMaxNesting) + " deep");
        }
    }
    ~DepthGuard() { --depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

  private:
    int& depth_;
};

void hex_escape(std::string& out, char prefix, char32_t cp, int digits) {
    static const char* hex = "0123456789abcdef";
    out.push_back('\\');
    out.push_back(prefix);
    for (int i = digits - 1; i >= 0; --i) out.push_back(hex[(cp >> (4 * i)) & 0xF]);
}

// What repr() is in the middle of: its depth, and the namespaces being
// printed, which print as {...} when they contain themselves (as Python's
// recursive repr guard does).
struct ReprState {
    int depth = 0;
    std::vector<const void*> active;
};

void repr_into(std::string& out, const Value& v, ReprState& st);

void seq_repr_into(std::string& out, const std::vector<Value>& items, const char* open,
                   const char* close, bool tuple, ReprState& depth) {
    out += open;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        repr_into(out, items[i], depth);
    }
    if (tuple && items.size() == 1) out += ",";
    out += close;
}

void dict_repr_into(std::string& out, const Dict& d, ReprState& depth) {
    out += "{";
    bool first = true;
    for (const auto& [k, v] : d.items) {
        if (!first) out += ", ";
        first = false;
        repr_into(out, k, depth);
        out += ": ";
        repr_into(out, v, depth);
    }
    out += "}";
}

// str() and repr() differ only for strings (and the Undefined/Markup cases).
void value_into(std::string& out, const Value& v, bool as_repr, ReprState& depth) {
    DepthGuard guard(depth.depth);
    check_text(out);
    switch (v.type()) {
        case Type::undefined:
            if (as_repr) out += "Undefined";
            return;
        case Type::none:
            out += "None";
            return;
        case Type::boolean:
            out += v.as_bool() ? "True" : "False";
            return;
        case Type::integer:
            out += int_str(v.as_int());
            return;
        case Type::floating:
            out += float_repr(v.as_float());
            return;
        case Type::string:
            if (!as_repr) {
                out += v.str();
            } else if (v.is_markup()) {
                out += "Markup(" + string_repr(v.str()) + ")";
            } else {
                out += string_repr(v.str());
            }
            return;
        case Type::sequence: {
            const Sequence& s = v.seq();
            switch (s.kind) {
                case SeqKind::list:
                    seq_repr_into(out, s.items, "[", "]", false, depth);
                    return;
                case SeqKind::tuple:
                    seq_repr_into(out, s.items, "(", ")", true, depth);
                    return;
                case SeqKind::dict_items:
                    seq_repr_into(out, s.items, "dict_items([", "])", false, depth);
                    return;
                case SeqKind::dict_keys:
                    seq_repr_into(out, s.items, "dict_keys([", "])", false, depth);
                    return;
                case SeqKind::dict_values:
                    seq_repr_into(out, s.items, "dict_values([", "])", false, depth);
                    return;
                case SeqKind::range:
                    out += "range(" + int_str(s.range_start) + ", " + int_str(s.range_stop);
                    if (s.range_step != 1) out += ", " + int_str(s.range_step);
                    out += ")";
                    return;
                case SeqKind::generator:
                    break;
            }
            // Python prints the generator's address, which no test can match.
            fail_unsupported("printing a generator (add |list)");
        }
        case Type::dict:
            dict_repr_into(out, v.dict(), depth);
            return;
        case Type::namespace_: {
            const void* id = v.identity();
            auto& active = depth.active;
            if (std::find(active.begin(), active.end(), id) != active.end()) {
                out += "<Namespace {...}>";
                return;
            }
            active.push_back(id);
            out += "<Namespace ";
            dict_repr_into(out, v.ns().attrs, depth);
            out += ">";
            active.pop_back();
            return;
        }
        case Type::loop: {
            const LoopState& l = v.loop_state();
            out += "<LoopContext " + int_str(static_cast<int64_t>(l.index + 1)) + "/" +
                   int_str(static_cast<int64_t>(l.items.size())) + ">";
            return;
        }
        case Type::callable:
            if (v.fn().is_macro) {
                out += "<Macro " + string_repr(v.fn().name) + ">";
                return;
            }
            fail_unsupported("printing a function or method object");
    }
}

void repr_into(std::string& out, const Value& v, ReprState& st) {
    value_into(out, v, true, st);
}

void json_string_into(std::string& out, std::string_view s, bool ensure_ascii) {
    out.push_back('"');
    for (size_t pos = 0; pos < s.size();) {
        auto b = static_cast<unsigned char>(s[pos]);
        if (b >= 0x80) {
            size_t start = pos;
            char32_t cp = utf8_next(s, pos);
            if (!ensure_ascii) {
                out.append(s.substr(start, pos - start));
            } else if (cp >= 0x10000) {
                char32_t v = cp - 0x10000;
                hex_escape(out, 'u', 0xD800 | (v >> 10), 4);
                hex_escape(out, 'u', 0xDC00 | (v & 0x3FF), 4);
            } else {
                hex_escape(out, 'u', cp, 4);
            }
            continue;
        }
        ++pos;
        switch (b) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (b < 0x20)
                    hex_escape(out, 'u', b, 4);
                else
                    out.push_back(static_cast<char>(b));
        }
    }
    out.push_back('"');
}

std::string json_float(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return float_repr(d);
}

std::string json_key(const Value& k) {
    switch (k.type()) {
        case Type::string:
            return k.str();
        case Type::integer:
            return int_str(k.as_int());
        case Type::floating:
            return json_float(k.as_float());
        case Type::boolean:
            return k.as_bool() ? "true" : "false";
        case Type::none:
            return "null";
        default:
            fail_type("keys must be str, int, float, bool or None, not " + type_name(k));
    }
}

void json_into(std::string& out, const Value& v, const JsonOptions& o, int level, int& depth) {
    DepthGuard guard(depth);
    check_text(out);
    switch (v.type()) {
        case Type::none:
            out += "null";
            return;
        case Type::boolean:
            out += v.as_bool() ? "true" : "false";
            return;
        case Type::integer:
            out += int_str(v.as_int());
            return;
        case Type::floating:
            out += json_float(v.as_float());
            return;
        case Type::string:
            json_string_into(out, v.str(), o.ensure_ascii);
            return;
        case Type::sequence:
            if (v.is_list() || v.is_tuple()) {
                const auto& items = v.items();
                if (items.empty()) {
                    out += "[]";
                    return;
                }
                std::string newline;
                if (o.indent) {
                    newline = "\n";
                    for (int i = 0; i <= level; ++i) newline += *o.indent;
                }
                out += "[" + newline;
                for (size_t i = 0; i < items.size(); ++i) {
                    if (i) out += o.item_separator + newline;
                    json_into(out, items[i], o, level + 1, depth);
                }
                if (o.indent) {
                    out += "\n";
                    for (int i = 0; i < level; ++i) out += *o.indent;
                }
                out += "]";
                return;
            }
            break;
        case Type::dict: {
            const auto& d = v.dict();
            if (d.items.empty()) {
                out += "{}";
                return;
            }
            std::vector<const std::pair<Value, Value>*> entries;
            for (const auto& e : d.items) entries.push_back(&e);
            if (o.sort_keys) {
                for (const auto* e : entries)
                    if (!e->first.is_string())
                        fail_type("'<' not supported between dict keys of type " +
                                  type_name(e->first));
                std::stable_sort(entries.begin(), entries.end(),
                                 [](auto* a, auto* b) { return a->first.str() < b->first.str(); });
            }
            std::string newline;
            if (o.indent) {
                newline = "\n";
                for (int i = 0; i <= level; ++i) newline += *o.indent;
            }
            out += "{" + newline;
            bool first = true;
            for (const auto* e : entries) {
                if (!first) out += o.item_separator + newline;
                first = false;
                json_string_into(out, json_key(e->first), o.ensure_ascii);
                out += o.key_separator;
                json_into(out, e->second, o, level + 1, depth);
            }
            if (o.indent) {
                out += "\n";
                for (int i = 0; i < level; ++i) out += *o.indent;
            }
            out += "}";
            return;
        }
        default:
            break;
    }
    fail_type("Object of type " + type_name(v) + " is not JSON serializable");
}

}  // namespace

TextLimit::TextLimit(size_t bytes) : saved_(g_text_limit) {
    g_text_limit = bytes;
}
TextLimit::~TextLimit() {
    g_text_limit = saved_;
}
size_t TextLimit::current() {
    return g_text_limit;
}

std::string int_str(int64_t i) {
    return std::to_string(i);
}

std::string float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    // sci is "-d.ddde+XX": split into sign, digits and decimal exponent.
    std::string sign;
    size_t pos = 0;
    if (sci[0] == '-') {
        sign = "-";
        pos = 1;
    }
    size_t e = sci.find('e');
    std::string digits;
    for (size_t i = pos; i < e; ++i)
        if (sci[i] != '.') digits.push_back(sci[i]);
    int exp = std::stoi(sci.substr(e + 1));
    int ndigits = static_cast<int>(digits.size());
    std::string out = sign;
    if (exp < -4 || exp >= 16) {
        out += digits.substr(0, 1);
        if (ndigits > 1) out += "." + digits.substr(1);
        out += exp < 0 ? "e-" : "e+";
        int a = exp < 0 ? -exp : exp;
        if (a < 10) out += "0";
        out += std::to_string(a);
        return out;
    }
    int decpt = exp + 1;  // digits before the decimal point
    if (decpt <= 0) {
        out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (decpt >= ndigits) {
        out += digits + std::string(static_cast<size_t>(decpt - ndigits), '0') + ".0";
    } else {
        out += digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
    return out;
}

std::string string_repr(std::string_view s) {
    bool has_single = s.find('\'') != std::string_view::npos;
    bool has_double = s.find('"') != std::string_view::npos;
    char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (size_t pos = 0; pos < s.size();) {
        size_t start = pos;
        char32_t cp = utf8_next(s, pos);
        if (cp == static_cast<char32_t>(quote) || cp == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(cp));
        } else if (cp == '\t') {
            out += "\\t";
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp < 0x20 || cp == 0x7F) {
            hex_escape(out, 'x', cp, 2);
        } else if (cp < 0x80 || is_printable(cp)) {
            out.append(s.substr(start, pos - start));
        } else if (cp < 0x100) {
            hex_escape(out, 'x', cp, 2);
        } else if (cp < 0x10000) {
            hex_escape(out, 'u', cp, 4);
        } else {
            hex_escape(out, 'U', cp, 8);
        }
    }
    out.push_back(quote);
    return out;
}

std::string to_str(const Value& v) {
    if (v.is_string()) return v.str();
    std::string out;
    ReprState st;
    value_into(out, v, false, st);
    return out;
}

std::string repr(const Value& v) {
    std::string out;
    ReprState st;
    repr_into(out, v, st);
    return out;
}

std::string json_dumps(const Value& v, const JsonOptions& options) {
    std::string out;
    int depth = 0;
    json_into(out, v, options, 0, depth);
    return out;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

}  // namespace slim::jinja
