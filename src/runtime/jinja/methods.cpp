// Methods of Python's str, dict, list and tuple that templates call:
// `content.strip()`, `message.get('x')`, `s.split('</think>')`.
//
// The sandbox refuses the methods that mutate a list or dict (append, pop,
// update, ...): looking them up gives an undefined value whose use raises
// SecurityError, exactly as jinja2's ImmutableSandboxedEnvironment does.
// Python methods slim does not implement fail as unsupported; names that are
// no method at all give an ordinary undefined attribute.
#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "runtime/jinja/failure.h"
#include "runtime/jinja/format.h"
#include "runtime/jinja/interpreter.h"
#include "runtime/jinja/unicode.h"

namespace slim::jinja {

namespace {

using Method = Value (*)(Interpreter&, const Value&, CallArgs&);

struct MethodDef {
    std::string_view name;
    Method fn;
};

Value make_bound(const Value& self, std::string_view name, Method fn) {
    auto c = std::make_shared<Callable>();
    c->name = std::string(name);
    c->call = [self, fn](Interpreter& in, CallArgs& args) { return fn(in, self, args); };
    return Value::callable(std::move(c));
}

Value str_result(const Value& self, std::string s) {
    return Value::string(std::move(s), self.is_markup());
}

const std::string* opt_str(const Value& v, const char* what) {
    if (v.is_undefined() || v.is_none()) return nullptr;
    if (!v.is_string()) fail_type(std::string(what) + " arg must be None or str");
    return &v.str();
}

int64_t opt_int(const Value& v, int64_t def) {
    if (v.is_undefined() || v.is_none()) return def;
    if (v.is_int() || v.is_bool()) return v.int_value();
    fail_type(fmt::format("'{}' object cannot be interpreted as an integer", type_name(v)));
}

// Python's start/end clamping for find, count, startswith.
void clamp_range(const Value& start_v, const Value& end_v, size_t n, size_t& start, size_t& end) {
    auto adj = [n](int64_t i) -> size_t {
        auto len = static_cast<int64_t>(n);
        if (i < 0) i = std::max<int64_t>(0, i + len);
        return static_cast<size_t>(std::min(i, len));
    };
    start = adj(opt_int(start_v, 0));
    end = adj(opt_int(end_v, static_cast<int64_t>(n)));
}

Value m_strip(Interpreter&, const Value& self, CallArgs& a, bool left, bool right,
              const char* what) {
    auto p = bind_args(a, what, {"chars"});
    return str_result(self, strip(self.str(), opt_str(p[0], what), left, right));
}
Value m_strip_both(Interpreter& in, const Value& s, CallArgs& a) {
    return m_strip(in, s, a, true, true, "strip");
}
Value m_lstrip(Interpreter& in, const Value& s, CallArgs& a) {
    return m_strip(in, s, a, true, false, "lstrip");
}
Value m_rstrip(Interpreter& in, const Value& s, CallArgs& a) {
    return m_strip(in, s, a, false, true, "rstrip");
}

std::vector<std::string> split_ws(const std::string& s, int64_t maxsplit, bool from_right) {
    std::u32string cps = utf8_decode(s);
    std::vector<std::u32string> parts;
    if (!from_right) {
        size_t i = 0, n = cps.size();
        while (true) {
            while (i < n && is_space(cps[i])) ++i;
            if (i >= n) break;
            if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
                size_t e = n;
                while (e > i && is_space(cps[e - 1])) --e;
                parts.push_back(cps.substr(i, e - i));
                break;
            }
            size_t j = i;
            while (j < n && !is_space(cps[j])) ++j;
            parts.push_back(cps.substr(i, j - i));
            i = j;
        }
    } else {
        size_t e = cps.size();
        while (true) {
            while (e > 0 && is_space(cps[e - 1])) --e;
            if (e == 0) break;
            if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
                size_t b = 0;
                while (b < e && is_space(cps[b])) ++b;
                parts.push_back(cps.substr(b, e - b));
                break;
            }
            size_t j = e;
            while (j > 0 && !is_space(cps[j - 1])) --j;
            parts.push_back(cps.substr(j, e - j));
            e = j;
        }
        std::reverse(parts.begin(), parts.end());
    }
    std::vector<std::string> out;
    for (const auto& p : parts) out.push_back(utf8_encode(p));
    return out;
}

