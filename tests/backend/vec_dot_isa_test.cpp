// Every ISA's kernel table against the scalar reference (kernels.h), on the
// same bytes: random blocks (odd block counts, extreme quants), blocks whose
// float scales are all 1 (the integer part, which must match exactly), and
// rows of the two real models. The activation quantizers must give the
// scalar quantizer's bytes.
//
// Between kernels only the order of float operations differs (per-lane
// accumulators, FMA), so the tolerance is a float-summation bound:
// (2 * blocks + 64) * FLT_EPSILON times the sum of the absolute values of the
// terms that are added, which, for types with mins, counts the scale and the
// min parts of each weight separately since those are summed separately
// before they cancel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <random>
#include <stdexcept>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "format/gguf.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/tensor_type.h"
#include "test_paths.h"

namespace slim {
namespace {

using cpu::Isa;

// Where a weight type keeps its f16 block scale and (if any) its f16 min scale.
struct Layout {
    GgmlType type;
    int block;  // elements per block
    size_t block_bytes;
    size_t d;        // offset of the f16 scale
    ptrdiff_t dmin;  // offset of the f16 min scale, or -1
};

const Layout kLayouts[] = {
    {GgmlType::q4_0, 32, sizeof(BlockQ4_0), offsetof(BlockQ4_0, d), -1},
    {GgmlType::q4_1, 32, sizeof(BlockQ4_1), offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)},
    {GgmlType::q5_0, 32, sizeof(BlockQ5_0), offsetof(BlockQ5_0, d), -1},
    {GgmlType::q5_1, 32, sizeof(BlockQ5_1), offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)},
    {GgmlType::q8_0, 32, sizeof(BlockQ8_0), offsetof(BlockQ8_0, d), -1},
    {GgmlType::iq4_nl, 32, sizeof(BlockIQ4_NL), offsetof(BlockIQ4_NL, d), -1},
    {GgmlType::q2_k, 256, sizeof(BlockQ2_K), offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)},
    {GgmlType::q3_k, 256, sizeof(BlockQ3_K), offsetof(BlockQ3_K, d), -1},
    {GgmlType::q4_k, 256, sizeof(BlockQ4_K), offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)},
    {GgmlType::q5_k, 256, sizeof(BlockQ5_K), offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)},
    {GgmlType::q6_k, 256, sizeof(BlockQ6_K), offsetof(BlockQ6_K, d), -1},
    {GgmlType::iq4_xs, 256, sizeof(BlockIQ4_XS), offsetof(BlockIQ4_XS, d), -1},
};

const Layout& layout(GgmlType type) {
    for (const Layout& l : kLayouts) {
        if (l.type == type) return l;
    }
    throw std::logic_error("no layout");
}

void put_u16(uint8_t* p, uint16_t v) {
    std::memcpy(p, &v, 2);
}
uint16_t get_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

// Activation rows in the partner type, built from quants in -127..127 (the
// range both activation quantizers produce), with consistent sums.
std::vector<uint8_t> make_act(GgmlType act, int64_t n, std::mt19937& rng, int qmax, float scale,
                              bool unit) {
    std::uniform_int_distribution<int> q(-qmax, qmax);
    std::uniform_real_distribution<float> d(0.5f * scale, 2.0f * scale);
    std::vector<uint8_t> out(tensor_row_bytes(act, n));
    if (act == GgmlType::q8_k) {
        auto* b = reinterpret_cast<BlockQ8_K*>(out.data());
        for (int64_t i = 0; i < n / kQK_K; ++i) {
            b[i].d = unit ? 1.0f : d(rng);
            for (int8_t& v : b[i].qs) v = int8_t(q(rng));
            for (int s = 0; s < 16; ++s) {
                int sum = 0;
                for (int j = 0; j < 16; ++j) sum += b[i].qs[16 * s + j];
                b[i].bsums[s] = int16_t(sum);
            }
        }
        return out;
    }
    const bool q8_1 = act == GgmlType::q8_1;
    const size_t bytes = q8_1 ? sizeof(BlockQ8_1) : sizeof(BlockQ8_0);
    const size_t qs = q8_1 ? offsetof(BlockQ8_1, qs) : offsetof(BlockQ8_0, qs);
    for (int64_t i = 0; i < n / 32; ++i) {
        uint8_t* b = out.data() + bytes * size_t(i);
        const float df = unit ? 1.0f : fp16_to_fp32(fp32_to_fp16(d(rng)));
        put_u16(b, fp32_to_fp16(df));
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
            const int v = q(rng);
            b[qs + size_t(j)] = uint8_t(int8_t(v));
            sum += v;
        }
        if (q8_1) put_u16(b + offsetof(BlockQ8_1, s), fp32_to_fp16(df * float(sum)));
    }
    return out;
}

