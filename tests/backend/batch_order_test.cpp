// The CPU backend's matmul sums each output in the order llama.cpp's x86
// build does for that activation row (kernels.h, BatchOrder), written out
// here once more in plain scalar code straight from ggml's block layouts:
//   Q4_K, repacked gemm (rows in whole groups of 4): per 64 elements, one FMA
//     of the integer sum times d * a.d and one of the min sum times
//     dmin * a.d; its gemv (the other rows) does the same per 256 elements.
//   Q5_K, Q6_K, tiled kernel (all rows from 8): per block,
//     r = sum * d - dmin * min sum (one FMA), acc = fma(r, a.d, acc).
// The rows below the tiled kernel's 8 take ggml's vec_dot, in its 8 lanes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"
#include "tensor/tensor_type.h"

namespace slim {
namespace {

// Q4_K/Q5_K's packed 6-bit scale and min of sub-block j (ggml's get_scale_min_k4).
void scale_min_k4(int j, const uint8_t* q, int* scale, int* min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// One block's 256 quants in element order, and its per-sub-block scales and mins.
struct Unpacked {
    int q[kQK_K];
    int scale[16], min[16];  // per group: 16 of 16 (Q6_K, no mins: 0) or 8 of 32
    float d, dmin;
};

Unpacked unpack(GgmlType type, const uint8_t* block) {
    Unpacked u{};
    if (type == GgmlType::q6_k) {
        BlockQ6_K b;
        std::memcpy(&b, block, sizeof b);
        for (int h = 0; h < 2; ++h) {
            for (int l = 0; l < 32; ++l) {
                const int hb = b.qh[32 * h + l];
                const int lo = b.ql[64 * h + l], lo2 = b.ql[64 * h + 32 + l];
                u.q[128 * h + l] = ((lo & 0xF) | ((hb & 3) << 4)) - 32;
                u.q[128 * h + 32 + l] = ((lo2 & 0xF) | (((hb >> 2) & 3) << 4)) - 32;
                u.q[128 * h + 64 + l] = ((lo >> 4) | (((hb >> 4) & 3) << 4)) - 32;
                u.q[128 * h + 96 + l] = ((lo2 >> 4) | (((hb >> 6) & 3) << 4)) - 32;
            }
        }
        for (int s = 0; s < 16; ++s) u.scale[s] = b.scales[s];
        u.d = fp16_to_fp32(b.d);
        return u;
    }
    // Q4_K and Q5_K share the header, the scales and the nibbles.
    BlockQ5_K b5{};
    if (type == GgmlType::q5_k) {
        std::memcpy(&b5, block, sizeof b5);
    } else {
        BlockQ4_K b4;
        std::memcpy(&b4, block, sizeof b4);
        b5.d = b4.d;
        b5.dmin = b4.dmin;
        std::memcpy(b5.scales, b4.scales, sizeof b4.scales);
        std::memcpy(b5.qs, b4.qs, sizeof b4.qs);
    }
    for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
            u.q[64 * c + l] = (b5.qs[32 * c + l] & 0xF) | (((b5.qh[l] >> (2 * c)) & 1) << 4);
            u.q[64 * c + 32 + l] =
                (b5.qs[32 * c + l] >> 4) | (((b5.qh[l] >> (2 * c + 1)) & 1) << 4);
        }
    }
    for (int s = 0; s < 8; ++s) scale_min_k4(s, b5.scales, &u.scale[s], &u.min[s]);
    u.d = fp16_to_fp32(b5.d);
    u.dmin = fp16_to_fp32(b5.dmin);
    return u;
}

// Integer sum of elements [begin, end) (scales applied), and of their min terms.
void int_sums(const Unpacked& u, const BlockQ8_K& a, int group, int begin, int end, int* sum,
              int* min_sum) {
    *sum = *min_sum = 0;
    for (int g = begin; g < end; g += group) {
        int dot = 0, act = 0;
        for (int e = g; e < g + group; ++e) {
            dot += u.q[e] * a.qs[e];
            act += a.qs[e];
        }
        *sum += u.scale[g / group] * dot;
        *min_sum += u.min[g / group] * act;
    }
}

// The output llama.cpp gives for a weight row and activation row in the batch order.
float batch_order_dot(GgmlType type, const uint8_t* w, const BlockQ8_K* a, int64_t n) {
    const size_t block_bytes = tensor_row_bytes(type, kQK_K);
    const int group = type == GgmlType::q6_k ? 16 : 32;
    float acc = 0, mins = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const Unpacked u = unpack(type, w + block_bytes * size_t(i));
        int sum, min_sum;
        if (type == GgmlType::q4_k) {
            for (int c = 0; c < 4; ++c) {
                int_sums(u, a[i], group, 64 * c, 64 * c + 64, &sum, &min_sum);
                acc = std::fma(float(sum), u.d * a[i].d, acc);
                mins = std::fma(float(min_sum), u.dmin * a[i].d, mins);
            }
            continue;
        }
        int_sums(u, a[i], group, 0, kQK_K, &sum, &min_sum);
        const float r = std::fma(-u.dmin, float(min_sum), float(sum) * u.d);
        acc = std::fma(r, a[i].d, acc);
    }
    return acc - mins;
}

