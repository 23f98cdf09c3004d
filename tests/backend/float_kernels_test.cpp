// The encoders' float kernels (kernels.h, FloatKernels) of each ISA against
// double-precision references: the GEMM for shapes around its register
// blocks (rows per microkernel, columns per panel) and both weight types,
// the exact GELU against std::erf in double, LayerNorm against a two-pass
// double computation; and the CPU backend's linear, which splits the panels
// across threads, against matmul + add_row on an encoder-sized problem.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "tensor/fp16.h"
#include "tensor/tensor_type.h"

namespace slim {
namespace {

using cpu::Isa;

struct Weights {
    std::vector<uint8_t> bytes;
    std::vector<double> values;  // what the bytes hold, row-major
    size_t row_bytes;
};

Weights random_weights(GgmlType type, int64_t k, int64_t n_out, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Weights w;
    w.row_bytes = tensor_row_bytes(type, k);
    w.bytes.resize(w.row_bytes * size_t(n_out));
    w.values.resize(size_t(k * n_out));
    std::vector<float> row(static_cast<size_t>(k)), back(row.size());
    for (int64_t o = 0; o < n_out; ++o) {
        for (float& f : row) f = normal(rng);
        uint8_t* dst = w.bytes.data() + w.row_bytes * size_t(o);
        quantize_row_ref(type, row.data(), dst, k);
        dequantize_row(type, dst, back.data(), k);
        for (int64_t i = 0; i < k; ++i) w.values[size_t(o * k + i)] = back[size_t(i)];
    }
    return w;
}

struct GemmCase {
    Isa isa;
    GgmlType type;
};

class FloatGemmIsa : public ::testing::TestWithParam<GemmCase> {};

TEST_P(FloatGemmIsa, MatchesDoubleProduct) {
    const auto [isa, type] = GetParam();
    if (!cpu::isa_supported(isa, cpu::cpu_features()))
        GTEST_SKIP() << "this CPU (or its OS) cannot run " << cpu::isa_name(isa) << " code";
    ASSERT_NE(cpu::isa_float_kernels(isa), nullptr);
    const cpu::FloatGemm* gemm = &cpu::isa_float_kernels(isa)->gemm;
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    // Q8_0 rows are whole 32-element blocks.
    const std::vector<int64_t> ks = type == GgmlType::q8_0 ? std::vector<int64_t>{32, 64, 384}
                                                           : std::vector<int64_t>{1, 7, 16, 387};
    for (int64_t k : ks) {
        for (int64_t n_out : {1, 15, 16, 33, 69}) {
            for (int64_t n : {1, 5, 6, 7, 12, 13, 31}) {
                const Weights w = random_weights(type, k, n_out, rng);
                // Strides wider than the rows, as a slice of a larger buffer.
                const size_t x_stride = size_t(k) + 3, y_stride = size_t(n_out) + 5;
                std::vector<float> x(x_stride * size_t(n));
                std::vector<float> bias(static_cast<size_t>(n_out));
                for (float& v : x) v = normal(rng);
                for (float& v : bias) v = normal(rng);
                const float sentinel = -12345.0f;
                std::vector<float> y(y_stride * size_t(n), sentinel);
                const size_t panel_floats = size_t(k) * size_t(gemm->panel_cols);
                float* panel = static_cast<float*>(
                    std::aligned_alloc(64, (panel_floats * sizeof(float) + 63) / 64 * 64));
                ASSERT_NE(panel, nullptr);
                const cpu::FloatGemmProblem p{type,        w.bytes.data(), w.row_bytes, k,
                                              n_out,       x.data(),       x_stride,    n,
                                              bias.data(), y.data(),       y_stride};
                // Two calls over the panel boundary, as two threads would split it.
                const int64_t split = std::min<int64_t>(n_out, gemm->panel_cols);
                gemm->run(p, 0, split, panel);
                gemm->run(p, split, n_out, panel);
                std::free(panel);
                for (int64_t r = 0; r < n; ++r) {
                    for (int64_t o = 0; o < n_out; ++o) {
                        double want = bias[size_t(o)], magnitude = std::abs(want);
                        for (int64_t i = 0; i < k; ++i) {
                            const double t = double(x[size_t(r) * x_stride + size_t(i)]) *
                                             w.values[size_t(o * k + i)];
                            want += t;
                            magnitude += std::abs(t);
                        }
                        // Float sums of k + 1 terms in any order.
                        EXPECT_NEAR(y[size_t(r) * y_stride + size_t(o)], want,
                                    double(k + 2) * FLT_EPSILON * magnitude)
                            << "k " << k << " n_out " << n_out << " n " << n << " at " << r << ","
                            << o;
                    }
                    // Columns past n_out are not written.
                    for (size_t o = size_t(n_out); o < y_stride; ++o)
                        EXPECT_EQ(y[size_t(r) * y_stride + o], sentinel);
                }
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, FloatGemmIsa,
    ::testing::Values(GemmCase{Isa::avx2, GgmlType::f32}, GemmCase{Isa::avx2, GgmlType::f16},
                      GemmCase{Isa::avx2, GgmlType::q8_0}, GemmCase{Isa::avx512, GgmlType::f32},
                      GemmCase{Isa::avx512, GgmlType::f16}, GemmCase{Isa::avx512, GgmlType::q8_0}),
    [](const auto& test) {
        return std::string(cpu::isa_name(test.param.isa)) + "_" +
               std::string(ggml_type_name(test.param.type));
    });

class FloatKernelsIsa : public ::testing::TestWithParam<Isa> {
  protected:
    const cpu::FloatKernels* kernels() {
        const Isa isa = GetParam();
        if (!cpu::isa_supported(isa, cpu::cpu_features())) return nullptr;
        return cpu::isa_float_kernels(isa);
    }
};

TEST_P(FloatKernelsIsa, GeluErfWithinFewUlp) {
    const cpu::FloatKernels* k = kernels();
    if (!k) GTEST_SKIP() << "this CPU (or its OS) cannot run " << cpu::isa_name(GetParam());
    // A grid over [-12, 12] (both tails: where Phi underflows and where it is
    // 1), tiny values and exact zeros, in a length that leaves a tail.
    std::vector<float> x;
    for (int i = -120000; i <= 120000; ++i) x.push_back(float(i) * 1e-4f);
    for (float v : {1e-30f, -1e-30f, 1e-6f, -1e-6f, 0.0f, -0.0f, 30.0f, -30.0f}) x.push_back(v);
    std::vector<float> y = x;
    k->gelu_erf(y.data(), int64_t(y.size()));
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double v = x[i];
        const double want = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
        // A few ulp of the result, or of x where Phi is near 1 (its absolute
        // error of ~1e-7 there is a relative one of x's size).
        const double err = std::abs(y[i] - want) / (std::abs(want) + 1e-7 * std::abs(v) + 1e-38);
        worst = std::max(worst, err);
        ASSERT_LE(err, 1e-6) << "x " << x[i] << " got " << y[i] << " want " << want;
    }
    RecordProperty("worst_relative_error", fmt::format("{:.3g}", worst));
}

TEST_P(FloatKernelsIsa, LayerNormMatchesDouble) {
    const cpu::FloatKernels* k = kernels();
    if (!k) GTEST_SKIP() << "this CPU (or its OS) cannot run " << cpu::isa_name(GetParam());
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t n : {1, 7, 16, 384, 1000}) {
        for (bool affine : {false, true}) {
            std::vector<float> x(static_cast<size_t>(n)), w(x.size()), b(x.size());
            // An offset mean, as residual streams have.
            for (float& v : x) v = 3.0f + 2.0f * normal(rng);
            for (float& v : w) v = normal(rng);
            for (float& v : b) v = normal(rng);
            std::vector<float> y = x;
            k->layer_norm(y.data(), n, affine ? w.data() : nullptr, affine ? b.data() : nullptr,
                          1e-12f);
            double mean = 0, var = 0;
            for (float v : x) mean += v;
            mean /= double(n);
            for (float v : x) var += (v - mean) * (v - mean);
            var /= double(n);
            for (int64_t i = 0; i < n; ++i) {
                double want = (x[size_t(i)] - mean) / std::sqrt(var + 1e-12);
                if (affine) want = want * w[size_t(i)] + b[size_t(i)];
                const double scale = affine ? std::abs(w[size_t(i)]) + 1.0 : 1.0;
                // n == 1 normalises to 0 exactly; otherwise float moments.
                EXPECT_NEAR(y[size_t(i)], want, 2e-6 * scale * (std::abs(want) + 1.0))
                    << "n " << n << " at " << i;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Kernels, FloatKernelsIsa, ::testing::Values(Isa::avx2, Isa::avx512),
                         [](const auto& test) { return std::string(cpu::isa_name(test.param)); });

// linear on the backend (threads splitting the panels) agrees with matmul +
// add_row, whose float sums are in another order, on a MiniLM-sized layer.
TEST(CpuLinear, AgreesWithMatmulPlusBias) {
    for (GgmlType type : {GgmlType::f32, GgmlType::f16, GgmlType::q8_0}) {
        for (int threads : {1, 2, 3}) {
            std::unique_ptr<Backend> be = make_cpu_backend({threads});
            std::mt19937 rng(5);
            std::normal_distribution<float> normal(0.0f, 1.0f);
            const int64_t k = 384, n_out = 1536, n = 45;
            const Weights w = random_weights(type, k, n_out, rng);
            const Tensor wt =
                be->weight(type, k, n_out, w.bytes.data(), WeightBytes::caller, WeightUse::matmul);
            Tensor x = be->alloc(GgmlType::f32, k, n), b = be->alloc(GgmlType::f32, n_out, 1);
            Tensor y1 = be->alloc(GgmlType::f32, n_out, n), y2 = be->alloc(GgmlType::f32, n_out, n);
            for (int64_t i = 0; i < k * n; ++i) x.f32()[i] = normal(rng);
            for (int64_t i = 0; i < n_out; ++i) b.f32()[i] = normal(rng);
            be->linear(y1, wt, &b, x, n);
            be->matmul(y2, wt, x, n);
            be->add_row(y2, b, n);
            // Each sum: 384 products of N(0,1) values, |terms| summing to ~300;
            // matmul rounds the activations of F16 weights to F16 (2^-11
            // each) and of Q8_0 weights to Q8_0: steps of 1/127 of each
            // block's largest (~3), an error of ~0.14 rms over 384 products,
            // and these are the largest of 69,120 outputs.
            const double tolerance = type == GgmlType::f32   ? 2e-3
                                     : type == GgmlType::f16 ? 0.05
                                                             : 1.0;
            for (int64_t i = 0; i < n_out * n; ++i) {
                ASSERT_NEAR(y1.f32()[i], y2.f32()[i], tolerance)
                    << "type " << int(type) << " threads " << threads << " at " << i;
            }
        }
    }
}

}  // namespace
}  // namespace slim
