// jinja2's filters (filters.py, 3.1) with autoescape off, and transformers'
// `tojson`. Filters that return a generator in jinja2 (map, select, reject,
// selectattr, rejectattr, unique, items, batch, reverse of a sequence)
// return one here too: always true, no length, consumed by iteration.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "runtime/jinja/failure.h"
#include "runtime/jinja/format.h"
#include "runtime/jinja/interpreter.h"
#include "runtime/jinja/unicode.h"

namespace slim::jinja {

namespace {

Value generator(std::vector<Value> items) {
    return Value::list(std::move(items), SeqKind::generator);
}

// markupsafe.soft_str: strings (Markup included) stay, others become str().
Value soft_str(const Value& v) {
    return v.is_string() ? v : Value::string(to_str(v));
}

int64_t int_arg(const Value& v, int64_t def, const char* what) {
    if (v.is_undefined() || v.is_none()) return def;
    if (v.is_int() || v.is_bool()) return v.int_value();
    fail_type(
        fmt::format("'{}' object cannot be interpreted as an integer ({})", type_name(v), what));
}

// jinja2's make_attrgetter: "a.b.0" walks items, digits as integers.
Value get_attribute_path(Interpreter& in, const Value& item, const Value& attribute) {
    if (attribute.is_none() || attribute.is_undefined()) return item;
    if (!attribute.is_string()) return in.getitem(item, attribute);
    Value cur = item;
    const std::string& path = attribute.str();
    size_t pos = 0;
    while (true) {
        size_t dot = path.find('.', pos);
        std::string part =
            path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
        cur = digits && part.size() < 18 ? in.getitem(cur, Value::integer(std::stoll(part)))
                                         : in.getitem(cur, Value::string(part));
        if (dot == std::string::npos) break;
        pos = dot + 1;
    }
    return cur;
}

Value ignore_case(const Value& v) {
    return v.is_string() ? Value::string(to_lower(v.str())) : v;
}

Value f_abs(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "abs", {});
    if (v.is_float()) return Value::floating(std::fabs(v.as_float()));
    if (v.is_int() || v.is_bool()) {
        if (v.int_value() == INT64_MIN) fail_unsupported("integer arithmetic beyond 64 bits");
        return Value::integer(std::llabs(v.int_value()));
    }
    if (v.is_undefined()) fail_undefined(v);
    fail_type("bad operand type for abs(): '" + type_name(v) + "'");
}

Value f_attr(Interpreter& in, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "attr", {"name"});
    if (!p[0].is_string()) fail_type("attribute name must be string");
    if (v.is_undefined()) fail_undefined(v);
    Value method;
    if (v.is_namespace() || v.is_loop()) return in.getattr(v, p[0].str());
    if (find_method(v, p[0].str(), method)) return method;
    return Value::undefined(
        fmt::format("'{}' has no attribute '{}'", object_type_repr(v), p[0].str()));
}

Value f_batch(Interpreter& in, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "batch", {"linecount", "fill_with"});
    int64_t n = int_arg(p[0], 0, "linecount");
    std::vector<Value> out, tmp;
    for (auto& item : in.iterate(v)) {
        if (static_cast<int64_t>(tmp.size()) == n) {
            out.push_back(Value::list(std::move(tmp)));
            tmp.clear();
        }
        tmp.push_back(item);
    }
    if (!tmp.empty()) {
        if (p.given(1) && !p[1].is_none())
            while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(p[1]);
        out.push_back(Value::list(std::move(tmp)));
    }
    return generator(std::move(out));
}

Value f_capitalize(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "capitalize", {});
    Value s = soft_str(v);
    return Value::string(capitalize(s.str()), s.is_markup());
}

Value f_center(Interpreter& in, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "center", {"width"});
    int64_t width = int_arg(p[0], 80, "width");
    Value s = soft_str(v);
    auto len = static_cast<int64_t>(utf8_length(s.str()));
    if (width <= len) return s;
    in.check_size(static_cast<size_t>(width));
    int64_t total = width - len, left = total / 2 + (total & width & 1);
    return Value::string(std::string(static_cast<size_t>(left), ' ') + s.str() +
                             std::string(static_cast<size_t>(total - left), ' '),
                         s.is_markup());
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "default", {"default_value", "boolean"});
    if (v.is_undefined() || (truthy(p[1]) && !truthy(v)))
        return p.given(0) ? p[0] : Value::string("");
    return v;
}