// Weight rows of random bytes with finite f16 scales; unit: d = 1, no mins.
std::vector<uint8_t> make_weights(const Layout& l, int64_t n, std::mt19937& rng, uint8_t fill,
                                  bool random, bool unit) {
    std::vector<uint8_t> out(tensor_row_bytes(l.type, n), fill);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> d(-0.05f, 0.05f);
    if (random) {
        for (uint8_t& b : out) b = uint8_t(byte(rng));
    }
    for (int64_t i = 0; i < n / l.block; ++i) {
        uint8_t* b = out.data() + l.block_bytes * size_t(i);
        put_u16(b + l.d, unit ? fp32_to_fp16(1.0f) : fp32_to_fp16(d(rng)));
        if (l.dmin >= 0) put_u16(b + l.dmin, unit ? 0 : fp32_to_fp16(d(rng)));
    }
    return out;
}

// The float-summation bound described at the top.
double tolerance(const Layout& l, GgmlType act, const std::vector<uint8_t>& w,
                 const std::vector<uint8_t>& a, int64_t n) {
    std::vector<float> ad(static_cast<size_t>(n)), wd(static_cast<size_t>(n));
    dequantize_row(act, a.data(), ad.data(), n);
    double magnitude = 0;
    auto add_part = [&](bool keep_d) {
        std::vector<uint8_t> part = w;
        for (int64_t i = 0; i < n / l.block; ++i) {
            uint8_t* b = part.data() + l.block_bytes * size_t(i);
            if (l.dmin < 0) continue;
            put_u16(keep_d ? b + l.dmin : b + l.d, 0);
        }
        dequantize_row(l.type, part.data(), wd.data(), n);
        for (int64_t i = 0; i < n; ++i)
            magnitude += std::abs(double(wd[size_t(i)]) * ad[size_t(i)]);
    };
    add_part(true);
    if (l.dmin >= 0) add_part(false);
    if (act == GgmlType::q8_1) {
        // The min term multiplies the stored block sum s, not the quants.
        for (int64_t i = 0; i < n / 32; ++i) {
            const float m =
                fp16_to_fp32(get_u16(w.data() + l.block_bytes * size_t(i) + size_t(l.dmin)));
            const float s = fp16_to_fp32(
                get_u16(a.data() + sizeof(BlockQ8_1) * size_t(i) + offsetof(BlockQ8_1, s)));
            magnitude += std::abs(double(m) * s);
        }
    }
    return (2.0 * double(n / l.block) + 64) * FLT_EPSILON * magnitude + 1e-30;
}

struct Case {
    Isa isa;
    GgmlType type;
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << cpu::isa_name(c.isa) << " " << ggml_type_name(c.type);
}

class IsaVecDot : public ::testing::TestWithParam<Case> {
  protected:
    void SetUp() override {
        const Case c = GetParam();
        if (!cpu::isa_supported(c.isa, cpu::cpu_features())) {
            GTEST_SKIP() << "this CPU (or its OS) cannot run " << cpu::isa_name(c.isa) << " code";
        }
        kernel_ = cpu::isa_matmul_kernel(c.isa, c.type);
        if (!kernel_) {
            GTEST_SKIP() << "the " << cpu::isa_name(c.isa) << " table has no "
                         << ggml_type_name(c.type)
                         << " kernel yet (matmul_kernel falls back to the next table)";
        }
        reference_ = cpu::scalar_matmul_kernel(c.type);
        ASSERT_NE(reference_, nullptr);
        ASSERT_EQ(kernel_->act_type, reference_->act_type);
    }

    const cpu::MatmulKernel* kernel_ = nullptr;
    const cpu::MatmulKernel* reference_ = nullptr;
};

