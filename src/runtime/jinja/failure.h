// Errors raised while a template runs, before they know where they are.
//
// Helpers (filters, methods, operators) throw a Failure that names the Python
// exception jinja2 would raise; the interpreter catches it at the innermost
// expression or statement and turns it into a slim::Error carrying the
// template name, line and byte offset.
#pragma once

#include <exception>
#include <string>

#include "format/error.h"

namespace slim::jinja {

class Value;

struct Failure : std::exception {
    ErrorKind kind;
    std::string python_type;  // the jinja2 exception: "TypeError", "UndefinedError", ...
    std::string expected;
    std::string message;

    Failure(ErrorKind k, std::string type, std::string exp, std::string msg)
        : kind(k),
          python_type(std::move(type)),
          expected(std::move(exp)),
          message(std::move(msg)) {}
    const char* what() const noexcept override { return message.c_str(); }
};

[[noreturn]] void fail_type(std::string message);
[[noreturn]] void fail_value(std::string message);
// Using an undefined value where jinja2 raises (UndefinedError, or
// SecurityError for a method the sandbox refuses).
[[noreturn]] void fail_undefined(const Value& undefined);
[[noreturn]] void fail_unsupported(std::string construct);
[[noreturn]] void fail_too_large(std::string what);
// jinja2's TemplateRuntimeError (bad namespace assignment, unknown filter at run time).
[[noreturn]] void fail_runtime(std::string message);

}  // namespace slim::jinja