// Python's sorted() on keys, stable, `reverse` keeping equal items in order.
std::vector<Value> sort_by(std::vector<Value> items, const std::vector<Value>& keys, bool reverse) {
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
        return reverse ? less(keys[y], keys[x]) : less(keys[x], keys[y]);
    });
    std::vector<Value> out;
    out.reserve(items.size());
    for (size_t i : order) out.push_back(std::move(items[i]));
    return out;
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "dictsort", {"case_sensitive", "by", "reverse"});
    if (!v.is_dict()) {
        if (v.is_undefined()) fail_undefined(v);
        fail_type(fmt::format("'{}' object has no attribute 'items'", type_name(v)));
    }
    std::string by = p.given(1) ? to_str(p[1]) : "key";
    if (by != "key" && by != "value")
        fail_value("You can only sort by either \"key\" or \"value\"");
    size_t pos = by == "key" ? 0 : 1;
    std::vector<Value> items, keys;
    for (const auto& [k, val] : v.dict().items) {
        items.push_back(Value::list({k, val}, SeqKind::tuple));
        const Value& key = pos == 0 ? k : val;
        keys.push_back(truthy(p[0]) ? key : ignore_case(key));
    }
    return Value::list(sort_by(std::move(items), keys, truthy(p[2])));
}

Value f_escape(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "escape", {});
    if (v.is_markup()) return v;
    return Value::string(html_escape(to_str(v)), true);
}

Value f_forceescape(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "forceescape", {});
    return Value::string(html_escape(to_str(v)), true);
}

Value f_first(Interpreter& in, const Value& v, CallArgs& a) {
    bind_args(a, "first", {});
    if (v.is_sequence() && v.seq().kind == SeqKind::generator) {
        const Sequence& seq = v.seq();
        if (seq.consumed < seq.items.size()) return seq.items[seq.consumed++];
    } else {
        std::vector<Value> items = in.iterate(v);
        if (!items.empty()) return items.front();
    }
    return Value::undefined("No first item, sequence was empty.");
}

Value f_last(Interpreter& in, const Value& v, CallArgs& a) {
    bind_args(a, "last", {});
    if (v.is_sequence() && v.seq().kind == SeqKind::generator)
        fail_type("'generator' object is not reversible");
    if (v.is_none() || v.is_number())
        fail_type(fmt::format("'{}' object is not reversible", type_name(v)));
    std::vector<Value> items = in.iterate(v);
    if (!items.empty()) return items.back();
    return Value::undefined("No last item, sequence was empty.");
}

// Python's float(str): surrounding whitespace, underscores between digits,
// inf/nan words.
bool parse_py_float(const std::string& raw, double& out) {
    std::string s = strip(raw, nullptr, true, true);
    std::string t;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_') {
            if (i == 0 || i + 1 >= s.size() || !isdigit(static_cast<unsigned char>(s[i - 1])) ||
                !isdigit(static_cast<unsigned char>(s[i + 1])))
                return false;
            continue;
        }
        t.push_back(s[i]);
    }
    if (t.empty()) return false;
    std::string lower = to_lower(t);
    size_t sign = lower[0] == '+' || lower[0] == '-' ? 1 : 0;
    std::string word = lower.substr(sign);
    if (word == "inf" || word == "infinity" || word == "nan") {
        out = word == "nan" ? NAN : INFINITY;
        if (lower[0] == '-') out = -out;
        return true;
    }
    for (char c : t)
        if (!(isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
              c == '+' || c == '-'))
            return false;
    char* end = nullptr;
    out = std::strtod(t.c_str(), &end);
    return end == t.c_str() + t.size();
}