TEST_P(IsaVecDot, RandomBlocksWithinSummationBound) {
    const Layout& l = layout(GetParam().type);
    std::mt19937 rng(42);
    for (int64_t blocks : {1, 3, 7, 33}) {
        const int64_t n = blocks * l.block;
        for (int trial = 0; trial < 10; ++trial) {
            const auto w = make_weights(l, n, rng, 0, true, false);
            const auto a =
                make_act(kernel_->act_type, n, rng, 127, trial % 2 ? 1e-3f : 10.0f, false);
            const float want = reference_->vec_dot(n, w.data(), a.data());
            const float got = kernel_->vec_dot(n, w.data(), a.data());
            EXPECT_NEAR(got, want, tolerance(l, kernel_->act_type, w, a, n))
                << blocks << " blocks, trial " << trial;
            if (kernel_->vec_dot_batch) {  // the same sum in llama.cpp's batched order
                EXPECT_NEAR(kernel_->vec_dot_batch(n, w.data(), a.data()), want,
                            tolerance(l, kernel_->act_type, w, a, n))
                    << "batched order, " << blocks << " blocks, trial " << trial;
            }
        }
    }
}

TEST_P(IsaVecDot, ExtremeQuantsWithinSummationBound) {
    const Layout& l = layout(GetParam().type);
    std::mt19937 rng(7);
    for (int64_t blocks : {1, 5}) {
        const int64_t n = blocks * l.block;
        for (uint8_t fill :
             {uint8_t(0x00), uint8_t(0xFF), uint8_t(0x80), uint8_t(0x7F), uint8_t(0x55)}) {
            for (int sign : {1, -1}) {
                const auto w = make_weights(l, n, rng, fill, false, false);
                auto a = make_act(kernel_->act_type, n, rng, 0, 1.0f, false);
                // Every activation quant at +-127, with matching sums.
                const GgmlType act = kernel_->act_type;
                const int act_elems = act == GgmlType::q8_k ? kQK_K : 32;
                const size_t act_block = tensor_row_bytes(act, act_elems);
                const size_t qs_offset = act == GgmlType::q8_k   ? offsetof(BlockQ8_K, qs)
                                         : act == GgmlType::q8_1 ? offsetof(BlockQ8_1, qs)
                                                                 : offsetof(BlockQ8_0, qs);
                for (int64_t i = 0; i < n / act_elems; ++i) {
                    uint8_t* b = a.data() + act_block * size_t(i);
                    std::memset(b + qs_offset, int(uint8_t(int8_t(sign * 127))), size_t(act_elems));
                    if (act == GgmlType::q8_k) {
                        for (int16_t& s : reinterpret_cast<BlockQ8_K*>(b)->bsums)
                            s = int16_t(sign * 127 * 16);
                    } else if (act == GgmlType::q8_1) {
                        const float d = fp16_to_fp32(get_u16(b));
                        put_u16(b + offsetof(BlockQ8_1, s),
                                fp32_to_fp16(d * float(sign * 127 * 32)));
                    }
                }
                const float want = reference_->vec_dot(n, w.data(), a.data());
                const float got = kernel_->vec_dot(n, w.data(), a.data());
                EXPECT_NEAR(got, want, tolerance(l, kernel_->act_type, w, a, n))
                    << blocks << " blocks, fill " << int(fill) << ", sign " << sign;
            }
        }
    }
}

// With every float scale 1 and no mins, all partial sums are integers below
// 2^24, which floats hold exactly in any order: the results must be equal.
TEST_P(IsaVecDot, IntegerPartExact) {
    const Layout& l = layout(GetParam().type);
    std::mt19937 rng(3);
    for (int64_t blocks : {1, 3, 9}) {
        const int64_t n = blocks * l.block;
        for (int trial = 0; trial < 20; ++trial) {
            const auto w = make_weights(l, n, rng, 0, true, true);
            const auto a = make_act(kernel_->act_type, n, rng, trial % 2 ? 31 : 7, 1.0f, true);
            EXPECT_EQ(kernel_->vec_dot(n, w.data(), a.data()),
                      reference_->vec_dot(n, w.data(), a.data()))
                << blocks << " blocks, trial " << trial;
        }
    }
}

