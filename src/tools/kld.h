// KL divergence between the next-token distributions of two models over a
// text (`slim kld`), the way llama.cpp's `llama-perplexity --kl-divergence`
// does it but with a much smaller logits file:
//
//   1. the base model runs over the text exactly as `slim perplexity` does
//      (same tokens, chunks, BOS and scored second halves, see
//      tools/perplexity.h) and, for every scored position, the top-k
//      log-probabilities, the log-sum-exp of the logits and the log-prob of
//      the token that follows are saved (docs/FORMATS.md, "KLD logits");
//   2. the other model runs over the same chunks and is compared position by
//      position with the saved file.
//
// The KL estimator, per position, with S the base's top-k ids, p the base's
// and q the other's probabilities:
//
//   KL_k = sum_{i in S} p_i log(p_i / q_i) + p_rest log(p_rest / q_rest),
//   p_rest = 1 - sum_{i in S} p_i,   q_rest = 1 - sum_{i in S} q_i.
//
// That is the exact KL between the two distributions coarsened to k + 1
// outcomes (the top-k ids, and "any other token" as one bucket). By the
// log-sum inequality KL_k <= KL(p || q), with equality when q is proportional
// to p outside S; the gap is at most p_rest times the KL of the two tails, so
// with k = 32 it is small wherever the base is confident.
//
// Library code: no printing; progress through a callback.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/tokenizer.h"
#include "tools/perplexity.h"

namespace slim {

constexpr uint32_t kKldFormatVersion = 1;
constexpr int kKldDefaultTopK = 32;

// What a logits file says about how it was made; checked against the other
// model and text before anything is evaluated.
struct KldHeader {
    uint32_t version = kKldFormatVersion;
    uint32_t n_vocab = 0;      // logits per position of the base model
    uint64_t vocab_hash = 0;   // kld_vocab_hash of its vocabulary
    uint64_t tokens_hash = 0;  // kld_tokens_hash of the whole tokenized text
    uint32_t n_tokens = 0;     // tokens in the whole text
    uint32_t n_ctx = 0;
    uint32_t n_chunks = 0;
    uint32_t top_k = 0;
    uint32_t n_positions = 0;  // n_chunks * (n_ctx - n_ctx/2 - 1)
    std::string model_name;    // the base model (general.name, else its file name)
    std::string text_name;     // the text file's name, for messages only
};

// The base side: per scored position, in order, the top_k ids with their
// log-probabilities (descending), the log-sum-exp of the logits and the
// log-probability of the token that follows.
struct KldLogits {
    KldHeader header;
    std::vector<TokenId> tokens;   // the whole tokenized text (n_tokens)
    std::vector<int32_t> top_ids;  // n_positions * top_k
    std::vector<float> top_logp;   // n_positions * top_k
    std::vector<float> lse;        // n_positions
    std::vector<float> next_logp;  // n_positions
};

struct KldProgress {
    int chunks_done = 0;
    int n_chunks = 0;
    double seconds = 0;
    double kl_mean = 0;  // running mean KL (0 while saving)
};

struct KldResult {
    int n_positions = 0;
    double kl_mean = 0, kl_stderr = 0, kl_median = 0, kl_p99 = 0, kl_max = 0;
    double ppl_base = 0, ppl_other = 0;  // exp(mean nll) over the scored positions
    double top1 = 0;                     // fraction where the other's argmax is the base's argmax
    double top5 = 0;                     // fraction where the base's argmax is in the other's top 5
    double seconds = 0;
};

// FNV-1a 64 over each token's text as a little-endian u32 length and its
// bytes, in id order: two vocabularies hash equal when every id maps to the
// same text.
uint64_t kld_vocab_hash(const Vocab& vocab);
// FNV-1a 64 over the token ids as little-endian i32.
uint64_t kld_tokens_hash(std::span<const TokenId> tokens);

// Step 1: runs the base model and keeps what the file holds. `tokens` come
// from perplexity_tokenize; options as for perplexity_tokens. Throws as
// perplexity_tokens does, and Error(invalid_argument) for top_k outside
// 1 .. n_vocab.
KldLogits kld_save(Model& model, Backend& backend, const Tokenizer& tokenizer,
                   std::span<const TokenId> tokens, const PerplexityOptions& options, int top_k,
                   std::string model_name, std::string text_name,
                   const std::function<void(const KldProgress&)>& progress = {});

void write_kld_logits(const KldLogits& logits, const std::filesystem::path& path);

// Reads and checks a file written by write_kld_logits: Error(bad_magic) for
// another kind of file, Error(unsupported) for another version,
// Error(truncated) / Error(too_large) when its size is not what the header
// says, Error(bad_value) for inconsistent header fields.
KldLogits read_kld_logits(const std::filesystem::path& path);

// Checks that the other model is the base's kind: Error(bad_value) for a
// different vocabulary (size or hash). `source` names the other model.
void check_kld_vocab(const KldHeader& base, const std::string& source, uint32_t n_vocab,
                     uint64_t vocab_hash);
// Checks a text given again with the other model: Error(bad_value) when its
// tokens are not the base's, Error(invalid_argument) for another context.
void check_kld_text(const KldHeader& base, const std::string& source,
                    std::span<const TokenId> tokens, int n_ctx);

// Step 2: runs the other model over the base's tokens and chunks and
// compares. The caller has checked the vocabulary; n_ctx and the chunk count
// are the base's, options.n_batch and source are used.
KldResult kld_compare(Model& model, Backend& backend, TokenId bos, const KldLogits& base,
                      const PerplexityOptions& options,
                      const std::function<void(const KldProgress&)>& progress = {});

// The KL estimator above for one position: the base's top-k ids and
// log-probs, and the other's log-probs for every id.
double kld_topk_estimate(std::span<const int32_t> ids, std::span<const float> base_logp,
                         std::span<const float> other_logits, double other_lse);

// Linear interpolation between order statistics, as numpy.percentile's
// default; `sorted` ascending and non-empty, fraction in [0, 1].
double percentile_sorted(std::span<const double> sorted, double fraction);

}  // namespace slim
