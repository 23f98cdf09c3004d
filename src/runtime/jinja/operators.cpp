// Python's operators on template values: arithmetic with int/float/bool
// promotion and floor semantics, str and list concatenation and repetition,
// Markup's escaping `+`, comparisons, `in`, slicing.
//
// Integers are 64-bit; where Python would grow a big integer slim fails with
// `unsupported` rather than wrap.
#include <cmath>

#include <fmt/format.h>

#include "runtime/jinja/failure.h"
#include "runtime/jinja/format.h"
#include "runtime/jinja/interpreter.h"
#include "runtime/jinja/unicode.h"

namespace slim::jinja {

namespace {

const char* op_symbol(BinOp op) {
    switch (op) {
        case BinOp::add:
            return "+";
        case BinOp::sub:
            return "-";
        case BinOp::mul:
            return "*";
        case BinOp::div:
            return "/";
        case BinOp::floordiv:
            return "//";
        case BinOp::mod:
            return "%";
        case BinOp::pow:
            return "** or pow()";
    }
    return "?";
}

[[noreturn]] void bad_operands(BinOp op, const Value& a, const Value& b) {
    fail_type(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op_symbol(op),
                          type_name(a), type_name(b)));
}

[[noreturn]] void int_overflow() {
    fail_unsupported("integer arithmetic beyond 64 bits");
}

using Overflowing = bool (*)(int64_t, int64_t, int64_t*);

// a op b, failing where Python would grow a big integer.
int64_t checked(Overflowing op, int64_t a, int64_t b) {
    int64_t r;
    if (op(a, b, &r)) int_overflow();
    return r;
}
bool add_ovf(int64_t a, int64_t b, int64_t* r) {
    return __builtin_add_overflow(a, b, r);
}
bool sub_ovf(int64_t a, int64_t b, int64_t* r) {
    return __builtin_sub_overflow(a, b, r);
}
bool mul_ovf(int64_t a, int64_t b, int64_t* r) {
    return __builtin_mul_overflow(a, b, r);
}

// CPython's float floor division and modulo (float_divmod).
void float_divmod(double vx, double wx, double& floordiv, double& mod) {
    if (wx == 0.0) fail_value("float floor division by zero");
    mod = std::fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod != 0.0) {
        if ((wx < 0) != (mod < 0)) {
            mod += wx;
            div -= 1.0;
        }
    } else {
        mod = std::copysign(0.0, wx);
    }
    if (div != 0.0) {
        floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
    } else {
        floordiv = std::copysign(0.0, vx / wx);
    }
}

Value repeat(Interpreter& in, const Value& seq, int64_t n) {
    if (seq.is_string()) {
        if (n <= 0) return Value::string("", seq.is_markup());
        in.check_size(seq.str().size() * static_cast<size_t>(std::min<int64_t>(n, 1 << 30)));
        std::string out;
        for (int64_t i = 0; i < n; ++i) out += seq.str();
        return Value::string(std::move(out), seq.is_markup());
    }
    std::vector<Value> out;
    if (n > 0) {
        in.check_size(seq.items().size() * static_cast<size_t>(std::min<int64_t>(n, 1 << 30)));
        for (int64_t i = 0; i < n; ++i)
            out.insert(out.end(), seq.items().begin(), seq.items().end());
    }
    return Value::list(std::move(out), seq.seq().kind);
}

// printf-style `str % args`, for the conversions templates use.
Value percent_format(const Value& fmt_value, const Value& args) {
    const std::string& f = fmt_value.str();
    std::vector<Value> positional;
    if (args.is_tuple()) {
        positional = args.items();
    } else {
        positional.push_back(args);
    }
    size_t next = 0;
    std::string out;
    for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] != '%') {
            out.push_back(f[i]);
            continue;
        }
        if (++i >= f.size()) fail_value("incomplete format");
        std::string spec;
        while (i < f.size() &&
               std::string_view("0123456789.-+ #").find(f[i]) != std::string_view::npos)
            spec.push_back(f[i++]);
        if (i >= f.size()) fail_value("incomplete format");
        char conv = f[i];
        if (conv == '%' && spec.empty()) {
            out.push_back('%');
            continue;
        }
        if (next >= positional.size()) fail_type("not enough arguments for format string");
        const Value& v = positional[next++];
        if (conv == 's' && spec.empty()) {
            out += to_str(v);
        } else if (conv == 'r' && spec.empty()) {
            out += repr(v);
        } else if ((conv == 'd' || conv == 'i') && spec.empty() && v.is_number()) {
            out += int_str(v.is_float() ? static_cast<int64_t>(v.as_float()) : v.int_value());
        } else {
            fail_unsupported("'%" + spec + conv + "' in string formatting with %");
        }
    }
    // Python ignores unused arguments only when they form a mapping (which for
    // it includes lists); a tuple or a single value must be used up.
    bool mapping = args.is_dict() || args.is_list() || args.is_undefined();
    if (next < positional.size() && !mapping)
        fail_type("not all arguments converted during string formatting");
    return Value::string(std::move(out), fmt_value.is_markup());
}

}  // namespace

