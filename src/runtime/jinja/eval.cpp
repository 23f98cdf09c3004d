// Expressions, and the sandbox's attribute and item access.
#include <fmt/format.h>

#include "format/error.h"
#include "runtime/jinja/failure.h"
#include "runtime/jinja/format.h"
#include "runtime/jinja/interpreter.h"
#include "runtime/jinja/unicode.h"

namespace slim::jinja {

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
    try {
        DepthGuard guard(*this, e.line, e.offset);
        return eval_inner(e, scope);
    } catch (const Failure& f) {
        rethrow(f, e.line, e.offset);
    }
}

Value Interpreter::eval_name(const Expr& e, const ScopePtr& scope) {
    if (const Value* v = scope->lookup(e.name)) return *v;
    if (const Value* v = variables_.find(e.name)) return *v;
    if (const Value* v = find_global(e.name)) return *v;
    return Value::undefined(fmt::format("'{}' is undefined", e.name));
}

Value Interpreter::eval_inner(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
        case ExprKind::constant:
            return e.value;
        case ExprKind::name:
            return eval_name(e, scope);
        case ExprKind::getattr:
            return getattr(eval(*e.args[0], scope), e.name);
        case ExprKind::getitem: {
            Value obj = eval(*e.args[0], scope);
            const Expr& key = *e.args[1];
            if (key.kind != ExprKind::slice) return getitem(obj, eval(key, scope));
            Value parts[3];
            for (int i = 0; i < 3; ++i)
                parts[i] = key.args[i] ? eval(*key.args[i], scope) : Value::none();
            if (obj.is_undefined()) fail_undefined(obj);
            if (obj.is_string() || obj.is_list() || obj.is_tuple())
                return slice_value(obj, parts[0], parts[1], parts[2]);
            return Value::undefined(object_type_repr(obj) + " has no element slice(" +
                                    repr(parts[0]) + ", " + repr(parts[1]) + ", " + repr(parts[2]) +
                                    ")");
        }
        case ExprKind::slice:
            fail_runtime("slice outside a subscript");
        case ExprKind::call:
            return eval_call(e, scope);
        case ExprKind::filter:
            return eval_filter(e, scope, nullptr);
        case ExprKind::test: {
            Value subject = eval(*e.args[0], scope);
            CallArgs args;
            eval_args(e, 1, scope, args);
            if (!e.test) fail_unsupported("test '" + e.name + "'");
            return Value::boolean(e.test->fn(*this, subject, args));
        }
        case ExprKind::not_:
            return Value::boolean(!truthy(eval(*e.args[0], scope)));
        case ExprKind::neg:
            return negate(eval(*e.args[0], scope), true);
        case ExprKind::pos:
            return negate(eval(*e.args[0], scope), false);
        case ExprKind::binary: {
            Value a = eval(*e.args[0], scope);
            Value b = eval(*e.args[1], scope);
            return binary_op(*this, e.bin, a, b);
        }
        case ExprKind::and_: {
            Value a = eval(*e.args[0], scope);
            return truthy(a) ? eval(*e.args[1], scope) : a;
        }
        case ExprKind::or_: {
            Value a = eval(*e.args[0], scope);
            return truthy(a) ? a : eval(*e.args[1], scope);
        }
        case ExprKind::concat: {
            std::vector<Value> parts;
            for (const auto& a : e.args) parts.push_back(eval(*a, scope));
            return concat_str(*this, parts);
        }
        case ExprKind::compare:
            return eval_compare(e, scope);
        case ExprKind::cond:
            if (truthy(eval(*e.args[0], scope))) return eval(*e.args[1], scope);
            if (e.args[2]) return eval(*e.args[2], scope);
            return Value::undefined(fmt::format(
                "the inline if-expression on line {} evaluated to false and no else section "
                "was defined.",
                e.line));
        case ExprKind::list:
        case ExprKind::tuple: {
            std::vector<Value> items;
            items.reserve(e.args.size());
            for (const auto& a : e.args) items.push_back(eval(*a, scope));
            return Value::list(std::move(items),
                               e.kind == ExprKind::list ? SeqKind::list : SeqKind::tuple);
        }
        case ExprKind::dict: {
            Dict d;
            for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                Value k = eval(*e.args[i], scope);
                if (!hashable(k)) fail_type("unhashable type: '" + type_name(k) + "'");
                d.set(std::move(k), eval(*e.args[i + 1], scope));
            }
            return Value::dict(std::move(d));
        }
        case ExprKind::nsref:
            fail_runtime("namespace reference outside an assignment");
    }
    fail_runtime("unknown expression");
}

