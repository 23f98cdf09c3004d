// Which chat template a model uses: the one in its GGUF
// (`tokenizer.chat_template`), or, for files that carry none, the published
// template of its family. Some GGUFs (the default Gemma 3 270M among them)
// ship without a template, and ChatML — llama.cpp's fallback — is the wrong
// format for Gemma.
#pragma once

#include <string>

#include "format/gguf.h"

namespace slim {

struct ChatTemplateSource {
    std::string source;
    std::string origin;  // "tokenizer.chat_template" or "built-in <name>"
};

ChatTemplateSource chat_template_for(const GgufFile& file);

}  // namespace slim
