// The CPU backend's attention against the textbook definition in double
// precision, softmax(scale * q K^T + mask) V, on F16-rounded q, K and V:
// bidirectional (causal = false, as encoders run it) and causal, with GQA,
// on a sequence that starts mid-buffer (rows_from), and on several packed
// sequences in one call (seq_starts), as an encoder's batch runs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "tensor/fp16.h"

namespace slim {
namespace {

float round_f16(float x) {
    return fp16_to_fp32(fp32_to_fp16(x));
}

struct AttnCase {
    bool causal;
    int n_head, n_head_kv;
};

class CpuAttention : public ::testing::TestWithParam<AttnCase> {};

TEST_P(CpuAttention, EqualsDefinition) {
    const AttnCase c = GetParam();
    const int head_dim = 32, n_before = 5, n = 11;  // a sequence of 11 after 5 other rows
    const int64_t wq = int64_t(c.n_head) * head_dim, wkv = int64_t(c.n_head_kv) * head_dim;
    auto be = make_cpu_backend({3});
    Tensor q = be->alloc(GgmlType::f32, wq, n_before + n);
    Tensor k = be->alloc(GgmlType::f32, wkv, n_before + n);
    Tensor v = be->alloc(GgmlType::f32, wkv, n_before + n);
    Tensor kc = be->alloc(GgmlType::f16, wkv, n_before + n);
    Tensor vc = be->alloc(GgmlType::f16, wkv, n_before + n);
    Tensor out = be->alloc(GgmlType::f32, wq, n_before + n);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t r = 0; r < n_before + n; ++r) {
        for (int64_t i = 0; i < wq; ++i) q.row(r)[i] = normal(rng);
        for (int64_t i = 0; i < wkv; ++i) k.row(r)[i] = normal(rng), v.row(r)[i] = normal(rng);
    }
    std::vector<int32_t> slots(static_cast<size_t>(n_before + n));
    for (size_t i = 0; i < slots.size(); ++i) slots[i] = int32_t(i);
    be->kv_store(kc, vc, k, v, slots);
    std::vector<int32_t> pos(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) pos[size_t(i)] = i;
    AttentionParams p;
    p.n_head = c.n_head;
    p.n_head_kv = c.n_head_kv;
    p.head_dim = head_dim;
    p.scale = 1.0f / std::sqrt(float(head_dim));
    p.causal = c.causal;
    be->attention(out.rows_from(n_before), q.rows_from(n_before), kc.rows_from(n_before),
                  vc.rows_from(n_before), pos, pos, p);

