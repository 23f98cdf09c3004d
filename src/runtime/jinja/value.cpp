#include "runtime/jinja/value.h"

#include <algorithm>

#include "runtime/jinja/failure.h"

namespace slim::jinja {

const Value* Dict::find(const Value& key) const {
    for (const auto& [k, v] : items)
        if (equal(k, key)) return &v;
    return nullptr;
}

const Value* Dict::find(const std::string& key) const {
    for (const auto& [k, v] : items)
        if (k.is_string() && k.str() == key) return &v;
    return nullptr;
}

uint32_t Value::depth() const {
    if (type_ == Type::sequence) return seq().depth;
    if (type_ == Type::dict) return dict().depth;
    return 0;
}

static uint32_t checked_depth(uint32_t inner) {
    if (inner + 1 > kMaxNesting)
        fail_too_large("lists and dicts nested at most " + std::to_string(kMaxNesting) + " deep");
    return inner + 1;
}

void Dict::set(Value key, Value value) {
    depth = std::max(depth, checked_depth(std::max(key.depth(), value.depth())));
    for (auto& [k, v] : items) {
        if (equal(k, key)) {
            v = std::move(value);
            return;
        }
    }
    items.emplace_back(std::move(key), std::move(value));
}

Value Value::undefined(std::string hint, bool security) {
    Value v(Type::undefined);
    v.ptr_ = std::make_shared<const UndefinedInfo>(UndefinedInfo{std::move(hint), security});
    return v;
}

const UndefinedInfo& Value::undefined_info() const {
    static const UndefinedInfo empty{"value is undefined", false};
    return ptr_ ? *static_cast<const UndefinedInfo*>(ptr_.get()) : empty;
}

Value Value::boolean(bool b) {
    Value v(Type::boolean);
    v.b_ = b;
    return v;
}

Value Value::integer(int64_t i) {
    Value v(Type::integer);
    v.i_ = i;
    return v;
}

Value Value::floating(double d) {
    Value v(Type::floating);
    v.d_ = d;
    return v;
}

Value Value::string(std::string s, bool markup) {
    Value v(Type::string);
    v.markup_ = markup;
    v.ptr_ = std::make_shared<const std::string>(std::move(s));
    return v;
}

Value Value::list(std::vector<Value> items, SeqKind kind) {
    auto seq = std::make_shared<Sequence>();
    seq->items = std::move(items);
    seq->kind = kind;
    return sequence(std::move(seq));
}

Value Value::sequence(std::shared_ptr<Sequence> seq) {
    uint32_t inner = 0;
    bool all_hashable = true;
    for (const auto& item : seq->items) {
        inner = std::max(inner, item.depth());
        all_hashable = all_hashable && hashable(item);
    }
    seq->depth = checked_depth(inner);
    seq->hashable = seq->kind == SeqKind::tuple
                        ? all_hashable
                        : seq->kind == SeqKind::generator || seq->kind == SeqKind::range;
    Value v(Type::sequence);
    v.ptr_ = std::move(seq);
    return v;
}

Value Value::dict(Dict d) {
    uint32_t inner = 0;
    for (const auto& [k, item] : d.items) inner = std::max({inner, k.depth(), item.depth()});
    d.depth = checked_depth(inner);
    Value v(Type::dict);
    v.ptr_ = std::make_shared<const Dict>(std::move(d));
    return v;
}

Value Value::make_namespace(std::shared_ptr<Namespace> ns) {
    Value v(Type::namespace_);
    v.ptr_ = std::move(ns);
    return v;
}

Value Value::callable(std::shared_ptr<const Callable> fn) {
    Value v(Type::callable);
    v.ptr_ = std::move(fn);
    return v;
}

Value Value::loop(std::shared_ptr<LoopState> state) {
    Value v(Type::loop);
    v.ptr_ = std::move(state);
    return v;
}

bool truthy(const Value& v) {
    switch (v.type()) {
        case Type::undefined:
        case Type::none:
            return false;
        case Type::boolean:
            return v.as_bool();
        case Type::integer:
            return v.as_int() != 0;
        case Type::floating:
            return v.as_float() != 0.0;
        case Type::string:
            return !v.str().empty();
        case Type::sequence:
            // A generator object is true whatever it holds.
            return v.seq().kind == SeqKind::generator || !v.items().empty();
        case Type::dict:
            return !v.dict().items.empty();
        default:
            return true;
    }
}

bool equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (!a.is_float() && !b.is_float()) return a.int_value() == b.int_value();
        return a.number_value() == b.number_value();
    }
    if (a.type() != b.type()) return false;
    // The same list or dict: Python's comparisons take this shortcut too,
    // which keeps comparing values that share parts linear.
    if ((a.is_sequence() || a.is_dict()) && a.identity() == b.identity()) return true;
    switch (a.type()) {
        case Type::undefined:
        case Type::none:
            return true;
        case Type::string:
            return a.str() == b.str();
        case Type::sequence: {
            SeqKind ka = a.seq().kind, kb = b.seq().kind;
            bool by_value = ka == SeqKind::list || ka == SeqKind::tuple || ka == SeqKind::range;
            if (!by_value) return a.identity() == b.identity();
            if (ka != kb || a.items().size() != b.items().size()) return false;
            for (size_t i = 0; i < a.items().size(); ++i)
                if (!equal(a.items()[i], b.items()[i])) return false;
            return true;
        }
        case Type::dict: {
            const auto& da = a.dict();
            const auto& db = b.dict();
            if (da.items.size() != db.items.size()) return false;
            for (const auto& [k, v] : da.items) {
                const Value* other = db.find(k);
                if (!other || !equal(v, *other)) return false;
            }
            return true;
        }
        default:
            return a.identity() == b.identity();
    }
}

bool hashable(const Value& v) {
    switch (v.type()) {
        case Type::dict:
            return false;
        case Type::sequence:
            return v.seq().hashable;
        default:
            return true;
    }
}

std::string type_name(const Value& v) {
    switch (v.type()) {
        case Type::undefined:
            return "Undefined";
        case Type::none:
            return "NoneType";
        case Type::boolean:
            return "bool";
        case Type::integer:
            return "int";
        case Type::floating:
            return "float";
        case Type::string:
            return v.is_markup() ? "Markup" : "str";
        case Type::sequence:
            switch (v.seq().kind) {
                case SeqKind::list:
                    return "list";
                case SeqKind::tuple:
                    return "tuple";
                case SeqKind::generator:
                    return "generator";
                case SeqKind::dict_items:
                    return "dict_items";
                case SeqKind::dict_keys:
                    return "dict_keys";
                case SeqKind::dict_values:
                    return "dict_values";
                case SeqKind::range:
                    return "range";
            }
            return "list";
        case Type::dict:
            return "dict";
        case Type::namespace_:
            return "Namespace";
        case Type::callable:
            return v.fn().is_macro ? "Macro" : "builtin_function_or_method";
        case Type::loop:
            return "LoopContext";
    }
    return "object";
}

std::string object_type_repr(const Value& v) {
    switch (v.type()) {
        case Type::none:
            return "None";
        case Type::undefined:
            return "jinja2.runtime.Undefined object";
        case Type::namespace_:
            return "jinja2.utils.Namespace object";
        case Type::loop:
            return "jinja2.runtime.LoopContext object";
        case Type::string:
            if (v.is_markup()) return "markupsafe.Markup object";
            break;
        case Type::callable:
            if (v.fn().is_macro) return "jinja2.runtime.Macro object";
            break;
        default:
            break;
    }
    return type_name(v) + " object";
}

}  // namespace slim::jinja