// Q4_K's gemv order (its rows outside the groups of 4).
float q4_k_gemv_dot(const uint8_t* w, const BlockQ8_K* a, int64_t n) {
    float acc = 0, mins = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const Unpacked u = unpack(GgmlType::q4_k, w + sizeof(BlockQ4_K) * size_t(i));
        int sum, min_sum;
        int_sums(u, a[i], 32, 0, kQK_K, &sum, &min_sum);
        acc = std::fma(float(sum), u.d * a[i].d, acc);
        mins = std::fma(float(min_sum), u.dmin * a[i].d, mins);
    }
    return acc - mins;
}

// Q5_K's and Q6_K's vec_dot (fewer than 8 rows) in the lanes of ggml's AVX2
// kernels: lane l holds, per 32 elements, the products of elements 4l..4l+3
// (scales applied); for Q6_K less 32 * (scale * activation sum) of the
// 16-element groups 2l and 2l + 1 (its quants' offset); per block one FMA of
// the lane times d * a.d; then the lanes are added l + (l + 4), then 0 + 2
// and 1 + 3, then those two. Q5_K's mins: one FMA per block of the min sum
// times a.d * dmin into a float taken off at the end.
float k_quant_vec_dot(GgmlType type, const uint8_t* w, const BlockQ8_K* a, int64_t n) {
    const size_t block_bytes = tensor_row_bytes(type, kQK_K);
    const bool q6 = type == GgmlType::q6_k;
    const int group = q6 ? 16 : 32;
    float acc[8] = {}, mins = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const Unpacked u = unpack(type, w + block_bytes * size_t(i));
        const float d = a[i].d * u.d;
        for (int l = 0; l < 8; ++l) {
            int lane = 0;
            for (int chunk = 0; chunk < 8; ++chunk) {  // 32 elements each
                for (int e = 32 * chunk + 4 * l; e < 32 * chunk + 4 * l + 4; ++e)
                    lane += u.scale[e / group] * (u.q[e] + (q6 ? 32 : 0)) * a[i].qs[e];
            }
            if (q6) {
                for (int g = 2 * l; g < 2 * l + 2; ++g) {
                    int act = 0;
                    for (int e = 16 * g; e < 16 * g + 16; ++e) act += a[i].qs[e];
                    lane -= 32 * u.scale[g] * act;
                }
            }
            acc[l] = std::fma(float(lane), d, acc[l]);
        }
        if (!q6) {
            int sum, min_sum;
            int_sums(u, a[i], group, 0, kQK_K, &sum, &min_sum);
            mins = std::fma(float(min_sum), a[i].d * u.dmin, mins);
        }
    }
    float four[4];
    for (int l = 0; l < 4; ++l) four[l] = acc[l + 4] + acc[l];
    return ((four[0] + four[2]) + (four[1] + four[3])) - mins;
}

class BatchOrder : public ::testing::TestWithParam<GgmlType> {};

TEST_P(BatchOrder, MatmulSumsEachRowInLlamaCppsOrder) {
    if (cpu::active_isa() == cpu::Isa::scalar) GTEST_SKIP() << "the scalar kernels sum plainly";
    const GgmlType type = GetParam();
    const cpu::MatmulKernel* k = cpu::matmul_kernel(type);
    ASSERT_NE(k->vec_dot_batch, nullptr);
    // 40 outputs: with AMX, two 16-row tiles and 8 rows left.
    const int64_t n_in = 3 * kQK_K, n_out = 40;
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> wf(size_t(n_in * n_out));
    for (float& v : wf) v = normal(rng);
    const size_t wrow = tensor_row_bytes(type, n_in);
    std::vector<uint8_t> wq(wrow * size_t(n_out));
    for (int64_t o = 0; o < n_out; ++o)
        quantize_row_ref(type, wf.data() + o * n_in, wq.data() + wrow * size_t(o), n_in);
    auto be = make_cpu_backend({2});
    const Tensor w =
        be->weight(type, n_in, n_out, wq.data(), WeightBytes::caller, WeightUse::matmul);
    // With AMX: 16-row tiles, then the AVX-512 tile for what is left.
    for (int64_t n : {1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 23, 32, 37}) {
        std::vector<float> xf(size_t(n * n_in));
        for (float& v : xf) v = normal(rng);
        Tensor x = be->alloc(GgmlType::f32, n_in, n);
        Tensor y = be->alloc(GgmlType::f32, n_out, n);
        be->upload(x, xf.data(), xf.size() * sizeof(float));
        be->matmul(y, w, x, n);
        std::vector<BlockQ8_K> a(size_t(n_in / kQK_K));
        for (int64_t r = 0; r < n; ++r) {
            quantize_row_q8_k_ref(xf.data() + r * n_in, a.data(), n_in);
            const bool batch =
                type == GgmlType::q4_k ? r < n - n % 4 : n >= 8;  // llama.cpp's rules
            for (int64_t o = 0; o < n_out; ++o) {
                const uint8_t* wr = wq.data() + wrow * size_t(o);
                float want;
                if (batch)
                    want = batch_order_dot(type, wr, a.data(), n_in);
                else if (type == GgmlType::q4_k)
                    want = q4_k_gemv_dot(wr, a.data(), n_in);
                else
                    want = k_quant_vec_dot(type, wr, a.data(), n_in);
                EXPECT_EQ(y.row(r)[o], want) << "n " << n << " row " << r << " out " << o;
            }
        }
        be->free(x);
        be->free(y);
    }
}

INSTANTIATE_TEST_SUITE_P(Types, BatchOrder,
                         ::testing::Values(GgmlType::q4_k, GgmlType::q5_k, GgmlType::q6_k),
                         [](const auto& param) {
                             return std::string(ggml_type_name(param.param));
                         });

}  // namespace
}  // namespace slim
