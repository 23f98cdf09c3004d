#include "runtime/generate.h"

#include <chrono>

#include "format/error.h"

namespace slim {

const char* stop_reason_name(StopReason reason) {
    switch (reason) {
        case StopReason::length:
            return "length";
        case StopReason::eog:
            return "eog";
        case StopReason::stop_string:
            return "stop";
        case StopReason::context_full:
            return "context_full";
        case StopReason::cancelled:
            return "cancelled";
    }
    return "unknown";
}

std::string StopStringFilter::push(std::string_view text) {
    if (stopped_) return {};
    held_ += text;
    size_t cut = std::string::npos;
    for (const std::string& s : stops_) {
        if (s.empty()) continue;
        size_t at = held_.find(s);
        if (at != std::string::npos && at < cut) cut = at;
    }
    if (cut != std::string::npos) {
        stopped_ = true;
        std::string out = held_.substr(0, cut);
        held_.clear();
        return out;
    }
    // Keep the longest tail that is a proper prefix of some stop string.
    size_t keep = 0;
    for (const std::string& s : stops_) {
        for (size_t len = std::min(s.size() - (s.empty() ? 0 : 1), held_.size()); len > keep;
             --len) {
            if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
                keep = len;
                break;
            }
        }
    }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

std::string StopStringFilter::finish() {
    std::string out = stopped_ ? std::string() : held_;
    held_.clear();
    return out;
}

GenerateResult generate(Model& model, KvCache& cache, const Tokenizer& tokenizer, Sampler& sampler,
                        std::span<const TokenId> prompt, const GenerateOptions& options,
                        const std::function<bool(std::string_view)>& on_text) {
    using clock = std::chrono::steady_clock;
    GenerateResult result;
    result.n_prompt = int(prompt.size());
    if (prompt.empty()) {
        throw Error(ErrorKind::invalid_argument, "", "prompt", std::nullopt, "at least one token",
                    "none");
    }
    const int n_vocab = model.config().n_vocab;
    std::vector<float> logits(static_cast<size_t>(n_vocab));

    auto t0 = clock::now();
    for (TokenId t : prompt) sampler.accept(t);
    model.forward(prompt, cache, logits, false);
    auto t1 = clock::now();
    result.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

    TokenStreamDecoder decoder(tokenizer);
    StopStringFilter filter(options.stop);
    bool cancelled = false;
    auto emit = [&](std::string_view text) {
        if (!text.empty() && !cancelled && !on_text(text)) cancelled = true;
    };

    const int limit = options.n_predict < 0 ? INT32_MAX : options.n_predict;
    result.reason = StopReason::length;
    while (result.n_generated < limit) {
        const TokenId next = sampler.sample(logits);
        if (options.stop_at_eog && tokenizer.vocab().is_eog(next)) {
            result.reason = StopReason::eog;
            break;
        }
        sampler.accept(next);
        result.tokens.push_back(next);
        ++result.n_generated;
        emit(filter.push(decoder.push(next)));
        if (filter.stopped()) {
            result.reason = StopReason::stop_string;
            break;
        }
        if (cancelled) {
            result.reason = StopReason::cancelled;
            break;
        }
        if (result.n_generated == limit) break;
        if (cache.n_used() >= cache.n_ctx()) {
            result.reason = StopReason::context_full;
            break;
        }
        model.forward(std::span<const TokenId>(&next, 1), cache, logits, false);
    }
    if (result.reason != StopReason::stop_string && result.reason != StopReason::cancelled) {
        emit(filter.push(decoder.finish()));
        emit(filter.finish());
    }
    result.generate_seconds = std::chrono::duration<double>(clock::now() - t1).count();
    return result;
}

}  // namespace slim
