// Walks the syntax tree and writes the output, with jinja2's semantics as
// compiled by jinja2 3.1 in the sandbox transformers uses.
//
// Scopes follow jinja2's frames: the template's top level is one scope;
// each for-loop iteration, macro call, set block, filter block, with block
// and generation block starts a new scope whose parent is the scope it is
// written in, so assignments inside do not leak out while reads see the
// enclosing variables (a macro sees the scope it was defined in, live, not
// its caller's). `if` opens no scope.
//
// Limits keep hostile templates from exhausting the machine: nesting depth
// of evaluation (recursive macros), total steps, and the size of any string
// built, each an Error of kind too_large.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/jinja/ast.h"
#include "runtime/jinja/builtins.h"
#include "runtime/jinja/format.h"
#include "runtime/jinja/parser.h"
#include "runtime/jinja/template.h"
#include "runtime/jinja/value.h"

namespace slim::jinja {

// jinja2's LoopContext over a materialised iterable.
struct LoopState {
    std::vector<Value> items;
    size_t index = 0;  // index0 of the current item
    int depth = 1;
    bool has_changed_value = false;
    Value changed_value;
};

struct Scope {
    std::shared_ptr<Scope> parent;
    std::vector<std::pair<std::string, Value>> vars;

    const Value* lookup(const std::string& name) const;
    void set(const std::string& name, Value value);
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
  public:
    Interpreter(const Program& program, const Dict& variables, const RenderOptions& options);
    ~Interpreter();
    Interpreter(const Interpreter&) = delete;
    Interpreter& operator=(const Interpreter&) = delete;

    std::string render();

    // Operations filters and methods share with expressions.
    Value call(const Value& callee, CallArgs& args);
    Value getattr(const Value& obj, const std::string& attr);
    Value getitem(const Value& obj, const Value& key);
    // Python's iter(): the items a for loop, list() or join would see.
    std::vector<Value> iterate(const Value& v);
    // A filter or test by name, as select/map/selectattr apply them.
    Value apply_filter(const std::string& name, const Value& subject, CallArgs& args);
    bool apply_test(const std::string& name, const Value& subject, CallArgs& args);
    // Checks a string about to be built against the output limit.
    void check_size(size_t bytes) const;
    const RenderOptions& options() const { return options_; }
    std::shared_ptr<Namespace> new_namespace();

  private:
    enum class Flow { normal, break_, continue_ };
    class DepthGuard;

    Flow exec(const Body& body, const ScopePtr& scope, std::string& out);
    Flow exec_stmt(const Stmt& stmt, const ScopePtr& scope, std::string& out);
    Flow exec_for(const Stmt& stmt, const ScopePtr& scope, std::string& out);
    void exec_macro_def(const Stmt& stmt, const ScopePtr& scope);
    Value call_macro(const Stmt& def, const std::weak_ptr<Scope>& closure, CallArgs& args);
    void assign(const Expr& target, const Value& value, const ScopePtr& scope);
    void write(std::string& out, std::string_view text) const;
    [[noreturn]] void rethrow(const struct Failure& f, uint32_t line, uint32_t offset) const;

    Value eval(const Expr& e, const ScopePtr& scope);
    Value eval_inner(const Expr& e, const ScopePtr& scope);
    Value eval_name(const Expr& e, const ScopePtr& scope);
    Value eval_call(const Expr& e, const ScopePtr& scope);
    Value eval_filter(const Expr& e, const ScopePtr& scope, const Value* block_content);
    Value eval_compare(const Expr& e, const ScopePtr& scope);
    Value loop_attr(const Value& loop, const std::string& attr);
    void eval_args(const Expr& e, size_t first, const ScopePtr& scope, CallArgs& out);
    void step();
    [[noreturn]] void fail_depth(uint32_t line, uint32_t offset) const;

    const Program& program_;
    const Dict& variables_;
    RenderOptions options_;
    TextLimit text_limit_;
    ScopePtr root_;
    const Value* block_content_ = nullptr;  // the body of the filter block being filtered
    int depth_ = 0;
    uint64_t steps_ = 0;
    std::vector<std::weak_ptr<Namespace>> namespaces_;
};

class Interpreter::DepthGuard {
  public:
    DepthGuard(Interpreter& in, uint32_t line, uint32_t offset) : in_(in) {
        in_.step();
        if (in_.depth_ >= in_.options_.max_depth) in_.fail_depth(line, offset);
        ++in_.depth_;
    }
    ~DepthGuard() { --in_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

  private:
    Interpreter& in_;
};

// Python operators on values (operators.cpp).
Value binary_op(Interpreter& in, BinOp op, const Value& a, const Value& b);
Value negate(const Value& v, bool minus);
bool contains(Interpreter& in, const Value& container, const Value& item);
// Python's <, <=, >, >= (raise TypeError across incomparable types).
bool less(const Value& a, const Value& b);
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);
Value concat_str(Interpreter& in, const std::vector<Value>& parts);

// Methods of str, dict and list values: `s.strip()`, `d.items()` (methods.cpp).
// Returns a bound method, an unsafe undefined for a method the sandbox
// refuses, or nothing when the type has no such attribute.
bool find_method(const Value& obj, const std::string& name, Value& out);

}  // namespace slim::jinja