void Interpreter::eval_args(const Expr& e, size_t first, const ScopePtr& scope, CallArgs& out) {
    for (size_t i = first; i < e.args.size(); ++i) out.args.push_back(eval(*e.args[i], scope));
    for (const auto& [k, v] : e.kwargs) out.kwargs.emplace_back(k, eval(*v, scope));
    if (e.dyn_args)
        for (auto& v : iterate(eval(*e.dyn_args, scope))) out.args.push_back(std::move(v));
    if (e.dyn_kwargs) {
        Value d = eval(*e.dyn_kwargs, scope);
        if (!d.is_dict()) fail_type("argument after ** must be a mapping, not " + type_name(d));
        for (const auto& [k, v] : d.dict().items) {
            if (!k.is_string()) fail_type("keywords must be strings");
            out.kwargs.emplace_back(k.str(), v);
        }
    }
}

Value Interpreter::eval_call(const Expr& e, const ScopePtr& scope) {
    Value callee = eval(*e.args[0], scope);
    CallArgs args;
    eval_args(e, 1, scope, args);
    return call(callee, args);
}

Value Interpreter::eval_filter(const Expr& e, const ScopePtr& scope, const Value* block_content) {
    if (block_content) {
        const Value* saved = block_content_;
        block_content_ = block_content;
        try {
            Value v = eval(e, scope);
            block_content_ = saved;
            return v;
        } catch (...) {
            block_content_ = saved;
            throw;
        }
    }
    Value subject = e.args[0]        ? eval(*e.args[0], scope)
                    : block_content_ ? *block_content_
                                     : Value::string("");
    CallArgs args;
    eval_args(e, 1, scope, args);
    if (!e.filter) fail_unsupported("filter '" + e.name + "'");
    return e.filter->fn(*this, subject, args);
}

static bool compare_op(Interpreter& in, CmpOp op, const Value& a, const Value& b) {
    switch (op) {
        case CmpOp::eq:
            return equal(a, b);
        case CmpOp::ne:
            return !equal(a, b);
        case CmpOp::lt:
            return less(a, b);
        case CmpOp::gt:
            return less(b, a);
        case CmpOp::le:
            return less(a, b) || (equal(a, b) && !a.is_undefined());
        case CmpOp::ge:
            return less(b, a) || (equal(a, b) && !a.is_undefined());
        case CmpOp::in:
            return contains(in, b, a);
        case CmpOp::notin:
            return !contains(in, b, a);
    }
    return false;
}

Value Interpreter::eval_compare(const Expr& e, const ScopePtr& scope) {
    Value left = eval(*e.args[0], scope);
    for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1], scope);
        if (!compare_op(*this, e.ops[i], left, right)) return Value::boolean(false);
        left = std::move(right);
    }
    return Value::boolean(true);
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
    if (callee.is_callable()) return callee.fn().call(*this, args);
    if (callee.is_undefined()) fail_undefined(callee);
    fail_type(fmt::format("'{}' object is not callable", type_name(callee)));
}

static Value missing_attr(const Value& obj, const std::string& attr) {
    return Value::undefined(fmt::format("'{}' has no attribute '{}'", object_type_repr(obj), attr));
}

static bool is_dunder(const std::string& s) {
    return s.size() > 4 && s.compare(0, 2, "__") == 0 && s.compare(s.size() - 2, 2, "__") == 0;
}

Value Interpreter::loop_attr(const Value& loop, const std::string& attr) {
    const LoopState& l = loop.loop_state();
    auto n = static_cast<int64_t>(l.items.size());
    auto i = static_cast<int64_t>(l.index);
    if (attr == "index") return Value::integer(i + 1);
    if (attr == "index0") return Value::integer(i);
    if (attr == "revindex") return Value::integer(n - i);
    if (attr == "revindex0") return Value::integer(n - i - 1);
    if (attr == "first") return Value::boolean(i == 0);
    if (attr == "last") return Value::boolean(i == n - 1);
    if (attr == "length") return Value::integer(n);
    if (attr == "depth") return Value::integer(l.depth);
    if (attr == "depth0") return Value::integer(l.depth - 1);
    if (attr == "previtem")
        return i > 0 ? l.items[i - 1] : Value::undefined("there is no previous item");
    if (attr == "nextitem")
        return i + 1 < n ? l.items[i + 1] : Value::undefined("there is no next item");
    if (attr == "cycle") {
        auto fn = std::make_shared<Callable>();
        fn->name = "cycle";
        size_t index = l.index;
        fn->call = [index](Interpreter&, CallArgs& args) {
            if (args.args.empty()) fail_type("no items for cycling given");
            return args.args[index % args.args.size()];
        };
        return Value::callable(std::move(fn));
    }
    if (attr == "changed") {
        auto fn = std::make_shared<Callable>();
        fn->name = "changed";
        Value self = loop;
        fn->call = [self](Interpreter&, CallArgs& args) {
            LoopState& state = self.loop_state();
            Value now = Value::list(args.args, SeqKind::tuple);
            if (state.has_changed_value && equal(state.changed_value, now))
                return Value::boolean(false);
            state.has_changed_value = true;
            state.changed_value = now;
            return Value::boolean(true);
        };
        return Value::callable(std::move(fn));
    }
    return missing_attr(loop, attr);
}

