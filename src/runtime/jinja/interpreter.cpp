// Statements: output, if, for, set, macros, filter/set blocks, with.
#include "runtime/jinja/interpreter.h"

#include <fmt/format.h>

#include "format/error.h"
#include "runtime/jinja/failure.h"
#include "runtime/jinja/format.h"

namespace slim::jinja {

const Value* Scope::lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get())
        for (const auto& [k, v] : s->vars)
            if (k == name) return &v;
    return nullptr;
}

void Scope::set(const std::string& name, Value value) {
    for (auto& [k, v] : vars) {
        if (k == name) {
            v = std::move(value);
            return;
        }
    }
    vars.emplace_back(name, std::move(value));
}

Interpreter::Interpreter(const Program& program, const Dict& variables,
                         const RenderOptions& options)
    : program_(program),
      variables_(variables),
      options_(options),
      text_limit_(options.max_output_bytes),
      root_(std::make_shared<Scope>()) {}

Interpreter::~Interpreter() {
    // Namespaces are the only mutable objects, so the only way values can
    // hold themselves. Emptying every namespace frees such cycles; keeping
    // them all alive meanwhile makes that freeing shallow.
    std::vector<std::shared_ptr<Namespace>> alive;
    for (const auto& w : namespaces_)
        if (auto ns = w.lock()) alive.push_back(std::move(ns));
    for (const auto& ns : alive) ns->attrs.items.clear();
}

std::shared_ptr<Namespace> Interpreter::new_namespace() {
    auto ns = std::make_shared<Namespace>();
    namespaces_.push_back(ns);
    return ns;
}

void Interpreter::fail_depth(uint32_t line, uint32_t offset) const {
    throw Error(ErrorKind::too_large, program_.name, fmt::format("line {}", line), offset,
                fmt::format("evaluation nested at most {} deep", options_.max_depth),
                "deeper nesting (recursive macro?)");
}

void Interpreter::step() {
    if (++steps_ > options_.max_steps)
        fail_too_large(fmt::format("at most {} evaluation steps", options_.max_steps));
}

void Interpreter::check_size(size_t bytes) const {
    if (bytes > options_.max_output_bytes)
        fail_too_large(fmt::format("strings of at most {} bytes", options_.max_output_bytes));
}

void Interpreter::write(std::string& out, std::string_view text) const {
    check_size(out.size() + text.size());
    out.append(text);
}

void Interpreter::rethrow(const Failure& f, uint32_t line, uint32_t offset) const {
    throw Error(f.kind, program_.name, fmt::format("line {}: {}", line, f.python_type), offset,
                f.expected, f.message);
}

std::string Interpreter::render() {
    std::string out;
    exec(program_.body, root_, out);
    return out;
}

Interpreter::Flow Interpreter::exec(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& stmt : body) {
        Flow flow = exec_stmt(*stmt, scope, out);
        if (flow != Flow::normal) return flow;
    }
    return Flow::normal;
}

