// The BPE pre-tokenizer: splits text into words before merges run, by the
// regular expressions that tokenizer.ggml.pre selects.
//
// llama.cpp applies a list of expressions in turn; each one splits every
// piece the previous ones left into its matches and the gaps between them
// (both kept), never looking across a piece boundary. slim does the same with
// PCRE2 (UTF + UCP, JIT-compiled). The expressions are llama.cpp's, rewritten
// where std::regex and PCRE2 read the same text differently: `\s` becomes the
// White_Space property (PCRE2's \s omits U+0085), `\d` ASCII digits, and the
// letter subclasses \p{Lu} etc. any letter, as llama.cpp's collapsed
// categories treat them.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "runtime/vocab.h"

namespace slim {

struct TextSpan {
    uint32_t offset = 0;
    uint32_t length = 0;
};

class PreTokenizer {
  public:
    explicit PreTokenizer(PreType type);
    ~PreTokenizer();
    PreTokenizer(PreTokenizer&&) noexcept;
    PreTokenizer& operator=(PreTokenizer&&) noexcept;

    // Splits `text`, which must be valid UTF-8 (surrogates aside, as
    // unicode::sanitize_utf8 leaves it), into words, replacing `words`.
    void split(std::string_view text, std::vector<TextSpan>& words) const;

    // The expressions in the order they apply, as PCRE2 compiles them.
    const std::vector<std::string>& patterns() const { return patterns_; }

  private:
    struct Regex;
    std::vector<std::string> patterns_;
    std::vector<std::unique_ptr<Regex>> regexes_;
    bool split_newlines_ = false;  // "[^\n]+|[\n]+", done without a regex
};

// llama.cpp's expression rewritten for PCRE2 (see the file comment).
std::string pcre2_pattern_from_llama(std::string_view pattern);

}  // namespace slim
