// The float tile kernels (4 weight rows x 3 activation rows at once) against
// the scalar vec_dot on the same bytes, and the CPU backend's matmul, which
// mixes tiles and vec_dot for leftover rows, against a double-precision
// product, for every row count around the tile sizes.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "random_values.h"
#include "tensor/fp16.h"
#include "tensor/tensor_type.h"

namespace slim {
namespace {

using cpu::Isa;

using test::normal_floats;

class FloatTile : public ::testing::TestWithParam<GgmlType> {};

TEST_P(FloatTile, EqualsScalarVecDot) {
    if (!cpu::isa_supported(Isa::avx2, cpu::cpu_features())) GTEST_SKIP() << "no AVX2";
    const GgmlType type = GetParam();
    const cpu::MatmulTileEntry* tiles = cpu::isa_matmul_tiles(Isa::avx2, type);
    ASSERT_NE(tiles, nullptr);
    const cpu::MatmulTileFn tile = tiles->tile;
    const cpu::MatmulKernel* ref = cpu::scalar_matmul_kernel(type);
    std::mt19937 rng(3);
    for (int64_t n : {1, 7, 8, 37, 384, 1541}) {
        const size_t rb = tensor_row_bytes(type, n);
        std::vector<uint8_t> w(rb * 4), a(rb * 3);
        for (int r = 0; r < 4; ++r)
            ref->quantize_act(normal_floats(size_t(n), rng).data(), w.data() + rb * size_t(r), n);
        for (int r = 0; r < 3; ++r)
            ref->quantize_act(normal_floats(size_t(n), rng).data(), a.data() + rb * size_t(r), n);
        float out[12];
        tile(n, w.data(), rb, a.data(), rb, out);
        for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 3; ++j) {
                const float want =
                    ref->vec_dot(n, w.data() + rb * size_t(i), a.data() + rb * size_t(j));
                // Float summation of n products of N(0,1) values: |terms| ~ n.
                EXPECT_NEAR(out[i * 3 + j], want, double(n + 64) * FLT_EPSILON * double(n))
                    << "n " << n << " tile " << i << "," << j;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Types, FloatTile, ::testing::Values(GgmlType::f32, GgmlType::f16));

// The quantized tiles promise more: each of their sums is the AVX2 vec_dot's
// bit for bit (the order llama.cpp sums in; vec_dot_batch's where there is
// one), so a prefill gives the same logits whether its rows went through
// tiles or dot products, on any ISA.
struct QuantTileCase {
    Isa isa;
    GgmlType type;
    bool gemv = false;  // the tiles of one activation row (decode)
};

class QuantTile : public ::testing::TestWithParam<QuantTileCase> {};

TEST_P(QuantTile, EqualsVecDotBitForBit) {
    const auto [isa, type, gemv] = GetParam();
    if (!cpu::isa_supported(isa, cpu::cpu_features()))
        GTEST_SKIP() << "this CPU (or its OS) cannot run " << cpu::isa_name(isa) << " code";
    const cpu::MatmulTileEntry* tiles =
        gemv ? cpu::isa_matmul_gemv(isa, type) : cpu::isa_matmul_tiles(isa, type);
    ASSERT_NE(tiles, nullptr);
    const cpu::MatmulKernel* k = cpu::isa_matmul_kernel(Isa::avx2, type);
    // A gemv serves the rows in vec_dot's order (the rows past a batch order's).
    const cpu::VecDotFn dot = k->vec_dot_batch && !gemv ? k->vec_dot_batch : k->vec_dot;
    std::mt19937 rng(9);
    for (int64_t blocks : {1, 2, 20, 64}) {
        const int64_t n = blocks * ggml_type_traits(type).block_size;
        const size_t wb = tensor_row_bytes(type, n), ab = tensor_row_bytes(k->act_type, n);
        const int na = tiles->act_rows, nw = tiles->weight_rows;
        ASSERT_LE(na, cpu::kMaxTileRows);
        ASSERT_LE(nw, cpu::kMaxTileRows);
        std::vector<uint8_t> w(wb * size_t(nw)), a(ab * size_t(na));
        for (int r = 0; r < nw; ++r) {
            std::vector<float> x = normal_floats(size_t(n), rng);
            if (r == 3) x[0] = -3 * std::abs(x[0]) - 10;  // a block with -128 / -127 quants
            quantize_row_ref(type, x.data(), w.data() + wb * size_t(r), n);
        }
        for (int r = 0; r < na; ++r)
            k->quantize_act(normal_floats(size_t(n), rng).data(), a.data() + ab * size_t(r), n);
        float out[cpu::kMaxTileRows * cpu::kMaxTileRows];
        if (tiles->prepare_act) {
            std::vector<uint8_t> group(tiles->prepared_bytes(n));
            tiles->prepare_act(n, a.data(), ab, group.data());
            tiles->tile(n, w.data(), wb, group.data(), 0, out);
        } else {
            tiles->tile(n, w.data(), wb, a.data(), ab, out);
        }
        for (int i = 0; i < nw; ++i)
            for (int j = 0; j < na; ++j)
                EXPECT_EQ(out[i * na + j],
                          dot(n, w.data() + wb * size_t(i), a.data() + ab * size_t(j)))
                    << "n " << n << " tile " << i << "," << j;
    }
}

std::vector<QuantTileCase> quant_tile_cases() {
    const GgmlType q0_types[] = {GgmlType::q4_0, GgmlType::q4_1, GgmlType::q5_0,
                                 GgmlType::q5_1, GgmlType::q8_0, GgmlType::iq4_nl};
    std::vector<QuantTileCase> cases;
    for (Isa isa : {Isa::avx2, Isa::avx512})
        for (GgmlType t : q0_types) cases.push_back({isa, t});
    for (GgmlType t : {GgmlType::q4_k, GgmlType::q5_k, GgmlType::q6_k})
        cases.push_back({Isa::avx2, t});
    cases.push_back({Isa::avx512, GgmlType::q4_k});
    cases.push_back({Isa::avx512, GgmlType::q2_k});
    cases.push_back({Isa::avx512, GgmlType::q3_k});
    cases.push_back({Isa::avx512, GgmlType::q5_k});
    cases.push_back({Isa::avx512, GgmlType::q6_k});
    cases.push_back({Isa::amx, GgmlType::q4_k});
    cases.push_back({Isa::amx, GgmlType::q5_k});
    cases.push_back({Isa::amx, GgmlType::q6_k});
    for (GgmlType t : {GgmlType::q4_1, GgmlType::q5_0, GgmlType::q5_1, GgmlType::q8_0,
                       GgmlType::q4_k, GgmlType::q6_k})
        cases.push_back({Isa::avx512, t, true});
    return cases;
}

INSTANTIATE_TEST_SUITE_P(Types, QuantTile, ::testing::ValuesIn(quant_tile_cases()),
                         [](const auto& param) {
                             return std::string(cpu::isa_name(param.param.isa)) + "_" +
                                    std::string(ggml_type_name(param.param.type)) +
                                    (param.param.gemv ? "_gemv" : "");
                         });

class CpuMatmul : public ::testing::TestWithParam<GgmlType> {};

TEST_P(CpuMatmul, EqualsDoubleProductForEveryRowCount) {
    const GgmlType type = GetParam();
    const int64_t n_in = 200, n_out = 23;  // neither a multiple of the tile sizes
    std::mt19937 rng(5);
    const std::vector<float> wf = normal_floats(size_t(n_in * n_out), rng);
    std::vector<uint8_t> wq(tensor_row_bytes(type, n_in) * size_t(n_out));
    for (int64_t o = 0; o < n_out; ++o)
        quantize_row_ref(type, wf.data() + o * n_in, wq.data() + tensor_row_bytes(type, n_in) * o,
                         n_in);
    std::vector<float> wd(wf.size());
    for (int64_t o = 0; o < n_out; ++o)
        dequantize_row(type, wq.data() + tensor_row_bytes(type, n_in) * o, wd.data() + o * n_in,
                       n_in);
    auto be = make_cpu_backend({3});
    const Tensor w =
        be->weight(type, n_in, n_out, wq.data(), WeightBytes::caller, WeightUse::matmul);
    for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 50, 100}) {
        Tensor x = be->alloc(GgmlType::f32, n_in, n);
        Tensor y = be->alloc(GgmlType::f32, n_out, n);
        const std::vector<float> xf = normal_floats(size_t(n * n_in), rng);
        be->upload(x, xf.data(), xf.size() * sizeof(float));
        be->matmul(y, w, x, n);
        for (int64_t r = 0; r < n; ++r) {
            for (int64_t o = 0; o < n_out; ++o) {
                double want = 0, mag = 0;
                for (int64_t i = 0; i < n_in; ++i) {
                    // Activations are converted to the weight type (F16 for F16).
                    const float a = type == GgmlType::f16
                                        ? fp16_to_fp32(fp32_to_fp16(xf[size_t(r * n_in + i)]))
                                        : xf[size_t(r * n_in + i)];
                    want += double(wd[size_t(o * n_in + i)]) * a;
                    mag += std::abs(double(wd[size_t(o * n_in + i)]) * a);
                }
                EXPECT_NEAR(y.row(r)[o], want, (n_in + 64) * FLT_EPSILON * mag)
                    << "n " << n << " row " << r << " out " << o;
            }
        }
        be->free(x);
        be->free(y);
    }
}

INSTANTIATE_TEST_SUITE_P(Types, CpuMatmul, ::testing::Values(GgmlType::f32, GgmlType::f16));

}  // namespace
}  // namespace slim
