// top_k_candidates against the definition it keeps: every logit above -inf
// ranked by value (equal values by id, as a stable sort by value leaves
// them), the first k taken.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "runtime/sampler.h"

namespace slim {
namespace {

std::vector<int32_t> ranked_ids(const std::vector<float>& logits, size_t k) {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < logits.size(); ++i)
        if (logits[i] > -std::numeric_limits<float>::infinity()) ids.push_back(int32_t(i));
    std::stable_sort(ids.begin(), ids.end(),
                     [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)]; });
    ids.resize(std::min(k, ids.size()));
    return ids;
}

std::vector<int32_t> top_k_ids(const std::vector<float>& logits, size_t k) {
    std::vector<SamplerCandidate> out;
    top_k_candidates(logits, k, out);
    std::vector<int32_t> ids;
    for (const SamplerCandidate& c : out) {
        EXPECT_EQ(c.logit, logits[size_t(c.id)]);
        ids.push_back(c.id);
    }
    return ids;
}

TEST(TopKCandidates, EqualsTheRankedPrefix) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 4.0f);
    const size_t n = 262144;  // Gemma 3's vocabulary
    std::vector<float> logits(n);
    // Values on a grid of 1/8 so that many tie, some banned (-inf).
    for (float& l : logits) l = std::round(normal(rng) * 8) / 8;
    for (size_t i = 0; i < n; i += 97) logits[i] = -std::numeric_limits<float>::infinity();
    for (size_t k : {size_t(1), size_t(2), size_t(40), size_t(1000), n - 100, n, n + 5})
        EXPECT_EQ(top_k_ids(logits, k), ranked_ids(logits, k)) << "k " << k;
}

TEST(TopKCandidates, EveryLogitRaisingTheBar) {
    // Increasing logits: each one enters and the kept ones are cut again and again.
    std::vector<float> up(100000);
    std::iota(up.begin(), up.end(), -50000.0f);
    std::vector<float> down(up.rbegin(), up.rend());
    std::vector<float> equal(100000, 1.5f);
    for (const std::vector<float>* logits : {&up, &down, &equal})
        for (size_t k : {size_t(1), size_t(40), size_t(777)})
            EXPECT_EQ(top_k_ids(*logits, k), ranked_ids(*logits, k)) << "k " << k;
}

TEST(Sampler, NanLogitsAreNeverDrawn) {
    std::vector<float> logits(1000, std::numeric_limits<float>::quiet_NaN());
    logits[123] = 0.5f;
    logits[456] = 0.25f;
    for (int top_k : {0, 40}) {
        SamplerParams p;
        p.top_k = top_k;
        p.top_p = 1.0f;
        p.min_p = 0.0f;
        Sampler sampler(p);
        for (int i = 0; i < 20; ++i) {
            std::vector<float> copy = logits;
            const int32_t id = sampler.sample(copy);
            EXPECT_TRUE(id == 123 || id == 456) << "top_k " << top_k << ": " << id;
        }
    }
}

TEST(TopKCandidates, NothingAboveMinusInfinity) {
    std::vector<float> logits(1000, -std::numeric_limits<float>::infinity());
    EXPECT_TRUE(top_k_ids(logits, 40).empty());
    EXPECT_TRUE(top_k_ids({}, 40).empty());
}

TEST(Sampler, TopKOfOneIsTheFirstHighestLogit) {
    SamplerParams p;
    p.top_k = 1;
    p.temperature = 5.0f;
    Sampler sampler(p);
    std::vector<float> logits(50000, 0.0f);
    logits[31337] = 2.0f;
    logits[40000] = 2.0f;
    for (int i = 0; i < 10; ++i) {
        std::vector<float> copy = logits;
        EXPECT_EQ(sampler.sample(copy), 31337);
    }
}

}  // namespace
}  // namespace slim
