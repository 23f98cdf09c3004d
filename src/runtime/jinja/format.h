// Values as Python writes them: str(), repr(), float repr, json.dumps and
// markupsafe's HTML escape. Output must match CPython byte for byte, since a
// template that prints a list or dumps a tool schema feeds it to the model.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "runtime/jinja/value.h"

namespace slim::jinja {

// Python's str(value); Undefined prints as "".
std::string to_str(const Value& v);
// Python's repr(value).
std::string repr(const Value& v);
std::string string_repr(std::string_view s);
// Python's repr(float): shortest round-trip digits, "1e+16", "0.0001", "inf".
std::string float_repr(double d);
std::string int_str(int64_t i);

struct JsonOptions {
    bool ensure_ascii = false;
    std::optional<std::string> indent;  // nullopt: one line
    std::string item_separator = ", ";
    std::string key_separator = ": ";
    bool sort_keys = false;
};
// Python's json.dumps (the `tojson` filter HF installs).
std::string json_dumps(const Value& v, const JsonOptions& options);

// The longest text to_str, repr and json_dumps build on this thread before
// failing with too_large; the interpreter sets it to its output limit while
// it renders.
class TextLimit {
  public:
    explicit TextLimit(size_t bytes);
    ~TextLimit();
    TextLimit(const TextLimit&) = delete;
    TextLimit& operator=(const TextLimit&) = delete;
    static size_t current();

  private:
    size_t saved_;
};

// markupsafe.escape: & < > " ' as entities.
std::string html_escape(std::string_view s);

}  // namespace slim::jinja