std::vector<std::string> split_sep(const std::string& s, const std::string& sep, int64_t maxsplit,
                                   bool from_right) {
    if (sep.empty()) fail_value("empty separator");
    std::vector<std::string> out;
    if (!from_right) {
        size_t pos = 0;
        while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
            size_t f = s.find(sep, pos);
            if (f == std::string::npos) break;
            out.push_back(s.substr(pos, f - pos));
            pos = f + sep.size();
        }
        out.push_back(s.substr(pos));
    } else {
        size_t end = s.size();
        int64_t splits = 0;
        while (maxsplit < 0 || splits < maxsplit) {
            if (end < sep.size()) break;
            size_t f = s.rfind(sep, end - sep.size());
            if (f == std::string::npos) break;
            out.push_back(s.substr(f + sep.size(), end - f - sep.size()));
            end = f;
            ++splits;
        }
        out.push_back(s.substr(0, end));
        std::reverse(out.begin(), out.end());
    }
    return out;
}

Value m_split_impl(const Value& self, CallArgs& a, bool from_right) {
    auto p = bind_args(a, from_right ? "rsplit" : "split", {"sep", "maxsplit"});
    const std::string* sep = opt_str(p[0], "sep");
    int64_t maxsplit = opt_int(p[1], -1);
    std::vector<std::string> parts = sep ? split_sep(self.str(), *sep, maxsplit, from_right)
                                         : split_ws(self.str(), maxsplit, from_right);
    std::vector<Value> out;
    for (auto& part : parts) out.push_back(str_result(self, std::move(part)));
    return Value::list(std::move(out));
}
Value m_split(Interpreter&, const Value& s, CallArgs& a) {
    return m_split_impl(s, a, false);
}
Value m_rsplit(Interpreter&, const Value& s, CallArgs& a) {
    return m_split_impl(s, a, true);
}

Value m_splitlines(Interpreter&, const Value& self, CallArgs& a) {
    auto p = bind_args(a, "splitlines", {"keepends"});
    bool keep = truthy(p[0]);
    std::u32string cps = utf8_decode(self.str());
    std::vector<Value> out;
    size_t i = 0, start = 0;
    auto is_break = [](char32_t c) {
        return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
               c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    };
    while (i < cps.size()) {
        if (!is_break(cps[i])) {
            ++i;
            continue;
        }
        size_t eol = i + ((cps[i] == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ? 2 : 1);
        out.push_back(str_result(self, utf8_encode(cps.substr(start, (keep ? eol : i) - start))));
        start = i = eol;
    }
    if (start < cps.size()) out.push_back(str_result(self, utf8_encode(cps.substr(start))));
    return Value::list(std::move(out));
}

Value m_affix(const Value& self, CallArgs& a, bool prefix) {
    const char* what = prefix ? "startswith" : "endswith";
    auto p = bind_args(a, what, {"prefix", "start", "end"});
    std::u32string cps = utf8_decode(self.str());
    size_t start, end;
    clamp_range(p[1], p[2], cps.size(), start, end);
    std::vector<Value> candidates;
    if (p[0].is_tuple()) {
        candidates = p[0].items();
    } else {
        candidates.push_back(p[0]);
    }
    for (const auto& c : candidates) {
        if (!c.is_string())
            fail_type(fmt::format("{} first arg must be str or a tuple of str, not {}", what,
                                  type_name(c)));
        if (start > end) continue;
        std::u32string needle = utf8_decode(c.str());
        std::u32string_view hay(cps.data() + start, end - start);
        if (needle.size() > hay.size()) continue;
        if (prefix ? hay.substr(0, needle.size()) == needle
                   : hay.substr(hay.size() - needle.size()) == needle)
            return Value::boolean(true);
    }
    return Value::boolean(false);
}
Value m_startswith(Interpreter&, const Value& s, CallArgs& a) {
    return m_affix(s, a, true);
}
Value m_endswith(Interpreter&, const Value& s, CallArgs& a) {
    return m_affix(s, a, false);
}

Value m_upper(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "upper", {});
    return str_result(s, to_upper(s.str()));
}
Value m_lower(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "lower", {});
    return str_result(s, to_lower(s.str()));
}
Value m_title(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "title", {});
    return str_result(s, to_title(s.str()));
}
Value m_capitalize(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "capitalize", {});
    return str_result(s, capitalize(s.str()));
}
Value m_swapcase(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "swapcase", {});
    return str_result(s, swap_case(s.str()));
}