TEST_P(IsaVecDot, ActivationQuantizerBytesIdentical) {
    const int64_t n = 256 * 5;
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<float> x(static_cast<size_t>(n));
        for (float& v : x) v = normal(rng) * std::pow(10.0f, float(trial % 7 - 3));
        if (trial % 5 == 1) std::fill(x.begin(), x.begin() + 256, 0.0f);  // all-zero blocks
        if (trial % 5 == 2) {
            // amax 127 makes the multiplier exactly 1: ties at .5 must round to even.
            for (int64_t i = 0; i < n; ++i)
                x[size_t(i)] = i % 32 == 0 ? 127.0f : float(i % 64) - 31.5f;
        }
        if (trial % 5 == 3) x[7] = -x[7] * 1e6f;  // one huge value in the first block
        if (trial % 5 == 4) {
            // Products that round to a tie only once rounded to float: with
            // max -381 the Q8_K multiplier is float(1/3), and 7.5 * it is
            // 2.50000007, which rounds to 2 as a float product (ties to
            // even) and to 3 if the product and the rounding are fused.
            x[0] = -381.0f;
            for (size_t j = 1; j < 256; ++j) x[j] = 7.5f + 6.0f * float(j % 40);
            // The largest magnitude twice, with both signs: the first sets the scale's sign.
            x[300] = -1e3f * float(trial);
            x[400] = 1e3f * float(trial);
            x[700] = 2e3f * float(trial);
            x[600] = -2e3f * float(trial);
            // An infinity and a NaN in the last two blocks: the Q8_K
            // quantizer hands such blocks to the reference. (The 32-element
            // ones give other bytes there, as llama.cpp's SIMD ones do.)
            if (kernel_->act_type == GgmlType::q8_k) {
                x[size_t(n) - 300] = INFINITY;
                x[size_t(n) - 10] = NAN;
            }
        }
        std::vector<uint8_t> got(tensor_row_bytes(kernel_->act_type, n)), want(got.size());
        kernel_->quantize_act(x.data(), got.data(), n);
        reference_->quantize_act(x.data(), want.data(), n);
        ASSERT_EQ(got, want) << "trial " << trial;
    }
}

// Rows of the real models, each against activations quantized from random
// normal floats by the scalar quantizer.
TEST_P(IsaVecDot, RealModelRows) {
    const Case c = GetParam();
    int rows_checked = 0;
    for (const auto& path : {test::default_model(), test::smollm2_model()}) {
        if (!std::filesystem::exists(path))
            GTEST_SKIP() << path << " is missing (scripts/get-models.sh)";
        const GgufFile file = GgufFile::open(path);
        std::mt19937 rng(5);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (const GgufTensorInfo& t : file.tensors()) {
            if (t.type != c.type || t.n_dims != 2) continue;
            const int64_t n = t.ne[0];
            const size_t row_bytes = tensor_row_bytes(t.type, n);
            const auto data = file.tensor_data(t);
            std::vector<float> x(static_cast<size_t>(n));
            for (float& v : x) v = normal(rng);
            std::vector<uint8_t> a(tensor_row_bytes(kernel_->act_type, n));
            reference_->quantize_act(x.data(), a.data(), n);
            for (int64_t r : {int64_t(0), t.ne[1] / 2, t.ne[1] - 1}) {
                const std::vector<uint8_t> w(data.begin() + ptrdiff_t(row_bytes * size_t(r)),
                                             data.begin() + ptrdiff_t(row_bytes * size_t(r + 1)));
                const float want = reference_->vec_dot(n, w.data(), a.data());
                const float got = kernel_->vec_dot(n, w.data(), a.data());
                EXPECT_NEAR(got, want, tolerance(layout(c.type), kernel_->act_type, w, a, n))
                    << t.name << " row " << r;
                ++rows_checked;
            }
        }
    }
    if (rows_checked == 0)
        GTEST_SKIP() << "neither model has " << ggml_type_name(c.type) << " matrices";
}

std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
        for (const Layout& l : kLayouts) cases.push_back({isa, l.type});
    }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(Kernels, IsaVecDot, ::testing::ValuesIn(all_cases()),
                         [](const auto& param) {
                             return std::string(cpu::isa_name(param.param.isa)) + "_" +
                                    std::string(ggml_type_name(param.param.type));
                         });

}  // namespace
}  // namespace slim