// Python's int(str, 10).
bool parse_py_int(const std::string& raw, int64_t& out) {
    std::string s = strip(raw, nullptr, true, true);
    size_t i = 0;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i >= s.size()) return false;
    __int128 v = 0;
    bool digit_before = false;
    for (; i < s.size(); ++i) {
        char c = s[i];
        if (c == '_' && digit_before && i + 1 < s.size() &&
            isdigit(static_cast<unsigned char>(s[i + 1])))
            continue;
        if (!isdigit(static_cast<unsigned char>(c))) return false;
        v = v * 10 + (c - '0');
        if (v > (__int128)INT64_MAX + 1) fail_unsupported("integer beyond 64 bits");
        digit_before = true;
    }
    if (neg) v = -v;
    if (v > INT64_MAX) fail_unsupported("integer beyond 64 bits");
    out = static_cast<int64_t>(v);
    return true;
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "float", {"default"});
    Value def = p.given(0) ? p[0] : Value::floating(0.0);
    if (v.is_undefined()) fail_undefined(v);
    if (v.is_number()) return Value::floating(v.number_value());
    double d;
    if (v.is_string() && parse_py_float(v.str(), d)) return Value::floating(d);
    return def;
}

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "int", {"default", "base"});
    Value def = p.given(0) ? p[0] : Value::integer(0);
    if (v.is_undefined()) fail_undefined(v);
    if (p.given(1) && !(p[1].is_int() && p[1].as_int() == 10))
        fail_unsupported("int filter with a base other than 10");
    if (v.is_int() || v.is_bool()) return Value::integer(v.int_value());
    double d;
    if (v.is_float()) {
        d = v.as_float();
    } else if (v.is_string()) {
        int64_t i;
        if (parse_py_int(v.str(), i)) return Value::integer(i);
        if (!parse_py_float(v.str(), d)) return def;
    } else {
        return def;
    }
    if (std::isnan(d) || std::isinf(d)) return def;
    if (std::fabs(d) >= 9.2e18) fail_unsupported("integer beyond 64 bits");
    return Value::integer(static_cast<int64_t>(d));
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "indent", {"width", "first", "blank"});
    std::string indention;
    if (p[0].is_string()) {
        indention = p[0].str();
    } else {
        int64_t w = int_arg(p[0], 4, "width");
        if (w > 0) indention.assign(static_cast<size_t>(w), ' ');
    }
    if (v.is_undefined()) fail_undefined(v);
    if (!v.is_string())
        fail_type("unsupported operand type(s) for +=: '" + type_name(v) + "' and 'str'");
    // As jinja2: add a newline, then split lines (str.splitlines rules).
    CallArgs none;
    Value with_nl = Value::string(v.str() + "\n", v.is_markup());
    Value split;
    find_method(with_nl, "splitlines", split);
    std::vector<Value> lines = in.call(split, none).items();
    std::string rv;
    if (truthy(p[2])) {
        for (size_t i = 0; i < lines.size(); ++i) {
            if (i) rv += "\n" + indention;
            rv += lines[i].str();
        }
    } else {
        rv = lines.empty() ? "" : lines[0].str();
        for (size_t i = 1; i < lines.size(); ++i) {
            rv += "\n";
            if (!lines[i].str().empty()) rv += indention;
            rv += lines[i].str();
        }
    }
    if (truthy(p[1])) rv = indention + rv;
    in.check_size(rv.size());
    return Value::string(std::move(rv), v.is_markup());
}

Value f_items(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "items", {});
    if (v.is_undefined()) return generator({});
    if (!v.is_dict()) fail_type("Can only get item pairs from a mapping.");
    std::vector<Value> out;
    for (const auto& [k, val] : v.dict().items)
        out.push_back(Value::list({k, val}, SeqKind::tuple));
    return generator(std::move(out));
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "join", {"d", "attribute"});
    std::string sep = p.given(0) ? to_str(p[0]) : "";
    std::string out;
    bool first = true;
    for (const auto& item : in.iterate(v)) {
        if (!first) out += sep;
        first = false;
        out += to_str(p.given(1) ? get_attribute_path(in, item, p[1]) : item);
        in.check_size(out.size());
    }
    return Value::string(std::move(out));
}

Value f_length(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "length", {});
    switch (v.type()) {
        case Type::undefined:
            return Value::integer(0);
        case Type::string:
            return Value::integer(static_cast<int64_t>(utf8_length(v.str())));
        case Type::dict:
            return Value::integer(static_cast<int64_t>(v.dict().items.size()));
        case Type::loop:
            return Value::integer(static_cast<int64_t>(v.loop_state().items.size()));
        case Type::sequence:
            if (v.seq().kind != SeqKind::generator)
                return Value::integer(static_cast<int64_t>(v.items().size()));
            break;
        default:
            break;
    }
    fail_type("object of type '" + type_name(v) + "' has no len()");
}

