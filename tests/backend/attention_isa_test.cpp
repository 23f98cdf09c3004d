// Every ISA's attention kernel (kernels.h) against the scalar one, bit for
// bit: they promise the same float operations in the same order, which is
// what keeps slim's attention equal to llama.cpp's. Inputs are random F16
// keys and values, F16-rounded queries, probabilities spanning many orders
// of magnitude, and scores whose exponentials underflow to subnormals and
// zero, at head sizes with and without a tail past 64 or 16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "tensor/fp16.h"

namespace slim {
namespace {

using cpu::Isa;

uint32_t bits(float x) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    return b;
}

uint64_t bits(double x) {
    uint64_t b;
    std::memcpy(&b, &x, 8);
    return b;
}

class IsaAttention : public ::testing::TestWithParam<Isa> {
  protected:
    void SetUp() override {
        if (!cpu::isa_supported(GetParam(), cpu::cpu_features()))
            GTEST_SKIP() << "this CPU (or its OS) cannot run " << cpu::isa_name(GetParam())
                         << " code";
        kernel_ = cpu::isa_attention_kernel(GetParam());
        if (!kernel_)
            GTEST_SKIP() << "no " << cpu::isa_name(GetParam())
                         << " attention kernel (the next one down is used)";
    }

    std::vector<uint16_t> random_f16(size_t n) {
        std::vector<uint16_t> v(n);
        for (uint16_t& h : v) h = fp32_to_fp16(normal_(rng_) * 3.0f);
        return v;
    }

