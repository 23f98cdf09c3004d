// Argument binding, errors, and the global functions: jinja2's range, dict,
// namespace, joiner (cycler and lipsum are refused), and transformers'
// raise_exception and strftime_now.
#include "runtime/jinja/builtins.h"

#include <ctime>

#include <fmt/format.h>

#include "runtime/jinja/failure.h"
#include "runtime/jinja/format.h"
#include "runtime/jinja/interpreter.h"

namespace slim::jinja {

void fail_type(std::string message) {
    throw Failure(ErrorKind::bad_value, "TypeError", "values of the types the operation takes",
                  std::move(message));
}

void fail_value(std::string message) {
    throw Failure(ErrorKind::bad_value, "ValueError", "a valid value", std::move(message));
}

void fail_undefined(const Value& undefined) {
    const UndefinedInfo& info = undefined.undefined_info();
    if (info.security)
        throw Failure(ErrorKind::bad_value, "SecurityError", "an operation the sandbox allows",
                      info.hint);
    throw Failure(ErrorKind::bad_value, "UndefinedError", "a defined value", info.hint);
}

void fail_unsupported(std::string construct) {
    throw Failure(ErrorKind::unsupported, "unsupported", "a construct slim implements",
                  std::move(construct));
}

void fail_too_large(std::string what) {
    throw Failure(ErrorKind::too_large, "limit", what, "more");
}

void fail_runtime(std::string message) {
    throw Failure(ErrorKind::bad_value, "TemplateRuntimeError", "a valid template operation",
                  std::move(message));
}

Bound bind_args(const CallArgs& call, const std::string& what,
                const std::vector<std::string_view>& params) {
    Bound b;
    b.values.resize(params.size());
    b.given_flags.assign(params.size(), false);
    if (call.args.size() > params.size())
        fail_type(fmt::format("{}() takes at most {} arguments ({} given)", what, params.size(),
                              call.args.size()));
    for (size_t i = 0; i < call.args.size(); ++i) {
        b.values[i] = call.args[i];
        b.given_flags[i] = true;
    }
    for (const auto& [key, value] : call.kwargs) {
        size_t i = 0;
        while (i < params.size() && params[i] != key) ++i;
        if (i == params.size())
            fail_type(fmt::format("{}() got an unexpected keyword argument '{}'", what, key));
        if (b.given_flags[i])
            fail_type(fmt::format("{}() got multiple values for argument '{}'", what, key));
        b.values[i] = value;
        b.given_flags[i] = true;
    }
    return b;
}

namespace {

// Python's dict(*args, **kwargs), which namespace() shares.
Dict make_dict(Interpreter& in, const CallArgs& args, const char* what) {
    Dict d;
    if (args.args.size() > 1)
        fail_type(fmt::format("{} expected at most 1 argument, got {}", what, args.args.size()));
    if (args.args.size() == 1) {
        const Value& src = args.args[0];
        if (src.is_dict()) {
            d = src.dict();
        } else if (src.is_namespace()) {
            fail_type("'Namespace' object is not iterable");
        } else {
            for (const auto& pair : in.iterate(src)) {
                std::vector<Value> kv = in.iterate(pair);
                if (kv.size() != 2)
                    fail_value("dictionary update sequence element has length " +
                               std::to_string(kv.size()) + "; 2 is required");
                if (!hashable(kv[0])) fail_type("unhashable type: '" + type_name(kv[0]) + "'");
                d.set(kv[0], kv[1]);
            }
        }
    }
    for (const auto& [k, v] : args.kwargs) d.set(Value::string(k), v);
    return d;
}

Value g_range(Interpreter&, CallArgs& args) {
    if (!args.kwargs.empty()) fail_type("range() takes no keyword arguments");
    if (args.args.empty() || args.args.size() > 3)
        fail_type(fmt::format("range expected at least 1 argument, got {}", args.args.size()));
    std::vector<int64_t> v;
    for (const auto& a : args.args) {
        if (!a.is_int() && !a.is_bool())
            fail_type(fmt::format("'{}' object cannot be interpreted as an integer", type_name(a)));
        v.push_back(a.int_value());
    }
    int64_t start = v.size() > 1 ? v[0] : 0, stop = v.size() > 1 ? v[1] : v[0];
    int64_t step = v.size() > 2 ? v[2] : 1;
    if (step == 0) fail_value("range() arg 3 must not be zero");
    // jinja2's sandbox refuses ranges longer than MAX_RANGE.
    constexpr int64_t kMaxRange = 100000;
    __int128 len = 0;
    if (step > 0 && start < stop) len = ((__int128)stop - start - 1) / step + 1;
    if (step < 0 && stop < start) len = ((__int128)start - stop - 1) / -(__int128)step + 1;
    if (len > kMaxRange)
        throw Failure(ErrorKind::bad_value, "OverflowError", "a range of at most 100000 items",
                      "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    auto seq = std::make_shared<Sequence>();
    seq->kind = SeqKind::range;
    seq->range_start = start;
    seq->range_stop = stop;
    seq->range_step = step;
    for (int64_t i = 0; i < static_cast<int64_t>(len); ++i)
        seq->items.push_back(Value::integer(start + i * step));
    return Value::sequence(std::move(seq));
}

Value g_dict(Interpreter& in, CallArgs& args) {
    return Value::dict(make_dict(in, args, "dict"));
}

Value g_namespace(Interpreter& in, CallArgs& args) {
    auto ns = in.new_namespace();
    ns->attrs = make_dict(in, args, "Namespace");
    return Value::make_namespace(std::move(ns));
}

Value g_joiner(Interpreter&, CallArgs& args) {
    auto p = bind_args(args, "joiner", {"sep"});
    std::string sep = p.given(0) ? to_str(p[0]) : ", ";
    auto used = std::make_shared<bool>(false);
    auto fn = std::make_shared<Callable>();
    fn->name = "joiner";
    fn->call = [sep, used](Interpreter&, CallArgs&) {
        if (!*used) {
            *used = true;
            return Value::string("");
        }
        return Value::string(sep);
    };
    return Value::callable(std::move(fn));
}

Value g_unsupported_cycler(Interpreter&, CallArgs&) {
    fail_unsupported("global 'cycler'");
}
Value g_unsupported_lipsum(Interpreter&, CallArgs&) {
    fail_unsupported("global 'lipsum'");
}

Value g_raise_exception(Interpreter&, CallArgs& args) {
    auto p = bind_args(args, "raise_exception", {"message"});
    if (!p.given(0))
        fail_type("raise_exception() missing 1 required positional argument: 'message'");
    throw Failure(ErrorKind::invalid_argument, "TemplateError", "input the template accepts",
                  to_str(p[0]));
}

Value g_strftime_now(Interpreter& in, CallArgs& args) {
    auto p = bind_args(args, "strftime_now", {"format"});
    if (!p[0].is_string()) fail_type("strftime() argument 1 must be str, not " + type_name(p[0]));
    std::tm tm{};
    if (in.options().now) {
        tm = *in.options().now;
    } else {
        std::time_t t = std::time(nullptr);
        localtime_r(&t, &tm);
    }
    const std::string& f = p[0].str();
    if (f.empty()) return Value::string("");
    // strftime signals a short buffer and an empty result the same way; grow
    // until the output fits or is clearly empty.
    for (size_t size = 64 + f.size() * 4; size <= (1u << 20); size *= 4) {
        std::string buf(size, '\0');
        size_t n = std::strftime(buf.data(), buf.size(), f.c_str(), &tm);
        if (n > 0) {
            buf.resize(n);
            return Value::string(std::move(buf));
        }
    }
    return Value::string("");
}

struct Global {
    const char* name;
    Value (*fn)(Interpreter&, CallArgs&);
};

constexpr Global kGlobals[] = {
    {"range", g_range},
    {"dict", g_dict},
    {"namespace", g_namespace},
    {"joiner", g_joiner},
    {"cycler", g_unsupported_cycler},
    {"lipsum", g_unsupported_lipsum},
    {"raise_exception", g_raise_exception},
    {"strftime_now", g_strftime_now},
};

}  // namespace

const Value* find_global(std::string_view name) {
    static const std::vector<std::pair<std::string, Value>> globals = [] {
        std::vector<std::pair<std::string, Value>> out;
        for (const auto& g : kGlobals) {
            auto fn = std::make_shared<Callable>();
            fn->name = g.name;
            fn->call = g.fn;
            out.emplace_back(g.name, Value::callable(std::move(fn)));
        }
        return out;
    }();
    for (const auto& [n, v] : globals)
        if (n == name) return &v;
    return nullptr;
}

}  // namespace slim::jinja