std::string markup_arg(const Value& self, const Value& arg) {
    // Markup's methods escape plain-string arguments.
    if (self.is_markup() && !arg.is_markup()) return html_escape(arg.str());
    return arg.str();
}

Value m_replace(Interpreter& in, const Value& self, CallArgs& a) {
    auto p = bind_args(a, "replace", {"old", "new", "count"});
    if (!p[0].is_string() || !p[1].is_string())
        fail_type("replace() argument must be str, not " +
                  type_name(p[0].is_string() ? p[1] : p[0]));
    std::string old_s = markup_arg(self, p[0]), new_s = markup_arg(self, p[1]);
    int64_t count = opt_int(p[2], -1);
    const std::string& s = self.str();
    std::string out;
    int64_t done = 0;
    if (old_s.empty()) {
        // Python inserts `new` before every character and at the end.
        for (size_t pos = 0; pos <= s.size();) {
            if (count < 0 || done < count) {
                out += new_s;
                ++done;
            }
            if (pos == s.size()) break;
            size_t next = pos;
            utf8_next(s, next);
            out.append(s, pos, next - pos);
            pos = next;
            in.check_size(out.size());
        }
        return str_result(self, std::move(out));
    }
    size_t pos = 0;
    while (count < 0 || done < count) {
        size_t f = s.find(old_s, pos);
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += new_s;
        pos = f + old_s.size();
        ++done;
        in.check_size(out.size());
    }
    out.append(s, pos, std::string::npos);
    return str_result(self, std::move(out));
}

// find/rfind/index/rindex/count over code points.
Value m_search(const Value& self, CallArgs& a, const char* what, bool reverse, bool raise,
               bool count) {
    auto p = bind_args(a, what, {"sub", "start", "end"});
    if (!p[0].is_string()) fail_type(fmt::format("must be str, not {}", type_name(p[0])));
    std::u32string hay = utf8_decode(self.str()), needle = utf8_decode(p[0].str());
    size_t start, end;
    clamp_range(p[1], p[2], hay.size(), start, end);
    if (count) {
        if (start > end) return Value::integer(0);
        if (needle.empty()) return Value::integer(static_cast<int64_t>(end - start + 1));
        int64_t n = 0;
        for (size_t i = start; i + needle.size() <= end;) {
            if (hay.compare(i, needle.size(), needle) == 0) {
                ++n;
                i += needle.size();
            } else {
                ++i;
            }
        }
        return Value::integer(n);
    }
    int64_t found = -1;
    if (start <= end && needle.size() <= end - start) {
        if (!reverse) {
            for (size_t i = start; i + needle.size() <= end; ++i)
                if (hay.compare(i, needle.size(), needle) == 0) {
                    found = static_cast<int64_t>(i);
                    break;
                }
        } else {
            for (size_t i = end - needle.size() + 1; i-- > start;)
                if (hay.compare(i, needle.size(), needle) == 0) {
                    found = static_cast<int64_t>(i);
                    break;
                }
        }
    }
    if (found < 0 && raise) fail_value("substring not found");
    return Value::integer(found);
}
Value m_find(Interpreter&, const Value& s, CallArgs& a) {
    return m_search(s, a, "find", false, false, false);
}
Value m_rfind(Interpreter&, const Value& s, CallArgs& a) {
    return m_search(s, a, "rfind", true, false, false);
}
Value m_index(Interpreter&, const Value& s, CallArgs& a) {
    return m_search(s, a, "index", false, true, false);
}
Value m_rindex(Interpreter&, const Value& s, CallArgs& a) {
    return m_search(s, a, "rindex", true, true, false);
}
Value m_count(Interpreter&, const Value& s, CallArgs& a) {
    return m_search(s, a, "count", false, false, true);
}

Value m_join(Interpreter& in, const Value& self, CallArgs& a) {
    auto p = bind_args(a, "join", {"iterable"});
    std::vector<Value> items = in.iterate(p[0]);
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_string())
            fail_type(fmt::format("sequence item {}: expected str instance, {} found", i,
                                  type_name(items[i])));
        if (i) out += self.str();
        out += markup_arg(self, items[i]);
        in.check_size(out.size());
    }
    return str_result(self, std::move(out));
}

