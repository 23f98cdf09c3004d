// Chat templates: a Jinja interpreter that renders like Python jinja2 does
// inside transformers' apply_chat_template (jinja2 3.1, sandboxed, with
// trim_blocks and lstrip_blocks, `tojson` as json.dumps(ensure_ascii=False),
// `raise_exception`, `strftime_now`, break/continue and `{% generation %}`).
//
// Goals: byte-identical output for the chat templates models ship, errors
// (typed slim::Error) rather than crashes or hangs for any input, and a
// clear `unsupported` error naming the construct where slim stops.
// Non-goals: template inheritance and includes (chat templates are one
// string), autoescaping, async, and any Python object beyond JSON values.
//
//     slim::jinja::Template tpl(source, "tokenizer.chat_template");
//     std::string prompt = slim::jinja::render_chat(tpl, request);
//
// Errors, all slim::Error with the template name and the line and byte
// offset of the offending construct:
//  - bad_value: a syntax error, or a run-time error jinja2 would raise too
//    (undefined attribute of an undefined value, a type error, ...);
//  - unsupported: a construct slim does not implement (found() names it);
//  - invalid_argument: the template called raise_exception(message), i.e.
//    it rejects the conversation; found() is the message;
//  - too_large: nesting, step or output limits (see RenderOptions).
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace slim::jinja {

struct Program;

struct RenderOptions {
    // What strftime_now() formats; unset means the local time at rendering.
    std::optional<std::tm> now;
    // Nested evaluation: macro calls within macro calls, expressions within
    // expressions. Python stops near 1000 frames; slim stops here.
    int max_depth = 1000;
    // Statements and expressions evaluated, loop iterations included.
    uint64_t max_steps = 20'000'000;
    // Any string the template builds, the output included.
    size_t max_output_bytes = 64u << 20;
};

class Template {
  public:
    // Parses `source`; throws slim::Error (see above). `name` labels errors.
    explicit Template(std::string_view source, std::string name = "template");
    ~Template();
    Template(Template&&) noexcept;
    Template& operator=(Template&&) noexcept;

    // Renders with `variables` (a JSON object) as the template's globals.
    // JSON null is Python None; a key that is absent is undefined.
    std::string render(const nlohmann::ordered_json& variables,
                       const RenderOptions& options = {}) const;

    const std::string& name() const;

  private:
    std::unique_ptr<Program> program_;
};

// What transformers' apply_chat_template passes to a template.
struct ChatRequest {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    // JSON schemas of the tools; null (the default) passes None, as
    // transformers does when no tools are given.
    nlohmann::ordered_json tools = nullptr;
    bool add_generation_prompt = true;
    std::string bos_token;
    std::string eos_token;
    // Further variables (enable_thinking, custom special tokens, ...); they
    // override the ones above.
    nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

// Renders `request` as transformers does: messages, tools, documents=None,
// add_generation_prompt, bos_token, eos_token, then `extra`.
std::string render_chat(const Template& tpl, const ChatRequest& request,
                        const RenderOptions& options = {});

}  // namespace slim::jinja
