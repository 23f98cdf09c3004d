// The syntax tree the parser builds and the interpreter walks. Node kinds
// follow jinja2's nodes.py; each node keeps its byte offset and line for
// error messages.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/jinja/value.h"

namespace slim::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind : uint8_t {
    constant,  // value
    name,      // name
    nsref,     // name.attr as an assignment target (`set ns.x = ...`)
    getattr,   // args[0].name
    getitem,   // args[0][args[1]]
    slice,     // args[0]:args[1]:args[2], each may be null
    call,      // args[0](args[1..], kwargs, *dyn_args, **dyn_kwargs)
    filter,    // args[0]|name(args[1..], kwargs); args[0] null inside a filter block
    test,      // args[0] is name(args[1..], kwargs)
    not_,      // not args[0]
    neg,       // -args[0]
    pos,       // +args[0]
    binary,    // args[0] op args[1]
    and_,      // args[0] and args[1]
    or_,       // args[0] or args[1]
    concat,    // args[0] ~ args[1] ~ ...
    compare,   // args[0] ops[0] args[1] ops[1] args[2] ...
    cond,      // args[1] if args[0] else args[2] (args[2] may be null)
    list,      // [args...]
    tuple,     // (args...)
    dict,      // {args[0]: args[1], args[2]: args[3], ...}
};

enum class BinOp : uint8_t { add, sub, mul, div, floordiv, mod, pow };
enum class CmpOp : uint8_t { eq, ne, lt, le, gt, ge, in, notin };

struct FilterDef;
struct TestDef;

struct Expr {
    ExprKind kind;
    uint32_t offset = 0;
    uint32_t line = 0;
    uint32_t depth =
        1;  // of the subtree; bounded so walking and freeing it cannot overflow the stack
    Value value;
    std::string name;
    std::string attr;
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    ExprPtr dyn_args, dyn_kwargs;
    BinOp bin = BinOp::add;
    std::vector<CmpOp> ops;
    // Filters and tests are looked up while parsing; null means unknown to
    // jinja2, which is an error once the expression runs.
    const FilterDef* filter = nullptr;
    const TestDef* test = nullptr;
};

enum class StmtKind : uint8_t {
    output,        // text
    print,         // {{ expr }}
    if_,           // branches, else_body
    for_,          // for target in expr [if filter_expr]: body else else_body
    set,           // set target = expr
    set_block,     // set target [| filter] %}body{% endset
    macro,         // macro name(params=defaults): body
    filter_block,  // filter expr %}body{% endfilter
    with,          // with targets = values: body
    break_,
    continue_,
    generation,  // Hugging Face's {% generation %}body{% endgeneration %}
};

struct Stmt {
    StmtKind kind;
    uint32_t offset = 0;
    uint32_t line = 0;
    std::string text;
    ExprPtr expr;         // print, set value, for iterable
    ExprPtr target;       // set and for targets: name, tuple of names or nsref
    ExprPtr filter_expr;  // for's `if` condition; set_block/filter_block filter chain
    std::vector<std::pair<ExprPtr, Body>> branches;  // if/elif tests and bodies
    Body body;
    Body else_body;
    // macro
    std::string name;
    std::vector<std::string> params;
    std::vector<ExprPtr> defaults;  // aligned to the last params
    bool uses_varargs = false;
    bool uses_kwargs = false;
    bool uses_caller = false;
    // with
    std::vector<std::pair<ExprPtr, ExprPtr>> assignments;
};

}  // namespace slim::jinja
