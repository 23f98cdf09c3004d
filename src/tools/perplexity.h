// Perplexity over a text, computed the way llama.cpp's llama-perplexity does
// (tools/perplexity/perplexity.cpp, the default mode), so the figures compare
// one to one with those published for llama.cpp:
//
//   - the whole text is tokenized once, with BOS first where the vocabulary
//     adds one, special-token text left as text;
//   - the tokens are cut into n_chunk = n_tokens / n_ctx chunks of n_ctx
//     (the tail is dropped), and at least 2 * n_ctx tokens are required;
//   - each chunk runs from an empty KV cache, its first token replaced by BOS
//     where the vocabulary adds one;
//   - only the second half is scored, so every scored token has at least
//     n_ctx / 2 tokens of context: the logits at positions n_ctx/2 .. n_ctx-2
//     predict the tokens after them (n_ctx - n_ctx/2 - 1 per chunk);
//   - nll = -log_softmax(logits)[next], with a float maximum and a double sum
//     of exps, as llama.cpp does; ppl = exp(mean nll), and its standard error
//     is ppl * sqrt((mean(nll^2) - mean(nll)^2) / (count - 1)).
//
// Library code: no I/O; progress is reported through a callback.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"
#include "runtime/tokenizer.h"

namespace slim {

struct PerplexityOptions {
    int n_ctx = 512;     // tokens per chunk
    int n_batch = 0;     // tokens per forward batch; 0: the scored half of a chunk at once
    int n_chunks = -1;   // at most this many chunks; -1: all
    std::string source;  // names the text in errors (a file path)
};

struct PerplexityProgress {
    int chunks_done = 0;
    int n_chunks = 0;
    double ppl = 0;      // running estimate over the chunks done
    double seconds = 0;  // since the first chunk started
};

struct PerplexityResult {
    int n_tokens = 0;  // of the whole text
    int n_ctx = 0;
    int n_chunks = 0;               // chunks evaluated
    int n_scored = 0;               // tokens scored
    std::vector<double> chunk_ppl;  // running ppl after each chunk, as llama.cpp prints [1]..[n]
    double nll_mean = 0;
    double ppl = 0;
    double ppl_stderr = 0;  // 0 when fewer than two tokens were scored
    double seconds = 0;
};

// The tokens llama-perplexity scores: the text with add_special, no special
// parsing. Throws Error(invalid_argument) for an empty text or fewer than
// 2 * options.n_ctx tokens (llama.cpp's condition, whatever --chunks asks),
// Error(unsupported) for a vocabulary that appends EOS (it would be scored as
// text). Needs no model, so a bad text is reported before one is loaded.
std::vector<TokenId> perplexity_tokenize(const Tokenizer& tokenizer, std::string_view text,
                                         const PerplexityOptions& options);

// The token each chunk starts with: BOS where the vocabulary adds one, else
// kTokenNull (the chunk keeps its own first token).
TokenId perplexity_bos(const Tokenizer& tokenizer);

// Scores tokens made by perplexity_tokenize. Throws Error(invalid_argument)
// for too few tokens, n_ctx above the model's trained context or below 4, a
// negative batch, a chunk count of 0 or below -1.
PerplexityResult perplexity_tokens(
    Model& model, Backend& backend, std::span<const TokenId> tokens, TokenId bos,
    const PerplexityOptions& options,
    const std::function<void(const PerplexityProgress&)>& progress = {});

// The walk perplexity_tokens makes, for other verbs that score the same
// positions (slim kld): every chunk is evaluated as described above and
// `row` is called once per scored position, in order, with the n_vocab
// logits at that position and the token that follows it (already checked to
// be a vocabulary id); `chunk_done` after each chunk with the chunks done so
// far, the number of chunks and the seconds since the first one started.
// Checks the options and the length as perplexity_tokens does. Returns the
// number of chunks evaluated.
int for_each_scored_position(
    Model& model, Backend& backend, std::span<const TokenId> tokens, TokenId bos,
    const PerplexityOptions& options,
    const std::function<void(std::span<const float> logits, TokenId next)>& row,
    const std::function<void(int chunks_done, int n_chunks, double seconds)>& chunk_done = {});

// Tokens scored per chunk of n_ctx: n_ctx - n_ctx / 2 - 1.
inline int scored_per_chunk(int n_ctx) {
    return n_ctx - n_ctx / 2 - 1;
}

// Checks the options against the model: Error(invalid_argument) for n_ctx
// above the model's trained context or below 4, a negative batch, a chunk
// count of 0 or below -1.
void check_perplexity_options(const Model& model, const PerplexityOptions& options);

// Both steps at once.
PerplexityResult perplexity(Model& model, Backend& backend, const Tokenizer& tokenizer,
                            std::string_view text, const PerplexityOptions& options,
                            const std::function<void(const PerplexityProgress&)>& progress = {});

// -log_softmax(logits)[token] as llama.cpp computes it.
double token_nll(std::span<const float> logits, TokenId token);

// log(sum(exp(logits))): a float maximum, the exps and their sum in double.
double log_sum_exp(std::span<const float> logits);

}  // namespace slim