// str.format with plain fields: {} {0} {name}, optional !r/!s; no format specs.
Value m_format(Interpreter& in, const Value& self, CallArgs& a) {
    const std::string& f = self.str();
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < f.size(); ++i) {
        char c = f[i];
        if (c == '}') {
            if (i + 1 < f.size() && f[i + 1] == '}') {
                out.push_back('}');
                ++i;
                continue;
            }
            fail_value("Single '}' encountered in format string");
        }
        if (c != '{') {
            out.push_back(c);
            continue;
        }
        if (i + 1 < f.size() && f[i + 1] == '{') {
            out.push_back('{');
            ++i;
            continue;
        }
        size_t close = f.find('}', i);
        if (close == std::string::npos) fail_value("Single '{' encountered in format string");
        std::string field = f.substr(i + 1, close - i - 1);
        i = close;
        char conversion = 0;
        if (size_t bang = field.find('!'); bang != std::string::npos) {
            if (bang + 2 != field.size()) fail_unsupported("format field '" + field + "'");
            conversion = field[bang + 1];
            field.resize(bang);
        }
        if (field.find_first_of(":.[") != std::string::npos)
            fail_unsupported("format field '{" + field + "}'");
        Value v;
        if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
            size_t idx = field.empty() ? auto_index++ : std::stoul(field);
            if (idx >= a.args.size())
                fail_value("Replacement index " + std::to_string(idx) +
                           " out of range for positional args tuple");
            v = a.args[idx];
        } else {
            auto it = std::find_if(a.kwargs.begin(), a.kwargs.end(),
                                   [&](const auto& kv) { return kv.first == field; });
            if (it == a.kwargs.end()) fail_value("KeyError: '" + field + "'");
            v = it->second;
        }
        std::string s = conversion == 'r' ? repr(v) : to_str(v);
        if (conversion && conversion != 'r' && conversion != 's')
            fail_unsupported(std::string("format conversion !") + conversion);
        if (self.is_markup() && !v.is_markup()) s = html_escape(s);
        out += s;
        in.check_size(out.size());
    }
    return str_result(self, std::move(out));
}

template <bool (*Pred)(char32_t)>
Value m_is(Interpreter&, const Value& self, CallArgs& a) {
    bind_args(a, "is", {});
    std::u32string cps = utf8_decode(self.str());
    if (cps.empty()) return Value::boolean(false);
    return Value::boolean(std::all_of(cps.begin(), cps.end(), Pred));
}
bool alnum_cp(char32_t c) {
    return is_alpha(c) || is_digit(c);
}

Value m_isascii(Interpreter&, const Value& self, CallArgs& a) {
    bind_args(a, "isascii", {});
    return Value::boolean(is_ascii(self.str()));
}

Value m_case_is(const Value& self, bool upper) {
    bool cased = false;
    for (char32_t c : utf8_decode(self.str())) {
        if (upper ? is_lower(c) : is_upper(c)) return Value::boolean(false);
        if (is_upper(c) || is_lower(c)) cased = true;
    }
    return Value::boolean(cased);
}
Value m_isupper(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "isupper", {});
    return m_case_is(s, true);
}
Value m_islower(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "islower", {});
    return m_case_is(s, false);
}

Value m_partition_impl(const Value& self, CallArgs& a, bool reverse) {
    auto p = bind_args(a, reverse ? "rpartition" : "partition", {"sep"});
    if (!p[0].is_string()) fail_type("must be str, not " + type_name(p[0]));
    const std::string& s = self.str();
    const std::string& sep = p[0].str();
    if (sep.empty()) fail_value("empty separator");
    size_t f = reverse ? s.rfind(sep) : s.find(sep);
    std::vector<Value> out;
    if (f == std::string::npos) {
        out = reverse ? std::vector<Value>{str_result(self, ""), str_result(self, ""),
                                           str_result(self, s)}
                      : std::vector<Value>{str_result(self, s), str_result(self, ""),
                                           str_result(self, "")};
    } else {
        out = {str_result(self, s.substr(0, f)), str_result(self, sep),
               str_result(self, s.substr(f + sep.size()))};
    }
    return Value::list(std::move(out), SeqKind::tuple);
}
Value m_partition(Interpreter&, const Value& s, CallArgs& a) {
    return m_partition_impl(s, a, false);
}
Value m_rpartition(Interpreter&, const Value& s, CallArgs& a) {
    return m_partition_impl(s, a, true);
}