Value f_list(Interpreter& in, const Value& v, CallArgs& a) {
    bind_args(a, "list", {});
    return Value::list(in.iterate(v));
}

Value f_lower(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "lower", {});
    Value s = soft_str(v);
    return Value::string(to_lower(s.str()), s.is_markup());
}

Value f_upper(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "upper", {});
    Value s = soft_str(v);
    return Value::string(to_upper(s.str()), s.is_markup());
}

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
    if (!truthy(v)) return generator({});
    std::vector<Value> out;
    if (a.args.empty()) {
        auto p = bind_args(a, "map", {"attribute", "default"});
        if (!p.given(0)) fail_runtime("map requires a filter argument");
        for (const auto& item : in.iterate(v)) {
            Value r = get_attribute_path(in, item, p[0]);
            if (r.is_undefined() && p.given(1) && !p[1].is_none()) r = p[1];
            out.push_back(r);
        }
        return generator(std::move(out));
    }
    if (!a.args[0].is_string()) fail_type("filter name must be a string");
    std::string name = a.args[0].str();
    CallArgs rest;
    rest.args.assign(a.args.begin() + 1, a.args.end());
    rest.kwargs = a.kwargs;
    for (const auto& item : in.iterate(v)) {
        CallArgs copy = rest;
        out.push_back(in.apply_filter(name, item, copy));
    }
    return generator(std::move(out));
}

Value select_or_reject(Interpreter& in, const Value& v, CallArgs& a, bool select, bool attr) {
    if (!truthy(v)) return generator({});
    size_t off = 0;
    Value attribute;
    if (attr) {
        if (a.args.empty()) fail_runtime("Missing parameter for attribute name");
        attribute = a.args[0];
        off = 1;
    }
    bool has_test = a.args.size() > off;
    std::string test_name;
    if (has_test) {
        if (!a.args[off].is_string()) fail_type("test name must be a string");
        test_name = a.args[off].str();
    }
    CallArgs rest;
    if (has_test)
        rest.args.assign(a.args.begin() + static_cast<std::ptrdiff_t>(off + 1), a.args.end());
    rest.kwargs = a.kwargs;
    std::vector<Value> out;
    for (const auto& item : in.iterate(v)) {
        Value subject = attr ? get_attribute_path(in, item, attribute) : item;
        bool ok;
        if (has_test) {
            CallArgs copy = rest;
            ok = in.apply_test(test_name, subject, copy);
        } else {
            ok = truthy(subject);
        }
        if (ok == select) out.push_back(item);
    }
    return generator(std::move(out));
}
Value f_select(Interpreter& in, const Value& v, CallArgs& a) {
    return select_or_reject(in, v, a, true, false);
}
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) {
    return select_or_reject(in, v, a, false, false);
}
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) {
    return select_or_reject(in, v, a, true, true);
}
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) {
    return select_or_reject(in, v, a, false, true);
}

Value min_max(Interpreter& in, const Value& v, CallArgs& a, bool is_max) {
    auto p = bind_args(a, is_max ? "max" : "min", {"case_sensitive", "attribute"});
    std::vector<Value> items = in.iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    auto key = [&](const Value& item) {
        Value k = p.given(1) ? get_attribute_path(in, item, p[1]) : item;
        return truthy(p[0]) ? k : ignore_case(k);
    };
    size_t best = 0;
    Value best_key = key(items[0]);
    for (size_t i = 1; i < items.size(); ++i) {
        Value k = key(items[i]);
        if (is_max ? less(best_key, k) : less(k, best_key)) {
            best = i;
            best_key = k;
        }
    }
    return items[best];
}
Value f_min(Interpreter& in, const Value& v, CallArgs& a) {
    return min_max(in, v, a, false);
}
Value f_max(Interpreter& in, const Value& v, CallArgs& a) {
    return min_max(in, v, a, true);
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "replace", {"old", "new", "count"});
    CallArgs call;
    call.args = {Value::string(to_str(p[0])), Value::string(to_str(p[1]))};
    if (p.given(2) && !p[2].is_none()) call.args.push_back(p[2]);
    Value method;
    find_method(Value::string(to_str(v)), "replace", method);
    return in.call(method, call);
}

