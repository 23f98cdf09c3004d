#include "tools/perplexity.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "format/error.h"

namespace slim {

namespace {

Error invalid(const PerplexityOptions& o, std::string field, std::string expected,
              std::string found) {
    return Error(ErrorKind::invalid_argument, o.source, std::move(field), std::nullopt,
                 std::move(expected), std::move(found));
}

void check_ctx(const PerplexityOptions& o) {
    if (o.n_ctx < 4)
        throw invalid(o, "--ctx-size", "a context of at least 4 tokens", std::to_string(o.n_ctx));
}

void check_options(const Model& model, const PerplexityOptions& o) {
    const int n_ctx_train = model.config().n_ctx_train;
    check_ctx(o);
    if (n_ctx_train > 0 && o.n_ctx > n_ctx_train) {
        throw invalid(o, "--ctx-size",
                      fmt::format("at most the model's trained context of {} tokens", n_ctx_train),
                      std::to_string(o.n_ctx));
    }
    if (o.n_batch < 0)
        throw invalid(o, "--batch-size", "a batch of at least 1 token", std::to_string(o.n_batch));
    if (o.n_chunks == 0 || o.n_chunks < -1) {
        throw invalid(o, "--chunks", "at least 1 chunk (or -1 for all)",
                      std::to_string(o.n_chunks));
    }
}

void check_length(int64_t n_tokens, const PerplexityOptions& o) {
    check_ctx(o);
    if (n_tokens == 0) throw invalid(o, "text", "a non-empty text", "an empty text");
    // llama.cpp's condition: two chunks' worth, even when --chunks asks for one.
    if (n_tokens < 2 * int64_t(o.n_ctx)) {
        throw invalid(o, "text",
                      fmt::format("at least {} tokens (2 x the context of {})",
                                  2 * int64_t(o.n_ctx), o.n_ctx),
                      fmt::format("{} tokens", n_tokens));
    }
}

}  // namespace

std::vector<TokenId> perplexity_tokenize(const Tokenizer& tokenizer, std::string_view text,
                                         const PerplexityOptions& options) {
    if (text.empty()) throw invalid(options, "text", "a non-empty text", "an empty text");
    if (tokenizer.vocab().flags().add_eos) {
        throw Error(ErrorKind::unsupported, options.source, "tokenizer.ggml.add_eos_token",
                    std::nullopt, "a vocabulary that does not append EOS", "add_eos_token = true");
    }
    std::vector<TokenId> tokens =
        tokenizer.tokenize(text, /*add_special=*/true, /*parse_special=*/false);
    check_length(int64_t(tokens.size()), options);
    return tokens;
}

TokenId perplexity_bos(const Tokenizer& tokenizer) {
    return tokenizer.vocab().flags().add_bos ? tokenizer.vocab().special().bos : kTokenNull;
}

double token_nll(std::span<const float> logits, TokenId token) {
    // llama.cpp's log_softmax(): the maximum and the differences in float, the
    // sum of float exps in double. Kept as is so the figures match its own.
    float max_logit = logits[0];
    for (float v : logits) max_logit = std::max(max_logit, v);
    double sum_exp = 0;
    for (float v : logits) sum_exp += std::exp(v - max_logit);
    return -(double(logits[size_t(token)] - max_logit) - std::log(sum_exp));
}

double log_sum_exp(std::span<const float> logits) {
    float max_logit = logits[0];
    for (float v : logits) max_logit = std::max(max_logit, v);
    double sum = 0;
    for (float v : logits) sum += std::exp(double(v) - double(max_logit));
    return double(max_logit) + std::log(sum);
}

void check_perplexity_options(const Model& model, const PerplexityOptions& options) {
    check_options(model, options);
}

int for_each_scored_position(
    Model& model, Backend& backend, std::span<const TokenId> tokens, TokenId bos,
    const PerplexityOptions& options,
    const std::function<void(std::span<const float> logits, TokenId next)>& row,
    const std::function<void(int chunks_done, int n_chunks, double seconds)>& chunk_done) {
    check_options(model, options);
    const int n_ctx = options.n_ctx;
    const int n_tokens = int(tokens.size());
    check_length(n_tokens, options);

    int n_chunks = n_tokens / n_ctx;
    if (options.n_chunks > 0) n_chunks = std::min(n_chunks, options.n_chunks);

    const size_t n_vocab = size_t(model.config().n_vocab);
    const int first = n_ctx / 2;
    // Positions first .. n_ctx-2 are scored; the last token is only a target,
    // but it runs too, as in llama.cpp: the batches' row counts decide some
    // of its kernels' summation orders (backend/cpu/kernels.h, BatchOrder),
    // and whole halves of a chunk keep them those of one batch of n_ctx.
    const int n_score = scored_per_chunk(n_ctx);
    const int step =
        std::min(n_ctx - first, options.n_batch > 0 ? options.n_batch : model.max_batch());
    std::vector<float> logits(size_t(step) * n_vocab);
    std::vector<TokenId> chunk(static_cast<size_t>(n_ctx));
    KvCache cache(backend, model.config(), n_ctx);

    const auto t_start = std::chrono::steady_clock::now();
    for (int c = 0; c < n_chunks; ++c) {
        std::copy_n(tokens.begin() + int64_t(c) * n_ctx, n_ctx, chunk.begin());
        if (bos != kTokenNull) chunk[0] = bos;
        cache.clear();
        // The unscored first half needs no logits.
        model.forward(std::span<const TokenId>(chunk).first(size_t(first)), cache,
                      std::span<float>(logits).first(n_vocab), false);
        for (int begin = first; begin < n_ctx; begin += step) {
            const int n = std::min(step, n_ctx - begin);
            model.forward(std::span<const TokenId>(chunk).subspan(size_t(begin), size_t(n)), cache,
                          logits, true);
            for (int i = 0; i < n && begin + i < first + n_score; ++i) {
                const TokenId next = chunk[size_t(begin + i + 1)];
                if (next < 0 || size_t(next) >= n_vocab) {
                    throw invalid(options,
                                  fmt::format("token[{}]", int64_t(c) * n_ctx + begin + i + 1),
                                  fmt::format("an id below the model's {} tokens", n_vocab),
                                  std::to_string(next));
                }
                row(std::span<const float>(logits).subspan(size_t(i) * n_vocab, n_vocab), next);
            }
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
        if (chunk_done) chunk_done(c + 1, n_chunks, seconds);
    }
    return n_chunks;
}

PerplexityResult perplexity_tokens(Model& model, Backend& backend, std::span<const TokenId> tokens,
                                   TokenId bos, const PerplexityOptions& options,
                                   const std::function<void(const PerplexityProgress&)>& progress) {
    PerplexityResult r;
    r.n_tokens = int(tokens.size());
    r.n_ctx = options.n_ctx;
    double nll = 0, nll2 = 0;
    int count = 0;
    r.n_chunks = for_each_scored_position(
        model, backend, tokens, bos, options,
        [&](std::span<const float> logits, TokenId next) {
            const double v = token_nll(logits, next);
            nll += v;
            nll2 += v * v;
            ++count;
        },
        [&](int done, int n_chunks, double seconds) {
            r.chunk_ppl.push_back(std::exp(nll / count));
            r.seconds = seconds;
            if (progress) progress({done, n_chunks, r.chunk_ppl.back(), seconds});
        });

    r.n_scored = count;
    r.nll_mean = nll / count;
    r.ppl = std::exp(r.nll_mean);
    const double var = nll2 / count - r.nll_mean * r.nll_mean;
    r.ppl_stderr = (count > 1 && var > 0) ? r.ppl * std::sqrt(var / (count - 1)) : 0.0;
    return r;
}

PerplexityResult perplexity(Model& model, Backend& backend, const Tokenizer& tokenizer,
                            std::string_view text, const PerplexityOptions& options,
                            const std::function<void(const PerplexityProgress&)>& progress) {
    check_options(model, options);
    std::vector<TokenId> tokens = perplexity_tokenize(tokenizer, text, options);
    return perplexity_tokens(model, backend, tokens, perplexity_bos(tokenizer), options, progress);
}

}  // namespace slim
