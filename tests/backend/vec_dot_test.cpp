// The scalar dot-product kernels against the plain definition: dequantize the
// weight row and the converted activation row, and take a double-precision dot.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/cpu/kernels.h"
#include "tensor/tensor_type.h"

namespace slim {
namespace {

class ScalarVecDot : public ::testing::TestWithParam<GgmlType> {};

TEST_P(ScalarVecDot, EqualsDequantizedDot) {
    const GgmlType type = GetParam();
    const cpu::MatmulKernel* k = cpu::scalar_matmul_kernel(type);
    ASSERT_NE(k, nullptr);
    const int64_t n = 256 * 3;  // whole blocks of every type, three super-blocks
    std::mt19937 rng(1234);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int trial = 0; trial < 20; ++trial) {
        std::vector<float> w(static_cast<size_t>(n)), a(static_cast<size_t>(n));
        for (auto& v : w) v = normal(rng);
        for (auto& v : a) v = normal(rng) * (trial % 2 ? 10.0f : 0.1f);
        std::vector<uint8_t> wq(tensor_row_bytes(type, n)), aq(tensor_row_bytes(k->act_type, n));
        quantize_row_ref(type, w.data(), wq.data(), n);
        k->quantize_act(a.data(), aq.data(), n);
        std::vector<float> wd(static_cast<size_t>(n)), ad(static_cast<size_t>(n));
        dequantize_row(type, wq.data(), wd.data(), n);
        dequantize_row(k->act_type, aq.data(), ad.data(), n);
        double expect = 0, scale = 0;
        for (int64_t i = 0; i < n; ++i) {
            expect += double(wd[size_t(i)]) * ad[size_t(i)];
            scale += std::abs(double(wd[size_t(i)]) * ad[size_t(i)]);
        }
        const float got = k->vec_dot(n, wq.data(), aq.data());
        // Only float rounding of the block scales and sums separates the two;
        // with Q8_1 activations (Q4_1, Q5_1) also the f16 rounding of each
        // block's precomputed sum s = d * sum(q), which ggml's layout implies.
        const double tolerance = k->act_type == GgmlType::q8_1 ? 2e-3 : 1e-5;
        EXPECT_NEAR(got, expect, tolerance * scale + 1e-6) << "trial " << trial;
    }
}

INSTANTIATE_TEST_SUITE_P(Types, ScalarVecDot,
                         ::testing::Values(GgmlType::f32, GgmlType::f16, GgmlType::bf16,
                                           GgmlType::q4_0, GgmlType::q4_1, GgmlType::q5_0,
                                           GgmlType::q5_1, GgmlType::q8_0, GgmlType::iq4_nl,
                                           GgmlType::q2_k, GgmlType::q3_k, GgmlType::q4_k,
                                           GgmlType::q5_k, GgmlType::q6_k, GgmlType::iq4_xs),
                         [](const auto& param) {
                             return std::string(ggml_type_name(param.param));
                         });

}  // namespace
}  // namespace slim