Value binary_op(Interpreter& in, BinOp op, const Value& a, const Value& b) {
    // str % args formats, whatever args is (an Undefined too).
    if (op == BinOp::mod && a.is_string()) return percent_format(a, b);
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    if (a.is_number() && b.is_number()) {
        bool ints = !a.is_float() && !b.is_float();
        int64_t x = a.int_value(), y = b.int_value();
        double fx = a.number_value(), fy = b.number_value();
        switch (op) {
            case BinOp::add:
                if (ints) return Value::integer(checked(add_ovf, x, y));
                return Value::floating(fx + fy);
            case BinOp::sub:
                if (ints) return Value::integer(checked(sub_ovf, x, y));
                return Value::floating(fx - fy);
            case BinOp::mul:
                if (ints) return Value::integer(checked(mul_ovf, x, y));
                return Value::floating(fx * fy);
            case BinOp::div:
                if (fy == 0.0) fail_value("division by zero");
                return Value::floating(fx / fy);
            case BinOp::floordiv:
            case BinOp::mod: {
                if (ints) {
                    if (y == 0) fail_value("integer division or modulo by zero");
                    if (x == INT64_MIN && y == -1) int_overflow();
                    int64_t q = x / y, m = x % y;
                    if (m != 0 && ((m < 0) != (y < 0))) {
                        m += y;
                        q -= 1;
                    }
                    return Value::integer(op == BinOp::floordiv ? q : m);
                }
                double q, m;
                float_divmod(fx, fy, q, m);
                return Value::floating(op == BinOp::floordiv ? q : m);
            }
            case BinOp::pow:
                if (ints && y >= 0) {
                    int64_t result = 1, base = x;
                    for (int64_t e = y; e > 0; e >>= 1) {
                        if (e & 1) result = checked(mul_ovf, result, base);
                        if (e > 1) base = checked(mul_ovf, base, base);
                    }
                    return Value::integer(result);
                }
                if (fx == 0.0 && fy < 0) fail_value("0.0 cannot be raised to a negative power");
                if (fx < 0 && fy != std::floor(fy))
                    fail_unsupported("complex result of a fractional power");
                return Value::floating(std::pow(fx, fy));
        }
    }
    if (a.is_string() && b.is_string()) {
        if (op == BinOp::add) {
            in.check_size(a.str().size() + b.str().size());
            // Markup escapes the plain string it is added to.
            if (a.is_markup() || b.is_markup()) {
                std::string l = a.is_markup() ? a.str() : html_escape(a.str());
                std::string r = b.is_markup() ? b.str() : html_escape(b.str());
                return Value::string(l + r, true);
            }
            return Value::string(a.str() + b.str());
        }
        bad_operands(op, a, b);
    }
    if (op == BinOp::mul) {
        bool a_seq = a.is_string() || a.is_list() || a.is_tuple();
        bool b_seq = b.is_string() || b.is_list() || b.is_tuple();
        if (a_seq && (b.is_int() || b.is_bool())) return repeat(in, a, b.int_value());
        if (b_seq && (a.is_int() || a.is_bool())) return repeat(in, b, a.int_value());
    }
    if (op == BinOp::add && a.is_sequence() && b.is_sequence()) {
        bool list = a.is_list() && b.is_list(), tuple = a.is_tuple() && b.is_tuple();
        if (list || tuple) {
            in.check_size(a.items().size() + b.items().size());
            std::vector<Value> out = a.items();
            out.insert(out.end(), b.items().begin(), b.items().end());
            return Value::list(std::move(out), a.seq().kind);
        }
        fail_type(fmt::format("can only concatenate {} (not \"{}\") to {}", type_name(a),
                              type_name(b), type_name(a)));
    }
    bad_operands(op, a, b);
}

Value negate(const Value& v, bool minus) {
    if (v.is_undefined()) fail_undefined(v);
    if (v.is_float()) return Value::floating(minus ? -v.as_float() : v.as_float());
    if (v.is_int() || v.is_bool()) {
        int64_t i = v.int_value();
        if (!minus) return Value::integer(i);
        if (i == INT64_MIN) int_overflow();
        return Value::integer(-i);
    }
    fail_type(fmt::format("bad operand type for unary {}: '{}'", minus ? "-" : "+", type_name(v)));
}