    const int group = c.n_head / c.n_head_kv;
    double worst = 0;
    for (int i = 0; i < n; ++i) {
        for (int h = 0; h < c.n_head; ++h) {
            const int hk = h / group;
            const int n_keys = c.causal ? i + 1 : n;
            std::vector<double> s(static_cast<size_t>(n_keys));
            double mx = -1e300;
            for (int j = 0; j < n_keys; ++j) {
                double dot = 0;
                for (int d = 0; d < head_dim; ++d)
                    dot += double(round_f16(q.row(n_before + i)[h * head_dim + d])) *
                           round_f16(k.row(n_before + j)[hk * head_dim + d]);
                s[size_t(j)] = dot * p.scale;
                mx = std::max(mx, s[size_t(j)]);
            }
            double denom = 0;
            for (double& x : s) denom += (x = std::exp(x - mx));
            for (int d = 0; d < head_dim; ++d) {
                double o = 0;
                for (int j = 0; j < n_keys; ++j)
                    o += s[size_t(j)] / denom * round_f16(v.row(n_before + j)[hk * head_dim + d]);
                worst =
                    std::max(worst, std::abs(o - double(out.row(n_before + i)[h * head_dim + d])));
            }
        }
    }
    // The probabilities are rounded to F16 before they weight V (as ggml
    // does): 2^-11 relative on weights summing to 1, times |v| <~ 4.
    EXPECT_LT(worst, 4e-3);
    // Rows before the sequence were not written.
    for (int64_t i = 0; i < wq; ++i) EXPECT_EQ(out.row(0)[i], 0.0f);
}

INSTANTIATE_TEST_SUITE_P(Masks, CpuAttention,
                         ::testing::Values(AttnCase{false, 4, 4}, AttnCase{false, 4, 2},
                                           AttnCase{true, 4, 4}, AttnCase{true, 6, 2}));

// Packed sequences (seq_starts): each query sees only its own sequence's
// keys, whose positions restart at 0, in one call.
TEST(CpuAttentionPacked, EachSequenceAttendsWithinItself) {
    const int n_head = 3, head_dim = 16;
    const int64_t width = n_head * head_dim;
    const std::vector<int64_t> starts = {0, 4, 13, 15};  // lengths 4, 9, 2
    const int64_t n = starts.back();
    for (bool causal : {false, true}) {
        auto be = make_cpu_backend({2});
        Tensor q = be->alloc(GgmlType::f32, width, n), k = be->alloc(GgmlType::f32, width, n);
        Tensor v = be->alloc(GgmlType::f32, width, n), out = be->alloc(GgmlType::f32, width, n);
        Tensor kc = be->alloc(GgmlType::f16, width, n), vc = be->alloc(GgmlType::f16, width, n);
        std::mt19937 rng(11);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (int64_t r = 0; r < n; ++r)
            for (int64_t i = 0; i < width; ++i)
                q.row(r)[i] = normal(rng), k.row(r)[i] = normal(rng), v.row(r)[i] = normal(rng);
        std::vector<int32_t> slots, pos;
        for (size_t j = 0; j + 1 < starts.size(); ++j)
            for (int64_t i = starts[j]; i < starts[j + 1]; ++i)
                slots.push_back(int32_t(i)), pos.push_back(int32_t(i - starts[j]));
        be->kv_store(kc, vc, k, v, slots);
        AttentionParams p;
        p.n_head = p.n_head_kv = n_head;
        p.head_dim = head_dim;
        p.scale = 0.25f;
        p.causal = causal;
        p.seq_starts = starts;
        be->attention(out, q, kc, vc, pos, pos, p);
        double worst = 0;
        for (size_t j = 0; j + 1 < starts.size(); ++j) {
            for (int64_t i = starts[j]; i < starts[j + 1]; ++i) {
                const int64_t last = causal ? i : starts[j + 1] - 1;
                for (int h = 0; h < n_head; ++h) {
                    std::vector<double> w;
                    double mx = -1e300, denom = 0;
                    for (int64_t s = starts[j]; s <= last; ++s) {
                        double dot = 0;
                        for (int d = 0; d < head_dim; ++d)
                            dot += double(round_f16(q.row(i)[h * head_dim + d])) *
                                   round_f16(k.row(s)[h * head_dim + d]);
                        w.push_back(dot * p.scale);
                        mx = std::max(mx, w.back());
                    }
                    for (double& x : w) denom += (x = std::exp(x - mx));
                    for (int d = 0; d < head_dim; ++d) {
                        double o = 0;
                        for (int64_t s = starts[j]; s <= last; ++s)
                            o += w[size_t(s - starts[j])] / denom *
                                 round_f16(v.row(s)[h * head_dim + d]);
                        worst = std::max(worst, std::abs(o - double(out.row(i)[h * head_dim + d])));
                    }
                }
            }
        }
        EXPECT_LT(worst, 4e-3) << (causal ? "causal" : "bidirectional");
    }
}

// gelu_erf is the exact GELU, x * Phi(x).
TEST(CpuOps, GeluErf) {
    auto be = make_cpu_backend({2});
    Tensor x = be->alloc(GgmlType::f32, 101, 3);
    for (int64_t r = 0; r < 3; ++r)
        for (int64_t i = 0; i < 101; ++i) x.row(r)[i] = float(i - 50) * 0.13f * float(r + 1);
    be->gelu_erf(x, 3);
    for (int64_t r = 0; r < 3; ++r) {
        for (int64_t i = 0; i < 101; ++i) {
            const double v = double(float(i - 50) * 0.13f * float(r + 1));
            const double want = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
            EXPECT_NEAR(x.row(r)[i], want, 1e-6 * std::max(1.0, std::abs(want))) << v;
        }
    }
}

}  // namespace
}  // namespace slim