Value m_removeprefix(Interpreter&, const Value& self, CallArgs& a) {
    auto p = bind_args(a, "removeprefix", {"prefix"});
    if (!p[0].is_string()) fail_type("removeprefix() argument must be str");
    const std::string& s = self.str();
    if (s.compare(0, p[0].str().size(), p[0].str()) == 0)
        return str_result(self, s.substr(p[0].str().size()));
    return self;
}

Value m_removesuffix(Interpreter&, const Value& self, CallArgs& a) {
    auto p = bind_args(a, "removesuffix", {"suffix"});
    if (!p[0].is_string()) fail_type("removesuffix() argument must be str");
    const std::string& s = self.str();
    const std::string& x = p[0].str();
    if (!x.empty() && s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0)
        return str_result(self, s.substr(0, s.size() - x.size()));
    return self;
}

Value m_pad(Interpreter& in, const Value& self, CallArgs& a, int where) {
    auto p = bind_args(a, "pad", {"width", "fillchar"});
    int64_t width = opt_int(p[0], 0);
    std::string fill = " ";
    if (!p[1].is_undefined()) {
        if (!p[1].is_string() || utf8_length(p[1].str()) != 1)
            fail_type("The fill character must be exactly one character long");
        fill = p[1].str();
    }
    auto len = static_cast<int64_t>(utf8_length(self.str()));
    if (width <= len) return self;
    in.check_size(static_cast<size_t>(width) * fill.size());
    int64_t total = width - len;
    int64_t left = where < 0 ? 0 : where > 0 ? total : total / 2 + (total & width & 1);
    std::string out;
    for (int64_t i = 0; i < left; ++i) out += fill;
    out += self.str();
    for (int64_t i = 0; i < total - left; ++i) out += fill;
    return str_result(self, std::move(out));
}
Value m_ljust(Interpreter& in, const Value& s, CallArgs& a) {
    return m_pad(in, s, a, -1);
}
Value m_rjust(Interpreter& in, const Value& s, CallArgs& a) {
    return m_pad(in, s, a, 1);
}
Value m_center(Interpreter& in, const Value& s, CallArgs& a) {
    return m_pad(in, s, a, 0);
}

constexpr MethodDef kStrMethods[] = {
    {"capitalize", m_capitalize},
    {"center", m_center},
    {"count", m_count},
    {"endswith", m_endswith},
    {"find", m_find},
    {"format", m_format},
    {"index", m_index},
    {"isalnum", m_is<alnum_cp>},
    {"isalpha", m_is<is_alpha>},
    {"isascii", m_isascii},
    {"isdigit", m_is<is_digit>},
    {"islower", m_islower},
    {"isspace", m_is<is_space>},
    {"isupper", m_isupper},
    {"join", m_join},
    {"ljust", m_ljust},
    {"lower", m_lower},
    {"lstrip", m_lstrip},
    {"partition", m_partition},
    {"removeprefix", m_removeprefix},
    {"removesuffix", m_removesuffix},
    {"replace", m_replace},
    {"rfind", m_rfind},
    {"rindex", m_rindex},
    {"rjust", m_rjust},
    {"rpartition", m_rpartition},
    {"rsplit", m_rsplit},
    {"rstrip", m_rstrip},
    {"split", m_split},
    {"splitlines", m_splitlines},
    {"startswith", m_startswith},
    {"strip", m_strip_both},
    {"swapcase", m_swapcase},
    {"title", m_title},
    {"upper", m_upper},
};
constexpr std::string_view kStrOther[] = {"casefold",  "encode",       "expandtabs", "format_map",
                                          "isdecimal", "isidentifier", "isnumeric",  "isprintable",
                                          "istitle",   "maketrans",    "translate",  "zfill"};

Value m_get(Interpreter&, const Value& self, CallArgs& a) {
    if (!a.kwargs.empty()) fail_type("dict.get() takes no keyword arguments");
    auto p = bind_args(a, "get", {"key", "default"});
    if (!p.given(0)) fail_type("get expected at least 1 argument, got 0");
    if (!hashable(p[0])) fail_type("unhashable type: '" + type_name(p[0]) + "'");
    if (const Value* v = self.dict().find(p[0])) return *v;
    return p.given(1) ? p[1] : Value::none();
}

