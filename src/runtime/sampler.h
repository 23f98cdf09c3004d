// Picks the next token from logits: penalties and logit bias, then the
// truncation samplers (top-k, typical-p, top-p, min-p), then temperature and a
// draw — the order llama.cpp's default chain uses. Temperature <= 0 is greedy.
// The same seed and settings on the same logits give the same tokens.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

namespace slim {

struct SamplerParams {
    float temperature = 0.8f;
    int top_k = 40;                  // 0 = off
    float top_p = 0.95f;             // 1 = off
    float min_p = 0.05f;             // 0 = off
    float typical_p = 1.0f;          // 1 = off
    float repeat_penalty = 1.0f;     // 1 = off; divides positive logits, multiplies negative ones
    float presence_penalty = 0.0f;   // subtracted once from every token seen
    float frequency_penalty = 0.0f;  // subtracted per occurrence
    int penalty_last_n = 64;         // how many recent tokens the penalties look at
    std::unordered_map<int32_t, float> logit_bias;  // added to a token's logit (-inf bans it)
    uint64_t seed = 0;
};

struct SamplerCandidate {
    int32_t id;
    float logit;
    float p;
};

// The k highest logits (fewer where fewer are above -inf; NaN never) as
// candidates, highest first, equal logits by id; p is 0.
void top_k_candidates(std::span<const float> logits, size_t k, std::vector<SamplerCandidate>& out);

// Throws Error(invalid_argument) naming the parameter when one is out of range.
void validate(const SamplerParams& params);

class Sampler {
  public:
    explicit Sampler(const SamplerParams& params);

    // Chooses a token; `logits` (one per vocabulary entry) may be modified.
    int32_t sample(std::span<float> logits);
    // Tells the penalties which token was emitted (prompt tokens too, if wanted).
    void accept(int32_t token);
    void reset();

  private:
    using Candidate = SamplerCandidate;
    void apply_penalties(std::span<float> logits) const;

    SamplerParams params_;
    std::mt19937_64 rng_;
    std::vector<int32_t> recent_;
    std::vector<Candidate> candidates_;
};

}  // namespace slim
