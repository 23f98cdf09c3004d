// Splits template source into tokens the way jinja2's lexer does with the
// settings Hugging Face renders chat templates under: trim_blocks and
// lstrip_blocks on, keep_trailing_newline off, default delimiters.
//
// What that means for whitespace, which a chat template's output depends on:
//  - a single newline at the very end of the template is dropped;
//  - `{%-`, `{{-`, `{#-` strip all whitespace before the tag, `-%}` `-}}`
//    `-#}` all whitespace after it;
//  - `%}` and `#}` swallow one newline right after them (trim_blocks);
//  - spaces and tabs from the start of a line up to `{%` or `{#` are removed
//    (lstrip_blocks), unless the tag is written `{%+`; `+%}` keeps the newline.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slim::jinja {

enum class Tok : uint8_t {
    data,            // text outside tags
    variable_begin,  // {{
    variable_end,    // }}
    block_begin,     // {%
    block_end,       // %}
    name,
    string,  // value holds the unescaped text
    integer,
    floating,
    op,  // value holds the operator text: "+", "//", "(", ...
    eof,
};

struct Token {
    Tok type;
    std::string value;
    uint32_t offset;  // byte offset in the source after newline normalisation
    uint32_t line;    // 1-based
};

// Throws slim::Error (bad_value) for a malformed template: an unterminated
// comment or string, an unexpected character, unbalanced brackets.
std::vector<Token> tokenize(std::string_view source, const std::string& template_name);

}  // namespace slim::jinja
