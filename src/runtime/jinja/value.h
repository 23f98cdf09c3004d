// The values a template computes with, modelled on the Python objects that
// jinja2 hands around: None, bool, int, float, str (and Markup), list, tuple,
// dict, jinja2's Undefined and Namespace, macros, bound methods and the loop
// object.
//
// Lists, dicts and strings are shared and immutable once built: the sandbox
// HF renders chat templates in (ImmutableSandboxedEnvironment) forbids
// mutating them, so sharing is invisible and copies are cheap. A namespace is
// the one mutable object and is shared by reference, as in Python.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace slim::jinja {

class Value;
class Interpreter;
struct CallArgs;

// How a Python sequence prints and behaves: a plain list, a tuple, a
// generator (what jinja2's map/select/items filters return: always true, no
// len(), consumed by iteration), a dict view (dict.items() and friends) or a
// range object.
enum class SeqKind : uint8_t { list, tuple, generator, dict_items, dict_keys, dict_values, range };

// Lists and dicts nest at most this deep, so that printing, comparing and
// freeing them cannot exhaust the stack (Python stops near 1000 levels).
constexpr uint32_t kMaxNesting = 512;

struct Sequence {
    std::vector<Value> items;
    uint32_t depth = 1;    // 1 + the deepest list or dict inside
    bool hashable = true;  // a tuple of hashable items (computed once: tuples can share items)
    SeqKind kind = SeqKind::list;
    mutable size_t consumed = 0;  // generators: items already taken by iteration
    int64_t range_start = 0, range_stop = 0, range_step = 1;  // for repr of range objects
};

struct Dict {
    std::vector<std::pair<Value, Value>> items;  // insertion order, as Python dicts
    uint32_t depth = 1;

    const Value* find(const Value& key) const;
    const Value* find(const std::string& key) const;
    // Inserts or replaces (keeping the first position, as Python does).
    void set(Value key, Value value);
};

struct Namespace {
    Dict attrs;
};

// Why a value is undefined; the text is jinja2's message for the error that
// using it raises. `security` marks jinja2's unsafe_undefined (a mutating
// method the sandbox refuses), whose use raises SecurityError.
struct UndefinedInfo {
    std::string hint;
    bool security = false;
};

struct Callable {
    std::string name;  // for messages: "macro 'x'", "method 'strip' of str"
    std::function<Value(Interpreter&, CallArgs&)> call;
    bool is_macro = false;
};

struct LoopState;

enum class Type : uint8_t {
    undefined,
    none,
    boolean,
    integer,
    floating,
    string,
    sequence,
    dict,
    namespace_,
    callable,
    loop,
};

class Value {
  public:
    Value() : type_(Type::undefined) {}
    static Value undefined(std::string hint, bool security = false);
    static Value none() { return Value(Type::none); }
    static Value boolean(bool b);
    static Value integer(int64_t i);
    static Value floating(double d);
    static Value string(std::string s, bool markup = false);
    // These compute the nesting depth and fail with too_large past kMaxNesting.
    static Value list(std::vector<Value> items, SeqKind kind = SeqKind::list);
    static Value sequence(std::shared_ptr<Sequence> seq);
    static Value dict(Dict d);
    static Value make_namespace(std::shared_ptr<Namespace> ns);
    static Value callable(std::shared_ptr<const Callable> fn);
    static Value loop(std::shared_ptr<LoopState> state);

    Type type() const { return type_; }
    bool is_undefined() const { return type_ == Type::undefined; }
    bool is_none() const { return type_ == Type::none; }
    bool is_bool() const { return type_ == Type::boolean; }
    bool is_int() const { return type_ == Type::integer; }
    bool is_float() const { return type_ == Type::floating; }
    // Python's numbers.Number: int, float and bool.
    bool is_number() const { return is_int() || is_float() || is_bool(); }
    bool is_string() const { return type_ == Type::string; }
    bool is_markup() const { return type_ == Type::string && markup_; }
    bool is_sequence() const { return type_ == Type::sequence; }
    bool is_list() const { return is_sequence() && seq().kind == SeqKind::list; }
    bool is_tuple() const { return is_sequence() && seq().kind == SeqKind::tuple; }
    bool is_dict() const { return type_ == Type::dict; }
    bool is_namespace() const { return type_ == Type::namespace_; }
    bool is_callable() const { return type_ == Type::callable; }
    bool is_loop() const { return type_ == Type::loop; }

    bool as_bool() const { return b_; }
    int64_t as_int() const { return i_; }
    double as_float() const { return d_; }
    // bool and int as Python ints (True is 1).
    int64_t int_value() const { return is_bool() ? (b_ ? 1 : 0) : i_; }
    double number_value() const { return is_float() ? d_ : static_cast<double>(int_value()); }
    const std::string& str() const { return *static_cast<const std::string*>(ptr_.get()); }
    const Sequence& seq() const { return *static_cast<const Sequence*>(ptr_.get()); }
    const std::vector<Value>& items() const { return seq().items; }
    const Dict& dict() const { return *static_cast<const Dict*>(ptr_.get()); }
    Namespace& ns() const { return *static_cast<Namespace*>(const_cast<void*>(ptr_.get())); }
    const Callable& fn() const { return *static_cast<const Callable*>(ptr_.get()); }
    LoopState& loop_state() const {
        return *static_cast<LoopState*>(const_cast<void*>(ptr_.get()));
    }
    const UndefinedInfo& undefined_info() const;
    // Identity of a shared object (namespaces, for `is sameas`).
    const void* identity() const { return ptr_.get(); }
    // 1 + the deepest list or dict inside a list or dict; 0 for other values.
    uint32_t depth() const;

  private:
    explicit Value(Type t) : type_(t) {}

    Type type_;
    bool markup_ = false;
    union {
        bool b_;
        int64_t i_ = 0;
        double d_;
    };
    // The string, Sequence, Dict, Namespace, Callable, LoopState or
    // UndefinedInfo, by type_.
    std::shared_ptr<const void> ptr_;
};

// Python truthiness.
bool truthy(const Value& v);

// Python's `==` (1 == 1.0 == True, [1] != (1,), Undefined == Undefined).
bool equal(const Value& a, const Value& b);

// Whether Python could hash the value (dict keys, `in` on dicts).
bool hashable(const Value& v);

// The Python type name as error messages print it: "str", "int", "NoneType".
std::string type_name(const Value& v);

// jinja2's object_type_repr: "dict object", "None", "str object".
std::string object_type_repr(const Value& v);

}  // namespace slim::jinja
