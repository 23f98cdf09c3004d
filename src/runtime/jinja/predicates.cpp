// jinja2's tests (`x is defined`, `x is mapping`, ...), tests.py of 3.1,
// with the Python type checks they make.
#include <algorithm>

#include "runtime/jinja/failure.h"
#include "runtime/jinja/format.h"
#include "runtime/jinja/interpreter.h"
#include "runtime/jinja/unicode.h"

namespace slim::jinja {

namespace {

const Value& arg0(const CallArgs& a, const char* what) {
    auto p = bind_args(a, what, {"other"});
    if (!p.given(0)) fail_type(std::string(what) + "() missing 1 required positional argument");
    return a.args.empty() ? a.kwargs[0].second : a.args[0];
}

void no_args(const CallArgs& a, const char* what) {
    bind_args(a, what, {});
}

bool t_defined(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "defined");
    return !v.is_undefined();
}
bool t_undefined(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "undefined");
    return v.is_undefined();
}
bool t_none(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "none");
    return v.is_none();
}
bool t_boolean(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "boolean");
    return v.is_bool();
}
bool t_false(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "false");
    return v.is_bool() && !v.as_bool();
}
bool t_true(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "true");
    return v.is_bool() && v.as_bool();
}
bool t_integer(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "integer");
    return v.is_int();
}
bool t_float(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "float");
    return v.is_float();
}
bool t_number(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "number");
    return v.is_number();
}
bool t_string(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "string");
    return v.is_string();
}
bool t_mapping(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "mapping");
    return v.is_dict();
}
// len() and __getitem__: str, list, tuple, range, dict, and Undefined.
bool t_sequence(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "sequence");
    if (v.is_undefined() || v.is_string() || v.is_dict()) return true;
    return v.is_list() || v.is_tuple() || (v.is_sequence() && v.seq().kind == SeqKind::range);
}
bool t_iterable(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "iterable");
    return v.is_undefined() || v.is_string() || v.is_sequence() || v.is_dict() || v.is_loop();
}
bool t_callable(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "callable");
    return v.is_callable() || v.is_undefined() || v.is_loop();
}
bool t_escaped(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "escaped");
    return v.is_markup();
}

Value mod2(Interpreter& in, const Value& v, const Value& n) {
    return binary_op(in, BinOp::mod, v, n);
}

bool t_odd(Interpreter& in, const Value& v, CallArgs& a) {
    no_args(a, "odd");
    return equal(mod2(in, v, Value::integer(2)), Value::integer(1));
}
bool t_even(Interpreter& in, const Value& v, CallArgs& a) {
    no_args(a, "even");
    return equal(mod2(in, v, Value::integer(2)), Value::integer(0));
}
bool t_divisibleby(Interpreter& in, const Value& v, CallArgs& a) {
    return equal(mod2(in, v, arg0(a, "divisibleby")), Value::integer(0));
}

bool t_lower(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "lower");
    bool cased = false;
    for (char32_t c : utf8_decode(to_str(v))) {
        if (is_upper(c)) return false;
        cased = cased || is_lower(c);
    }
    return cased;
}
bool t_upper(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "upper");
    bool cased = false;
    for (char32_t c : utf8_decode(to_str(v))) {
        if (is_lower(c)) return false;
        cased = cased || is_upper(c);
    }
    return cased;
}

bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
    const Value& other = arg0(a, "sameas");
    if (v.type() != other.type()) return false;
    switch (v.type()) {
        case Type::none:
            return true;
        case Type::boolean:
            return v.as_bool() == other.as_bool();
        // CPython caches the small integers, so equal ones are the same object.
        case Type::integer:
            return v.as_int() == other.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
        case Type::floating:
        case Type::undefined:
            return false;
        default:
            return v.identity() == other.identity();
    }
}

bool t_in(Interpreter& in, const Value& v, CallArgs& a) {
    return contains(in, arg0(a, "in"), v);
}
bool t_eq(Interpreter&, const Value& v, CallArgs& a) {
    return equal(v, arg0(a, "eq"));
}
bool t_ne(Interpreter&, const Value& v, CallArgs& a) {
    return !equal(v, arg0(a, "ne"));
}
bool t_lt(Interpreter&, const Value& v, CallArgs& a) {
    return less(v, arg0(a, "lt"));
}
bool t_gt(Interpreter&, const Value& v, CallArgs& a) {
    return less(arg0(a, "gt"), v);
}
bool t_le(Interpreter&, const Value& v, CallArgs& a) {
    const Value& o = arg0(a, "le");
    return less(v, o) || equal(v, o);
}
bool t_ge(Interpreter&, const Value& v, CallArgs& a) {
    const Value& o = arg0(a, "ge");
    return less(o, v) || equal(v, o);
}

bool t_filter(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "filter");
    const FilterDef* def = nullptr;
    return v.is_string() && find_filter(v.str(), def) != Lookup::unknown;
}
bool t_test(Interpreter&, const Value& v, CallArgs& a) {
    no_args(a, "test");
    const TestDef* def = nullptr;
    return v.is_string() && find_test(v.str(), def) != Lookup::unknown;
}

constexpr TestDef kTests[] = {
    {"odd", t_odd},
    {"even", t_even},
    {"divisibleby", t_divisibleby},
    {"defined", t_defined},
    {"undefined", t_undefined},
    {"filter", t_filter},
    {"test", t_test},
    {"none", t_none},
    {"boolean", t_boolean},
    {"false", t_false},
    {"true", t_true},
    {"integer", t_integer},
    {"float", t_float},
    {"lower", t_lower},
    {"upper", t_upper},
    {"string", t_string},
    {"mapping", t_mapping},
    {"number", t_number},
    {"sequence", t_sequence},
    {"iterable", t_iterable},
    {"callable", t_callable},
    {"sameas", t_sameas},
    {"escaped", t_escaped},
    {"in", t_in},
    {"==", t_eq},
    {"eq", t_eq},
    {"equalto", t_eq},
    {"!=", t_ne},
    {"ne", t_ne},
    {">", t_gt},
    {"gt", t_gt},
    {"greaterthan", t_gt},
    {"ge", t_ge},
    {">=", t_ge},
    {"<", t_lt},
    {"lt", t_lt},
    {"lessthan", t_lt},
    {"<=", t_le},
    {"le", t_le},
};

}  // namespace

Lookup find_test(std::string_view name, const TestDef*& def) {
    def = nullptr;
    for (const auto& t : kTests) {
        if (t.name == name) {
            def = &t;
            return Lookup::found;
        }
    }
    return Lookup::unknown;
}

}  // namespace slim::jinja