Value dict_view(const Value& self, SeqKind kind) {
    std::vector<Value> out;
    for (const auto& [k, v] : self.dict().items) {
        if (kind == SeqKind::dict_items) {
            out.push_back(Value::list({k, v}, SeqKind::tuple));
        } else {
            out.push_back(kind == SeqKind::dict_keys ? k : v);
        }
    }
    return Value::list(std::move(out), kind);
}
Value m_items(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "items", {});
    return dict_view(s, SeqKind::dict_items);
}
Value m_keys(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "keys", {});
    return dict_view(s, SeqKind::dict_keys);
}
Value m_values(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "values", {});
    return dict_view(s, SeqKind::dict_values);
}
Value m_dict_copy(Interpreter&, const Value& s, CallArgs& a) {
    bind_args(a, "copy", {});
    return Value::dict(s.dict());
}

constexpr MethodDef kDictMethods[] = {
    {"copy", m_dict_copy}, {"get", m_get},       {"items", m_items},
    {"keys", m_keys},      {"values", m_values},
};
constexpr std::string_view kDictUnsafe[] = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr std::string_view kDictOther[] = {"fromkeys"};

Value m_list_count(Interpreter&, const Value& self, CallArgs& a) {
    auto p = bind_args(a, "count", {"value"});
    return Value::integer(std::count_if(self.items().begin(), self.items().end(),
                                        [&](const Value& v) { return equal(v, p[0]); }));
}
Value m_list_index(Interpreter&, const Value& self, CallArgs& a) {
    auto p = bind_args(a, "index", {"value", "start", "stop"});
    size_t start, end;
    clamp_range(p[1], p[2], self.items().size(), start, end);
    for (size_t i = start; i < end; ++i)
        if (equal(self.items()[i], p[0])) return Value::integer(static_cast<int64_t>(i));
    fail_value(repr(p[0]) + " is not in list");
}
Value m_list_copy(Interpreter&, const Value& self, CallArgs& a) {
    bind_args(a, "copy", {});
    return Value::list(self.items());
}

constexpr MethodDef kListMethods[] = {
    {"copy", m_list_copy}, {"count", m_list_count}, {"index", m_list_index}};
constexpr std::string_view kListUnsafe[] = {"append", "clear",  "extend",  "insert",
                                            "pop",    "remove", "reverse", "sort"};
constexpr std::string_view kNumberAttrs[] = {
    "as_integer_ratio", "bit_count", "bit_length", "conjugate", "denominator", "from_bytes", "imag",
    "numerator",        "real",      "to_bytes",   "fromhex",   "hex",         "is_integer"};
constexpr std::string_view kMacroAttrs[] = {"name",         "arguments",     "defaults",
                                            "catch_kwargs", "catch_varargs", "caller"};

template <size_t N>
const MethodDef* lookup(const MethodDef (&table)[N], const std::string& name) {
    for (const auto& m : table)
        if (m.name == name) return &m;
    return nullptr;
}

template <size_t N>
bool listed(const std::string_view (&names)[N], const std::string& name) {
    return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

Value unsafe(const Value& obj, const std::string& name) {
    return Value::undefined(
        fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, type_name(obj)),
        true);
}

}  // namespace

bool find_method(const Value& obj, const std::string& name, Value& out) {
    const MethodDef* m = nullptr;
    switch (obj.type()) {
        case Type::string:
            if ((m = lookup(kStrMethods, name))) break;
            if (listed(kStrOther, name)) fail_unsupported("str method '" + name + "'");
            return false;
        case Type::dict:
            if ((m = lookup(kDictMethods, name))) break;
            if (listed(kDictUnsafe, name)) {
                out = unsafe(obj, name);
                return true;
            }
            if (listed(kDictOther, name)) fail_unsupported("dict method '" + name + "'");
            return false;
        case Type::sequence:
            if (obj.is_list() || obj.is_tuple()) {
                if ((m = lookup(kListMethods, name)) && (obj.is_list() || name != "copy")) break;
                m = nullptr;
                if (obj.is_list() && listed(kListUnsafe, name)) {
                    out = unsafe(obj, name);
                    return true;
                }
            }
            return false;
        case Type::integer:
        case Type::floating:
        case Type::boolean:
            if (listed(kNumberAttrs, name)) fail_unsupported("number attribute '" + name + "'");
            return false;
        case Type::callable:
            if (obj.fn().is_macro && listed(kMacroAttrs, name))
                fail_unsupported("macro attribute '" + name + "'");
            return false;
        default:
            return false;
    }
    out = make_bound(obj, m->name, m->fn);
    return true;
}

}  // namespace slim::jinja
