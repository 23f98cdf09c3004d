// The filters, tests and global functions a template can call: jinja2's
// built-in ones as chat templates use them, plus what transformers adds
// (`tojson` as json.dumps, `raise_exception`, `strftime_now`).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/jinja/value.h"

namespace slim::jinja {

class Interpreter;

struct CallArgs {
    std::vector<Value> args;
    std::vector<std::pair<std::string, Value>> kwargs;
};

// Call arguments bound to a Python signature. Parameters not given read as
// undefined; given() tells them from an undefined value passed explicitly.
struct Bound {
    std::vector<Value> values;
    std::vector<bool> given_flags;

    const Value& operator[](size_t i) const { return values[i]; }
    bool given(size_t i) const { return given_flags[i]; }
};

// Binds positional arguments first, then keywords; raises TypeError as
// Python does for extra, unknown or repeated arguments.
Bound bind_args(const CallArgs& call, const std::string& what,
                const std::vector<std::string_view>& params);

using FilterFn = Value (*)(Interpreter&, const Value&, CallArgs&);
using TestFn = bool (*)(Interpreter&, const Value&, CallArgs&);

struct FilterDef {
    std::string_view name;
    FilterFn fn;
};

struct TestDef {
    std::string_view name;
    TestFn fn;
};

enum class Lookup {
    found,
    unimplemented,  // one of jinja2's own that slim does not implement
    unknown,        // jinja2 has no such filter or test either
};

Lookup find_filter(std::string_view name, const FilterDef*& def);
Lookup find_test(std::string_view name, const TestDef*& def);

// Global names every template sees under the render variables: range, dict,
// namespace, cycler, joiner, raise_exception, strftime_now.
const Value* find_global(std::string_view name);

}  // namespace slim::jinja