bool less(const Value& a, const Value& b) {
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    if (a.is_number() && b.is_number()) {
        if (!a.is_float() && !b.is_float()) return a.int_value() < b.int_value();
        return a.number_value() < b.number_value();
    }
    if (a.is_string() && b.is_string()) return a.str() < b.str();
    if ((a.is_list() && b.is_list()) || (a.is_tuple() && b.is_tuple())) {
        const auto& x = a.items();
        const auto& y = b.items();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i)
            if (!equal(x[i], y[i])) return less(x[i], y[i]);
        return x.size() < y.size();
    }
    fail_type(fmt::format("'<' not supported between instances of '{}' and '{}'", type_name(a),
                          type_name(b)));
}

bool contains(Interpreter& in, const Value& container, const Value& item) {
    switch (container.type()) {
        case Type::undefined:
            return false;
        case Type::string:
            if (!item.is_string())
                fail_type("'in <string>' requires string as left operand, not " + type_name(item));
            return container.str().find(item.str()) != std::string::npos;
        case Type::dict:
            if (!hashable(item)) fail_type("unhashable type: '" + type_name(item) + "'");
            return container.dict().find(item) != nullptr;
        case Type::sequence: {
            if (container.seq().kind == SeqKind::generator) {
                // Consumes the generator up to the match, as Python does.
                const Sequence& seq = container.seq();
                while (seq.consumed < seq.items.size())
                    if (equal(seq.items[seq.consumed++], item)) return true;
                return false;
            }
            for (const auto& v : container.items())
                if (equal(v, item)) return true;
            return false;
        }
        default:
            (void)in;
            fail_type("argument of type '" + type_name(container) + "' is not iterable");
    }
}

static std::optional<int64_t> slice_index(const Value& v) {
    if (v.is_none()) return std::nullopt;
    if (v.is_int() || v.is_bool()) return v.int_value();
    fail_type("slice indices must be integers or None or have an __index__ method");
}

Value slice_value(const Value& obj, const Value& start_v, const Value& stop_v,
                  const Value& step_v) {
    auto start_o = slice_index(start_v), stop_o = slice_index(stop_v), step_o = slice_index(step_v);
    int64_t step = step_o.value_or(1);
    if (step == 0) fail_value("slice step cannot be zero");
    bool ascii = obj.is_string() && is_ascii(obj.str());
    std::u32string cps;
    if (obj.is_string() && !ascii) cps = utf8_decode(obj.str());
    auto n = static_cast<int64_t>(obj.is_string() ? (ascii ? obj.str().size() : cps.size())
                                                  : obj.items().size());
    // CPython's PySlice_AdjustIndices.
    auto adjust = [&](std::optional<int64_t> v, int64_t def) {
        if (!v) return def;
        int64_t i = *v;
        if (i < 0) {
            i += n;
            if (i < 0) i = step < 0 ? -1 : 0;
        } else if (i >= n) {
            i = step < 0 ? n - 1 : n;
        }
        return i;
    };
    int64_t start = adjust(start_o, step < 0 ? n - 1 : 0);
    int64_t stop = adjust(stop_o, step < 0 ? -1 : n);
    if (step == INT64_MIN) step = -INT64_MAX;  // the same slice of any real sequence
    int64_t len = 0;
    if (step > 0 && start < stop) len = (stop - start - 1) / step + 1;
    if (step < 0 && stop < start) len = (start - stop - 1) / (-step) + 1;
    std::vector<int64_t> idx;
    for (int64_t k = 0; k < len; ++k) idx.push_back(start + k * step);
    if (obj.is_string()) {
        std::string out;
        for (int64_t i : idx) {
            if (ascii) {
                out.push_back(obj.str()[static_cast<size_t>(i)]);
            } else {
                utf8_append(out, cps[static_cast<size_t>(i)]);
            }
        }
        return Value::string(std::move(out), obj.is_markup());
    }
    std::vector<Value> out;
    for (int64_t i : idx) out.push_back(obj.items()[static_cast<size_t>(i)]);
    return Value::list(std::move(out), obj.seq().kind);
}

Value concat_str(Interpreter& in, const std::vector<Value>& parts) {
    std::string out;
    for (const auto& p : parts) {
        std::string s = to_str(p);
        in.check_size(out.size() + s.size());
        out += s;
    }
    return Value::string(std::move(out));
}

}  // namespace slim::jinja