Value f_reverse(Interpreter& in, const Value& v, CallArgs& a) {
    bind_args(a, "reverse", {});
    if (v.is_string()) {
        std::u32string cps = utf8_decode(v.str());
        std::reverse(cps.begin(), cps.end());
        return Value::string(utf8_encode(cps), v.is_markup());
    }
    if (v.is_none() || v.is_number()) fail_runtime("argument must be iterable");
    std::vector<Value> items = in.iterate(v);
    std::reverse(items.begin(), items.end());
    // reversed() gives an iterator; only a generator argument becomes a list.
    bool was_generator = v.is_sequence() && v.seq().kind == SeqKind::generator;
    return Value::list(std::move(items), was_generator ? SeqKind::list : SeqKind::generator);
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "round", {"precision", "method"});
    int64_t precision = int_arg(p[0], 0, "precision");
    std::string method = p.given(1) ? to_str(p[1]) : "common";
    if (method != "common" && method != "ceil" && method != "floor")
        fail_runtime("method must be common, ceil or floor");
    if (v.is_undefined()) fail_undefined(v);
    if (!v.is_number()) fail_type("type " + type_name(v) + " doesn't define __round__ method");
    if (method == "common") {
        if (!v.is_float()) {
            if (precision >= 0) return Value::integer(v.int_value());
            fail_unsupported("round of an integer to negative precision");
        }
        double d = v.as_float();
        if (!std::isfinite(d) || precision > 300) return v;
        if (precision < 0) fail_unsupported("round to negative precision");
        // printf rounds the exact binary value half to even, as CPython's round.
        char buf[512];
        std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), d);
        return Value::floating(std::strtod(buf, nullptr));
    }
    double scale = std::pow(10.0, static_cast<double>(precision));
    double x = v.number_value() * scale;
    return Value::floating((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value f_safe(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "safe", {});
    return Value::string(to_str(v), true);
}

Value f_sort(Interpreter& in, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "sort", {"reverse", "case_sensitive", "attribute"});
    std::vector<Value> items = in.iterate(v);
    std::vector<Value> keys;
    for (const auto& item : items) {
        // jinja2 sorts by a list of keys (one per comma-separated attribute),
        // so equal items compare with == and never reach <.
        std::vector<Value> parts;
        if (!p.given(2) || p[2].is_none() || !p[2].is_string()) {
            Value k = p.given(2) && !p[2].is_none() ? get_attribute_path(in, item, p[2]) : item;
            parts.push_back(truthy(p[1]) ? k : ignore_case(k));
            keys.push_back(Value::list(std::move(parts)));
            continue;
        }
        const std::string& attrs = p[2].str();
        size_t pos = 0;
        while (true) {
            size_t comma = attrs.find(',', pos);
            Value k = get_attribute_path(
                in, item,
                Value::string(attrs.substr(pos, comma == std::string::npos ? comma : comma - pos)));
            parts.push_back(truthy(p[1]) ? k : ignore_case(k));
            if (comma == std::string::npos) break;
            pos = comma + 1;
        }
        keys.push_back(Value::list(std::move(parts)));
    }
    return Value::list(sort_by(std::move(items), keys, truthy(p[0])));
}

Value f_string(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "string", {});
    return soft_str(v);
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "sum", {"attribute", "start"});
    Value total = p.given(1) ? p[1] : Value::integer(0);
    if (total.is_string()) fail_type("sum() can't sum strings [use ''.join(seq) instead]");
    for (const auto& item : in.iterate(v))
        total =
            binary_op(in, BinOp::add, total,
                      p.given(0) && !p[0].is_none() ? get_attribute_path(in, item, p[0]) : item);
    return total;
}

Value f_title(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "title", {});
    Value s = soft_str(v);
    // jinja2 splits on runs of [-\s({\[<] and capitalises each piece.
    std::u32string in = utf8_decode(s.str());
    auto is_sep = [](char32_t c) {
        return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c);
    };
    std::string out;
    size_t i = 0;
    while (i < in.size()) {
        size_t j = i;
        bool sep = is_sep(in[i]);
        while (j < in.size() && is_sep(in[j]) == sep) ++j;
        std::u32string piece = in.substr(i, j - i);
        if (sep) {
            out += utf8_encode(piece);
        } else {
            out +=
                to_upper(utf8_encode(piece.substr(0, 1))) + to_lower(utf8_encode(piece.substr(1)));
        }
        i = j;
    }
    return Value::string(std::move(out), s.is_markup());
}

