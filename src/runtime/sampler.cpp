#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "format/error.h"

namespace slim {

void validate(const SamplerParams& p) {
    auto bad = [](const char* name, const char* expected, float v) {
        throw Error(ErrorKind::invalid_argument, "", name, std::nullopt, expected,
                    std::to_string(v));
    };
    if (!std::isfinite(p.temperature)) bad("temperature", "a finite number", p.temperature);
    if (p.top_k < 0) bad("top_k", ">= 0", float(p.top_k));
    if (!(p.top_p > 0 && p.top_p <= 1)) bad("top_p", "in (0, 1]", p.top_p);
    if (!(p.min_p >= 0 && p.min_p <= 1)) bad("min_p", "in [0, 1]", p.min_p);
    if (!(p.typical_p > 0 && p.typical_p <= 1)) bad("typical_p", "in (0, 1]", p.typical_p);
    if (!(p.repeat_penalty > 0) || !std::isfinite(p.repeat_penalty))
        bad("repeat_penalty", "> 0", p.repeat_penalty);
    if (!std::isfinite(p.presence_penalty))
        bad("presence_penalty", "a finite number", p.presence_penalty);
    if (!std::isfinite(p.frequency_penalty))
        bad("frequency_penalty", "a finite number", p.frequency_penalty);
    if (p.penalty_last_n < 0) bad("penalty_last_n", ">= 0", float(p.penalty_last_n));
}

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {
    validate(params);
}

void Sampler::reset() {
    recent_.clear();
    rng_.seed(params_.seed);
}

void Sampler::accept(int32_t token) {
    recent_.push_back(token);
    const size_t keep = size_t(std::max(params_.penalty_last_n, 0));
    if (recent_.size() > 4 * keep + 64) recent_.erase(recent_.begin(), recent_.end() - long(keep));
}

void Sampler::apply_penalties(std::span<float> logits) const {
    const bool any = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0 ||
                     params_.frequency_penalty != 0;
    if (any && params_.penalty_last_n > 0) {
        std::unordered_map<int32_t, int> counts;
        const size_t n = std::min(recent_.size(), size_t(params_.penalty_last_n));
        for (size_t i = recent_.size() - n; i < recent_.size(); ++i) ++counts[recent_[i]];
        for (const auto& [id, count] : counts) {
            if (id < 0 || size_t(id) >= logits.size()) continue;
            float& l = logits[size_t(id)];
            l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
            l -= float(count) * params_.frequency_penalty + params_.presence_penalty;
        }
    }
    for (const auto& [id, bias] : params_.logit_bias) {
        if (id >= 0 && size_t(id) < logits.size()) logits[size_t(id)] += bias;
    }
}

namespace {

// Higher logits first; among equal logits, lower ids.
bool ranks_before(const SamplerCandidate& a, const SamplerCandidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

void top_k_candidates(std::span<const float> logits, size_t k, std::vector<SamplerCandidate>& out) {
    out.clear();
    if (k == 0) return;
    // One pass with a running bar: a logit enters only above the k-th best
    // so far, and the kept ones are cut back to k whenever they reach 4k
    // (plus some). On a 256K vocabulary this reads the logits once instead
    // of copying and heap-sorting 3 MB of candidates (1.45 ms a token, Gemma 3).
    // A logit equal to the bar ranks after every kept one of that value (its
    // id is higher), so it cannot enter; nor can NaN.
    const size_t cap = 4 * k + 256;
    float bar = -std::numeric_limits<float>::infinity();
    constexpr size_t kStride = 64;  // logits checked at once, in a loop the compiler vectorises
    for (size_t start = 0; start < logits.size(); start += kStride) {
        const size_t end = std::min(logits.size(), start + kStride);
        int above = 0;
        for (size_t i = start; i < end; ++i) above += logits[i] > bar;
        if (above == 0) continue;
        for (size_t i = start; i < end; ++i) {
            if (!(logits[i] > bar)) continue;
            out.push_back({int32_t(i), logits[i], 0});
            if (out.size() >= cap) {
                std::nth_element(out.begin(), out.begin() + long(k - 1), out.end(), ranks_before);
                out.resize(k);
                bar = out[k - 1].logit;
            }
        }
    }
    const size_t n = std::min(k, out.size());
    std::partial_sort(out.begin(), out.begin() + long(n), out.end(), ranks_before);
    out.resize(n);
}

int32_t Sampler::sample(std::span<float> logits) {
    apply_penalties(logits);
    if (params_.temperature <= 0) {
        return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }

    candidates_.clear();
    if (params_.top_k > 0) {
        top_k_candidates(logits, size_t(params_.top_k), candidates_);
    } else {
        for (size_t i = 0; i < logits.size(); ++i) {
            // Not NaN either: std::sort needs an order.
            if (logits[i] > -std::numeric_limits<float>::infinity())
                candidates_.push_back({int32_t(i), logits[i], 0});
        }
        std::sort(candidates_.begin(), candidates_.end(), ranks_before);
    }
    if (candidates_.empty())
        return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    auto by_logit = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit; };

    auto softmax = [&] {
        const float m = candidates_.front().logit;
        double sum = 0;
        for (Candidate& c : candidates_) sum += (c.p = std::exp(c.logit - m));
        for (Candidate& c : candidates_) c.p = float(c.p / sum);
    };
    softmax();

    if (params_.typical_p < 1.0f && candidates_.size() > 1) {
        // Locally typical sampling: keep the tokens whose surprise is closest
        // to the distribution's entropy until typical_p of the mass is covered.
        double entropy = 0;
        for (const Candidate& c : candidates_) entropy -= c.p > 0 ? c.p * std::log(c.p) : 0;
        std::vector<std::pair<double, size_t>> order;
        for (size_t i = 0; i < candidates_.size(); ++i) {
            order.emplace_back(std::abs(-std::log(std::max(candidates_[i].p, 1e-30f)) - entropy),
                               i);
        }
        std::stable_sort(order.begin(), order.end());
        double cum = 0;
        std::vector<Candidate> kept;
        for (const auto& [score, i] : order) {
            kept.push_back(candidates_[i]);
            cum += candidates_[i].p;
            if (cum >= params_.typical_p) break;
        }
        std::stable_sort(kept.begin(), kept.end(), by_logit);
        candidates_ = std::move(kept);
        softmax();
    }
    if (params_.top_p < 1.0f) {
        double cum = 0;
        size_t keep = candidates_.size();
        for (size_t i = 0; i < candidates_.size(); ++i) {
            cum += candidates_[i].p;
            if (cum >= params_.top_p) {
                keep = i + 1;
                break;
            }
        }
        candidates_.resize(keep);
        softmax();
    }
    if (params_.min_p > 0) {
        const float threshold = candidates_.front().p * params_.min_p;
        size_t keep = 1;
        while (keep < candidates_.size() && candidates_[keep].p >= threshold) ++keep;
        candidates_.resize(keep);
    }
    for (Candidate& c : candidates_) c.logit /= params_.temperature;
    softmax();

    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    double r = uniform(rng_), cum = 0;
    for (const Candidate& c : candidates_) {
        cum += c.p;
        if (r < cum) return c.id;
    }
    return candidates_.back().id;
}

}  // namespace slim
