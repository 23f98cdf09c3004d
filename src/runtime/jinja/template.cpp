#include "runtime/jinja/template.h"

#include <fmt/format.h>

#include "format/error.h"
#include "runtime/jinja/failure.h"
#include "runtime/jinja/interpreter.h"
#include "runtime/jinja/parser.h"
#include "runtime/jinja/unicode.h"

namespace slim::jinja {

namespace {

// JSON as the Python objects json.loads gives.
Value from_json(const nlohmann::ordered_json& j, const std::string& name, const std::string& path,
                uint32_t depth) {
    if (depth > kMaxNesting)
        throw Error(ErrorKind::too_large, name, path, std::nullopt,
                    fmt::format("JSON nested at most {} deep", kMaxNesting), "deeper nesting");
    switch (j.type()) {
        case nlohmann::json::value_t::null:
            return Value::none();
        case nlohmann::json::value_t::boolean:
            return Value::boolean(j.get<bool>());
        case nlohmann::json::value_t::number_integer:
            return Value::integer(j.get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: {
            auto u = j.get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX))
                throw Error(ErrorKind::unsupported, name, path, std::nullopt,
                            "an integer that fits 64 bits", std::to_string(u));
            return Value::integer(static_cast<int64_t>(u));
        }
        case nlohmann::json::value_t::number_float:
            return Value::floating(j.get<double>());
        case nlohmann::json::value_t::string: {
            // Python strings hold code points; bytes that are not UTF-8 have
            // no place in them.
            const auto& s = j.get_ref<const std::string&>();
            if (!utf8_valid(s))
                throw Error(ErrorKind::bad_value, name, path, std::nullopt, "UTF-8 text",
                            "invalid UTF-8");
            return Value::string(s);
        }
        case nlohmann::json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            size_t i = 0;
            for (const auto& e : j)
                items.push_back(from_json(e, name, fmt::format("{}[{}]", path, i++), depth + 1));
            return Value::list(std::move(items));
        }
        case nlohmann::json::value_t::object: {
            Dict d;
            d.items.reserve(j.size());
            for (const auto& [k, v] : j.items()) {
                if (!utf8_valid(k))
                    throw Error(ErrorKind::bad_value, name, path, std::nullopt, "UTF-8 keys",
                                "invalid UTF-8");
                d.items.emplace_back(Value::string(k),
                                     from_json(v, name, path + "." + k, depth + 1));
            }
            return Value::dict(std::move(d));
        }
        default:
            throw Error(ErrorKind::unsupported, name, path, std::nullopt, "a JSON value",
                        "binary data");
    }
}

}  // namespace

Template::Template(std::string_view source, std::string name) : program_(parse(source, name)) {}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

const std::string& Template::name() const {
    return program_->name;
}

std::string Template::render(const nlohmann::ordered_json& variables,
                             const RenderOptions& options) const {
    if (!variables.is_object())
        throw Error(ErrorKind::invalid_argument, program_->name, "variables", std::nullopt,
                    "a JSON object", variables.type_name());
    Dict globals;
    try {
        for (const auto& [k, v] : variables.items())
            globals.set(Value::string(k), from_json(v, program_->name, k, 1));
    } catch (const Failure& f) {
        throw Error(f.kind, program_->name, "variables", std::nullopt, f.expected, f.message);
    }
    Interpreter interpreter(*program_, globals, options);
    return interpreter.render();
}

std::string render_chat(const Template& tpl, const ChatRequest& request,
                        const RenderOptions& options) {
    nlohmann::ordered_json vars = nlohmann::ordered_json::object();
    vars["messages"] = request.messages;
    vars["tools"] = request.tools;
    vars["documents"] = nullptr;
    vars["add_generation_prompt"] = request.add_generation_prompt;
    vars["bos_token"] = request.bos_token;
    vars["eos_token"] = request.eos_token;
    if (request.extra.is_object())
        for (const auto& [k, v] : request.extra.items()) vars[k] = v;
    return tpl.render(vars, options);
}

}  // namespace slim::jinja