Value f_tojson(Interpreter&, const Value& v, CallArgs& a) {
    // transformers: json.dumps(x, ensure_ascii=False, indent=None,
    // separators=None, sort_keys=False).
    auto p = bind_args(a, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonOptions o;
    o.ensure_ascii = truthy(p[0]);
    if (p.given(1) && !p[1].is_none()) {
        if (p[1].is_string()) {
            o.indent = p[1].str();
        } else if (p[1].is_int() || p[1].is_bool()) {
            int64_t n = std::clamp<int64_t>(p[1].int_value(), 0, 1 << 16);
            o.indent = std::string(static_cast<size_t>(n), ' ');
        } else {
            fail_type("indent must be an int or a string");
        }
        o.item_separator = ",";
    }
    if (p.given(2) && !p[2].is_none()) {
        if (!(p[2].is_list() || p[2].is_tuple()) || p[2].items().size() != 2 ||
            !p[2].items()[0].is_string() || !p[2].items()[1].is_string())
            fail_value("separators must be a pair of strings");
        o.item_separator = p[2].items()[0].str();
        o.key_separator = p[2].items()[1].str();
    }
    o.sort_keys = truthy(p[3]);
    return Value::string(json_dumps(v, o));
}

Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "trim", {"chars"});
    Value s = soft_str(v);
    const std::string* chars = nullptr;
    if (p.given(0) && !p[0].is_none()) {
        if (!p[0].is_string()) fail_type("strip arg must be None or str");
        chars = &p[0].str();
    }
    return Value::string(strip(s.str(), chars, true, true), s.is_markup());
}

Value f_unique(Interpreter& in, const Value& v, CallArgs& a) {
    auto p = bind_args(a, "unique", {"case_sensitive", "attribute"});
    std::vector<Value> seen, out;
    for (const auto& item : in.iterate(v)) {
        Value k = p.given(1) && !p[1].is_none() ? get_attribute_path(in, item, p[1]) : item;
        if (!truthy(p[0])) k = ignore_case(k);
        if (!hashable(k)) fail_type("unhashable type: '" + type_name(k) + "'");
        if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, k); })) {
            seen.push_back(k);
            out.push_back(item);
        }
    }
    return generator(std::move(out));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs& a) {
    bind_args(a, "wordcount", {});
    int64_t n = 0;
    bool in_word = false;
    for (char32_t c : utf8_decode(to_str(v))) {
        bool w = c == '_' || is_alpha(c) || is_digit(c);
        if (w && !in_word) ++n;
        in_word = w;
    }
    return Value::integer(n);
}

Value f_format(Interpreter& in, const Value& v, CallArgs& a) {
    if (!a.args.empty() && !a.kwargs.empty())
        fail_runtime("can't handle positional and keyword arguments at the same time");
    if (!a.kwargs.empty()) fail_unsupported("format filter with keyword arguments");
    return binary_op(in, BinOp::mod, soft_str(v), Value::list(a.args, SeqKind::tuple));
}

constexpr FilterDef kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", f_batch},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_forceescape},
    {"format", f_format},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"sort", f_sort},
    {"string", f_string},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"unique", f_unique},
    {"upper", f_upper},
    {"wordcount", f_wordcount},
};

// jinja2's own filters that slim leaves out.
constexpr std::string_view kUnimplemented[] = {
    "filesizeformat", "groupby",   "pprint", "random",   "slice",  "striptags",
    "truncate",       "urlencode", "urlize", "wordwrap", "xmlattr"};

}  // namespace

Lookup find_filter(std::string_view name, const FilterDef*& def) {
    def = nullptr;
    for (const auto& f : kFilters) {
        if (f.name == name) {
            def = &f;
            return Lookup::found;
        }
    }
    for (auto u : kUnimplemented)
        if (u == name) return Lookup::unimplemented;
    return Lookup::unknown;
}

}  // namespace slim::jinja
