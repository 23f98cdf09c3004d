// The generation loop: prompt in, streamed text out, with stop strings and
// end-of-generation tokens, and the timings `slim run` reports.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer.h"

namespace slim {

struct GenerateOptions {
    int n_predict = 256;            // at most this many new tokens; < 0: until the context is full
    std::vector<std::string> stop;  // generation ends before the first of these strings
    bool stop_at_eog = true;        // end at EOS/EOT (the token itself is not printed)
};

enum class StopReason { length, eog, stop_string, context_full, cancelled };
const char* stop_reason_name(StopReason reason);

struct GenerateResult {
    StopReason reason = StopReason::length;
    int n_prompt = 0;
    int n_generated = 0;
    double prompt_seconds = 0;
    double generate_seconds = 0;
    std::vector<TokenId> tokens;  // the generated ids
};

// Feeds `prompt` into the cache, then samples until a stop condition. Each
// piece of text that is final (valid UTF-8, not part of a possible stop
// string) goes to on_text; returning false from it cancels. Throws Error when
// the prompt does not fit the context.
GenerateResult generate(Model& model, KvCache& cache, const Tokenizer& tokenizer, Sampler& sampler,
                        std::span<const TokenId> prompt, const GenerateOptions& options,
                        const std::function<bool(std::string_view)>& on_text);

// Holds back text that might be the start of a stop string. push() returns
// the text that is safe to show; stopped() tells when a stop string appeared
// (the text before it was returned, the rest dropped).
class StopStringFilter {
  public:
    explicit StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}
    std::string push(std::string_view text);
    std::string finish();  // what is held back, when generation ends otherwise
    bool stopped() const { return stopped_; }

  private:
    std::vector<std::string> stops_;
    std::string held_;
    bool stopped_ = false;
};

}  // namespace slim