    const cpu::AttentionKernel* kernel_ = nullptr;
    const cpu::AttentionKernel& scalar_ = cpu::scalar_attention_kernel();
    std::mt19937 rng_{11};
    std::normal_distribution<float> normal_{0.0f, 1.0f};
};

TEST_P(IsaAttention, DotProductsEqualScalar) {
    for (int lanes : {16, 64}) {
        for (int n : {16, 64, 80, 128, 200, 256}) {
            if (lanes == 16 && n % 16 != 0) continue;
            std::vector<float> q(static_cast<size_t>(n));
            for (float& x : q) x = fp16_to_fp32(fp32_to_fp16(normal_(rng_)));
            for (int rep = 0; rep < 50; ++rep) {
                const std::vector<uint16_t> k = random_f16(static_cast<size_t>(n));
                const double want = scalar_.dot_f16(q.data(), k.data(), n, lanes);
                const double got = kernel_->dot_f16(q.data(), k.data(), n, lanes);
                ASSERT_EQ(bits(got), bits(want)) << "lanes " << lanes << " n " << n;
                const std::vector<uint16_t> k1 = random_f16(static_cast<size_t>(n)),
                                            k2 = random_f16(static_cast<size_t>(n));
                const uint16_t* keys[4] = {k1.data(), k.data(), k2.data(), k1.data()};
                double got4[4];
                kernel_->dot_f16_x4(q.data(), keys, n, lanes, got4);
                for (int j = 0; j < 4; ++j)
                    ASSERT_EQ(bits(got4[j]), bits(scalar_.dot_f16(q.data(), keys[j], n, lanes)))
                        << "x4 key " << j << " lanes " << lanes << " n " << n;
            }
        }
    }
}

TEST_P(IsaAttention, WeightedSumsEqualScalar) {
    for (int lanes : {16, 64}) {
        for (int n : {64, 72, 256}) {
            for (int64_t n_slots : {1, 15, 37, 3 * lanes + 5}) {
                const size_t stride = size_t(n) + 8;  // rows of a wider cache
                const std::vector<uint16_t> v = random_f16(stride * size_t(n_slots));
                std::vector<float> p(static_cast<size_t>(n_slots));
                for (size_t s = 0; s < p.size(); ++s)
                    p[s] =
                        s % 7 == 3 ? 0.0f : std::ldexp(std::abs(normal_(rng_)), -int(rng_() % 20));
                for (int64_t lane0 : {int64_t(0), int64_t(5), int64_t(lanes - 1)}) {
                    std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
                    scalar_.weighted_sum_f16(p.data(), v.data(), stride, n_slots, lane0, lanes, n,
                                             want.data());
                    kernel_->weighted_sum_f16(p.data(), v.data(), stride, n_slots, lane0, lanes, n,
                                              got.data());
                    for (int i = 0; i < n; ++i)
                        ASSERT_EQ(bits(got[size_t(i)]), bits(want[size_t(i)]))
                            << "lanes " << lanes << " n " << n << " slots " << n_slots << " lane0 "
                            << lane0 << " column " << i;
                }
            }
        }
    }
}

TEST_P(IsaAttention, ProbabilitiesRoundToF16AsScalar) {
    std::vector<float> x(67);
    for (size_t i = 0; i < x.size(); ++i)
        x[i] = std::ldexp(std::abs(normal_(rng_)), -int(i % 30));  // down to F16 subnormals
    std::vector<float> want = x, got = x;
    scalar_.scale_to_f16(want.data(), int64_t(want.size()), 0.37f);
    kernel_->scale_to_f16(got.data(), int64_t(got.size()), 0.37f);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(bits(got[i]), bits(want[i])) << x[i];
}

TEST_P(IsaAttention, SoftmaxExpEqualsScalar) {
    // Scores from far below the max (exp underflows: subnormals, then 0)
    // to the max itself, -inf for masked slots.
    std::vector<float> x(16 * 40);
    for (size_t i = 0; i < x.size(); ++i) {
        x[i] = -std::abs(normal_(rng_)) * float(1 << (i % 8));
        if (i % 37 == 0) x[i] = -INFINITY;
        if (i % 29 == 0) x[i] = -87.0f - float(i % 60);  // around the subnormal range
    }
    x[5] = 0.0f;
    std::vector<float> want = x, got = x;
    const float max = 0.25f;
    const double sum_want = scalar_.softmax_exp(want.data(), int64_t(want.size()), max);
    const double sum_got = kernel_->softmax_exp(got.data(), int64_t(got.size()), max);
    EXPECT_EQ(bits(sum_got), bits(sum_want));
    for (size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(bits(got[i]), bits(want[i])) << "x = " << x[i] << " - " << max;
}

TEST_P(IsaAttention, SiluMulEqualsScalar) {
    // Gate values across exp's range (its overflow to infinity for large
    // negative gates, 0 for large positive ones) and ordinary up values.
    std::vector<float> g(16 * 50), u(g.size());
    for (size_t i = 0; i < g.size(); ++i) {
        g[i] = normal_(rng_) * float(1 << (i % 9));
        u[i] = normal_(rng_);
    }
    g[3] = -100.0f;
    g[4] = 100.0f;
    g[5] = 0.0f;
    std::vector<float> want = g, got = g;
    scalar_.silu_mul16(want.data(), u.data(), int64_t(want.size()));
    kernel_->silu_mul16(got.data(), u.data(), int64_t(got.size()));
    for (size_t i = 0; i < g.size(); ++i)
        ASSERT_EQ(bits(got[i]), bits(want[i])) << "g = " << g[i] << ", u = " << u[i];
}

TEST_P(IsaAttention, GeluMulEqualsScalar) {
    // A table with a distinct value per F16 bit pattern, so a lookup of the
    // wrong entry shows; gates across the clamps at -10 and 10, the F16
    // subnormals and rounding ties, and a length that leaves a tail.
    std::vector<float> table(1 << 16);
    for (size_t h = 0; h < table.size(); ++h) table[h] = float(h) - 30000.0f;
    std::vector<float> g(8 * 40 + 5), u(g.size());
    for (size_t i = 0; i < g.size(); ++i) {
        g[i] = normal_(rng_) * float(1 << (i % 6));
        u[i] = normal_(rng_);
    }
    const float special[] = {-10.0f, 10.0f, -10.5f,          9.999f,   1e-6f, -3e-8f,
                             0.0f,   -0.0f, 1.0f + 0x1p-11f, 65504.0f, -1e30f};
    for (size_t k = 0; k < std::size(special); ++k) g[7 * k] = special[k];
    const float* ups[] = {u.data(), nullptr};  // GeGLU, then GELU alone
    for (const float* up : ups) {
        std::vector<float> want = g, got = g;
        scalar_.gelu_mul(want.data(), up, int64_t(want.size()), table.data());
        kernel_->gelu_mul(got.data(), up, int64_t(got.size()), table.data());
        for (size_t i = 0; i < g.size(); ++i)
            ASSERT_EQ(bits(got[i]), bits(want[i])) << "g = " << g[i];
    }
}

INSTANTIATE_TEST_SUITE_P(Kernels, IsaAttention, ::testing::Values(Isa::avx2, Isa::avx512),
                         [](const auto& param) { return std::string(cpu::isa_name(param.param)); });

}  // namespace
}  // namespace slim