Value Interpreter::getattr(const Value& obj, const std::string& attr) {
    if (obj.is_undefined()) fail_undefined(obj);
    if (is_dunder(attr))
        return Value::undefined(
            fmt::format("access to attribute '{}' of '{}' object is unsafe.", attr, type_name(obj)),
            true);
    Value method;
    switch (obj.type()) {
        case Type::dict:
            if (find_method(obj, attr, method)) return method;
            if (const Value* v = obj.dict().find(attr)) return *v;
            return missing_attr(obj, attr);
        case Type::string:
        case Type::sequence:
        case Type::integer:
        case Type::floating:
        case Type::boolean:
        case Type::callable:
            if (find_method(obj, attr, method)) return method;
            return missing_attr(obj, attr);
        case Type::namespace_:
            if (const Value* v = obj.ns().attrs.find(attr)) return *v;
            return missing_attr(obj, attr);
        case Type::loop:
            return loop_attr(obj, attr);
        default:
            return missing_attr(obj, attr);
    }
}

// Python's index for obj[i]: negative from the end; nullopt when out of range.
static std::optional<size_t> py_index(int64_t i, size_t n) {
    if (i < 0) i += static_cast<int64_t>(n);
    if (i < 0 || static_cast<size_t>(i) >= n) return std::nullopt;
    return static_cast<size_t>(i);
}

Value Interpreter::getitem(const Value& obj, const Value& key) {
    if (obj.is_undefined()) fail_undefined(obj);
    bool int_key = key.is_int() || key.is_bool();
    switch (obj.type()) {
        case Type::dict:
            if (hashable(key))
                if (const Value* v = obj.dict().find(key)) return *v;
            break;
        case Type::sequence: {
            SeqKind k = obj.seq().kind;
            bool indexable = k == SeqKind::list || k == SeqKind::tuple || k == SeqKind::range;
            if (indexable && int_key)
                if (auto i = py_index(key.int_value(), obj.items().size())) return obj.items()[*i];
            break;
        }
        case Type::string:
            if (int_key) {
                const std::string& s = obj.str();
                if (is_ascii(s)) {
                    if (auto i = py_index(key.int_value(), s.size()))
                        return Value::string(std::string(1, s[*i]), obj.is_markup());
                } else {
                    std::u32string cps = utf8_decode(s);
                    if (auto i = py_index(key.int_value(), cps.size()))
                        return Value::string(utf8_encode(cps.substr(*i, 1)), obj.is_markup());
                }
            }
            break;
        default:
            break;
    }
    // The sandbox falls back to the attribute for a string key.
    if (key.is_string()) {
        if (obj.is_namespace()) {
            if (const Value* v = obj.ns().attrs.find(key.str())) return *v;
        } else if (obj.is_loop()) {
            return loop_attr(obj, key.str());
        } else if (!obj.is_none()) {
            Value method;
            if (find_method(obj, key.str(), method)) return method;
        }
        return missing_attr(obj, key.str());
    }
    return Value::undefined(object_type_repr(obj) + " has no element " + repr(key));
}

std::vector<Value> Interpreter::iterate(const Value& v) {
    switch (v.type()) {
        case Type::undefined:
            return {};
        case Type::string: {
            std::vector<Value> out;
            const std::string& s = v.str();
            for (size_t pos = 0; pos < s.size();) {
                size_t start = pos;
                utf8_next(s, pos);
                // Iterating a Markup gives plain one-character strings.
                out.push_back(Value::string(s.substr(start, pos - start)));
            }
            return out;
        }
        case Type::sequence: {
            const Sequence& seq = v.seq();
            if (seq.kind != SeqKind::generator) return seq.items;
            // A generator yields each item once.
            std::vector<Value> rest(seq.items.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                            seq.consumed, seq.items.size())),
                                    seq.items.end());
            seq.consumed = seq.items.size();
            return rest;
        }
        case Type::dict: {
            std::vector<Value> keys;
            for (const auto& [k, val] : v.dict().items) keys.push_back(k);
            return keys;
        }
        default:
            fail_type(fmt::format("'{}' object is not iterable", type_name(v)));
    }
}

Value Interpreter::apply_filter(const std::string& name, const Value& subject, CallArgs& args) {
    const FilterDef* def = nullptr;
    if (find_filter(name, def) != Lookup::found) fail_unsupported("filter '" + name + "'");
    return def->fn(*this, subject, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& subject, CallArgs& args) {
    const TestDef* def = nullptr;
    if (find_test(name, def) != Lookup::found) fail_unsupported("test '" + name + "'");
    return def->fn(*this, subject, args);
}

}  // namespace slim::jinja