static ScopePtr child_of(const ScopePtr& parent) {
    auto s = std::make_shared<Scope>();
    s->parent = parent;
    return s;
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out) {
    try {
        DepthGuard guard(*this, s.line, s.offset);
        switch (s.kind) {
            case StmtKind::output:
                write(out, s.text);
                break;
            case StmtKind::print:
                write(out, to_str(eval(*s.expr, scope)));
                break;
            case StmtKind::if_:
                for (const auto& [test, body] : s.branches)
                    if (truthy(eval(*test, scope))) return exec(body, scope, out);
                return exec(s.else_body, scope, out);
            case StmtKind::for_:
                return exec_for(s, scope, out);
            case StmtKind::set:
                assign(*s.target, eval(*s.expr, scope), scope);
                break;
            case StmtKind::set_block:
            case StmtKind::filter_block: {
                ScopePtr inner = child_of(scope);
                std::string buf;
                // A break or continue inside leaves before the assignment.
                if (Flow flow = exec(s.body, inner, buf); flow != Flow::normal) return flow;
                Value v = Value::string(std::move(buf));
                if (s.filter_expr) v = eval_filter(*s.filter_expr, inner, &v);
                if (s.kind == StmtKind::set_block) {
                    assign(*s.target, v, scope);
                } else {
                    write(out, to_str(v));
                }
                break;
            }
            case StmtKind::macro:
                exec_macro_def(s, scope);
                break;
            case StmtKind::with: {
                ScopePtr inner = child_of(scope);
                for (const auto& [target, value] : s.assignments)
                    assign(*target, eval(*value, scope), inner);
                return exec(s.body, inner, out);
            }
            case StmtKind::generation:
                exec(s.body, child_of(scope), out);
                break;
            case StmtKind::break_:
                return Flow::break_;
            case StmtKind::continue_:
                return Flow::continue_;
        }
    } catch (const Failure& f) {
        rethrow(f, s.line, s.offset);
    }
    return Flow::normal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
    std::vector<Value> items = iterate(eval(*s.expr, scope));
    if (s.filter_expr) {
        std::vector<Value> kept;
        for (auto& item : items) {
            step();
            ScopePtr test_scope = child_of(scope);
            assign(*s.target, item, test_scope);
            if (truthy(eval(*s.filter_expr, test_scope))) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    // jinja2 clears its "else" flag at the end of an iteration's body, so
    // the else body runs unless some iteration got there: a loop whose every
    // iteration ends in `continue`, or whose first one breaks, runs it too.
    bool completed = false;
    if (!items.empty()) {
        auto state = std::make_shared<LoopState>();
        state->items = std::move(items);
        Value loop = Value::loop(state);
        for (size_t i = 0; i < state->items.size(); ++i) {
            step();
            state->index = i;
            ScopePtr iteration = child_of(scope);
            assign(*s.target, state->items[i], iteration);
            iteration->set("loop", loop);
            Flow flow = exec(s.body, iteration, out);
            if (flow == Flow::break_) break;
            if (flow == Flow::normal) completed = true;
        }
    }
    if (!completed && !s.else_body.empty()) return exec(s.else_body, child_of(scope), out);
    return Flow::normal;
}

void Interpreter::assign(const Expr& target, const Value& value, const ScopePtr& scope) {
    switch (target.kind) {
        case ExprKind::name:
            scope->set(target.name, value);
            return;
        case ExprKind::tuple: {
            std::vector<Value> items = iterate(value);
            size_t n = target.args.size();
            if (items.size() < n)
                fail_value(fmt::format("not enough values to unpack (expected {}, got {})", n,
                                       items.size()));
            if (items.size() > n)
                fail_value(fmt::format("too many values to unpack (expected {})", n));
            for (size_t i = 0; i < n; ++i) assign(*target.args[i], items[i], scope);
            return;
        }
        case ExprKind::nsref: {
            const Value* ref = scope->lookup(target.name);
            if (!ref) ref = variables_.find(target.name);
            if (!ref || !ref->is_namespace())
                fail_runtime("cannot assign attribute on non-namespace object");
            ref->ns().attrs.set(Value::string(target.attr), value);
            return;
        }
        default:
            fail_runtime("can't assign to this expression");
    }
}

void Interpreter::exec_macro_def(const Stmt& s, const ScopePtr& scope) {
    auto fn = std::make_shared<Callable>();
    fn->name = s.name;
    fn->is_macro = true;
    const Stmt* def = &s;
    // Weak: the scope holds the macro, and a strong reference back would
    // keep both alive forever.
    std::weak_ptr<Scope> closure = scope;
    fn->call = [def, closure](Interpreter& in, CallArgs& args) {
        return in.call_macro(*def, closure, args);
    };
    scope->set(s.name, Value::callable(std::move(fn)));
}

Value Interpreter::call_macro(const Stmt& def, const std::weak_ptr<Scope>& closure,
                              CallArgs& args) {
    ScopePtr parent = closure.lock();
    if (!parent) fail_unsupported("calling a macro after the block it was defined in ended");
    DepthGuard guard(*this, def.line, def.offset);
    ScopePtr local = child_of(parent);
    const auto& params = def.params;
    std::vector<bool> given(params.size(), false);
    std::vector<Value> extra;
    for (size_t i = 0; i < args.args.size(); ++i) {
        if (i < params.size()) {
            local->set(params[i], args.args[i]);
            given[i] = true;
        } else if (def.uses_varargs) {
            extra.push_back(args.args[i]);
        } else {
            fail_type(fmt::format("macro '{}' takes not more than {} argument(s)", def.name,
                                  params.size()));
        }
    }
    Dict extra_kw;
    for (auto& [key, value] : args.kwargs) {
        size_t i = 0;
        while (i < params.size() && params[i] != key) ++i;
        if (i < params.size()) {
            if (given[i])
                fail_type(
                    fmt::format("macro '{}' got multiple values for argument '{}'", def.name, key));
            local->set(key, value);
            given[i] = true;
        } else if (def.uses_kwargs) {
            extra_kw.set(Value::string(key), value);
        } else if (key == "caller" && def.uses_caller) {
            local->set("caller", value);
        } else {
            fail_type(fmt::format("macro '{}' takes no keyword argument '{}'", def.name, key));
        }
    }
    size_t first_default = params.size() - def.defaults.size();
    for (size_t i = 0; i < params.size(); ++i) {
        if (given[i]) continue;
        if (i >= first_default) {
            local->set(params[i], eval(*def.defaults[i - first_default], local));
        } else {
            local->set(params[i],
                       Value::undefined(fmt::format("parameter '{}' was not provided", params[i])));
        }
    }
    if (def.uses_varargs) local->set("varargs", Value::list(std::move(extra), SeqKind::tuple));
    if (def.uses_kwargs) local->set("kwargs", Value::dict(std::move(extra_kw)));
    if (def.uses_caller && !local->lookup("caller"))
        local->set("caller", Value::undefined("No caller defined"));
    std::string buf;
    exec(def.body, local, buf);
    return Value::string(std::move(buf));
}

}  // namespace slim::jinja
