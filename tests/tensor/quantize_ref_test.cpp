// Reference quantizers, byte for byte: against the gguf package for the types
// it can quantize (F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), and against ggml's
// own quantize_row_*_ref (built from llama-cpp-python's vendored ggml by
// tools/reference/make_ggml_quant_refs.py) for the rest (Q8_1, the K-quants,
// Q8_K, IQ4_NL, IQ4_XS). Then round trips of every type held to per-type
// error bounds, with tails, and the invariants each layout promises.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "format/ggml_type.h"
#include "quant_ref_file.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/tensor_type.h"

namespace slim {
namespace {

using test::QuantRefKind;

std::string type_param_name(const ::testing::TestParamInfo<GgmlType>& param) {
    return std::string(ggml_type_name(param.param));
}

// Quantizes the reference's input and compares bytes, reporting the first few
// differing bytes with their block.
void expect_bytes_match(GgmlType type, std::string_view suffix, std::string_view source) {
    const test::QuantRef ref =
        test::read_quant_ref(test::quant_ref_path(ggml_type_name(type), suffix));
    ASSERT_EQ(ref.type_id, static_cast<uint32_t>(type));
    ASSERT_EQ(ref.kind, QuantRefKind::quant);
    const auto n = static_cast<int64_t>(ref.values.size());
    ASSERT_EQ(tensor_row_bytes(type, n), ref.blocks.size());

    std::vector<uint8_t> out(ref.blocks.size(), 0xAA);
    quantize_row_ref(type, ref.values.data(), out.data(), n);

    const GgmlTypeTraits traits = ggml_type_traits(type);
    int mismatches = 0;
    for (size_t i = 0; i < out.size() && mismatches < 8; ++i) {
        if (out[i] != ref.blocks[i]) {
            ++mismatches;
            const size_t block = i / traits.type_size;
            ADD_FAILURE() << traits.name << " block " << block << " byte " << i % traits.type_size
                          << ": got 0x" << std::hex << int(out[i]) << ", " << source << " wrote 0x"
                          << int(ref.blocks[i]) << std::dec << " (block input starts with "
                          << ref.values[block * traits.block_size] << ")";
        }
    }
    EXPECT_EQ(mismatches, 0);
}

class QuantizeGguf : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantizeGguf, ByteExact) {
    expect_bytes_match(GetParam(), "quant", "gguf.quants");
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeGguf, ::testing::ValuesIn(test::kGgufQuantizableTypes),
                         type_param_name);

class QuantizeGgml : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantizeGgml, ByteExact) {
    expect_bytes_match(GetParam(), "ggml_quant", "ggml");
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeGgml, ::testing::ValuesIn(test::kGgmlOnlyQuantizableTypes),
                         type_param_name);

// --- round trips -------------------------------------------------------------------

struct Bound {
    GgmlType type;
    double max_relative_rmse;  // RMSE of the round trip over the RMS of the input
};

// Measured on this data (Gaussian, a new scale every 32 values over four
// decades, an 8x outlier one time in 200) and rounded up by about 20%. They
// catch a broken search or packing, which costs far more, not a change in
// the last bit (the byte-exact tests above do that).
constexpr Bound kBounds[] = {
    {GgmlType::f32, 0.0},     {GgmlType::f16, 3e-4},     {GgmlType::bf16, 2e-3},
    {GgmlType::q4_0, 0.127},  {GgmlType::q4_1, 0.097},   {GgmlType::q5_0, 0.062},
    {GgmlType::q5_1, 0.047},  {GgmlType::q8_0, 0.0081},  {GgmlType::q8_1, 0.0081},
    {GgmlType::q2_k, 0.33},   {GgmlType::q3_k, 0.21},    {GgmlType::q4_k, 0.105},
    {GgmlType::q5_k, 0.054},  {GgmlType::q6_k, 0.035},   {GgmlType::q8_k, 0.021},
    {GgmlType::iq4_nl, 0.11}, {GgmlType::iq4_xs, 0.136},
};

double bound_for(GgmlType type) {
    for (const Bound& b : kBounds) {
        if (b.type == type) return b.max_relative_rmse;
    }
    return -1;
}

// n values, one scale per 32 (so super-blocks see uneven sub-blocks), and an
// outlier now and then.
std::vector<float> test_data(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> log_scale(-3.0f, 1.0f);
    std::uniform_int_distribution<int> outlier(0, 199);
    std::vector<float> x(static_cast<size_t>(n), 0.0f);
    float scale = 1.0f;
    for (int64_t i = 0; i < n; ++i) {
        if (i % 32 == 0) scale = std::pow(10.0f, log_scale(rng));
        x[size_t(i)] = normal(rng) * scale * (outlier(rng) == 0 ? 8.0f : 1.0f);
    }
    return x;
}

class RoundTrip : public ::testing::TestWithParam<GgmlType> {};

// An odd number of blocks in each of 3 rows, so tails are reached.
TEST_P(RoundTrip, ErrorWithinBound) {
    const GgmlType type = GetParam();
    const GgmlTypeTraits traits = ggml_type_traits(type);
    const int64_t blocks_per_row = traits.block_size == 1 ? 1001 : traits.block_size == 32 ? 33 : 7;
    const int64_t row = blocks_per_row * traits.block_size;
    double err2 = 0, ref2 = 0;
    for (uint32_t r = 0; r < 3; ++r) {
        const std::vector<float> x = test_data(row, 1000 + r);
        std::vector<uint8_t> q(tensor_row_bytes(type, row));
        std::vector<float> y(static_cast<size_t>(row));
        quantize_row_ref(type, x.data(), q.data(), row);
        dequantize_row(type, q.data(), y.data(), row);
        for (int64_t i = 0; i < row; ++i) {
            const double e = double(y[size_t(i)]) - x[size_t(i)];
            err2 += e * e;
            ref2 += double(x[size_t(i)]) * x[size_t(i)];
        }
    }
    const double relative_rmse = std::sqrt(err2 / ref2);
    RecordProperty("relative_rmse", std::to_string(relative_rmse));
    std::printf("%s: relative RMSE %.5f (bound %.5f)\n", traits.name.data(), relative_rmse,
                bound_for(type));
    ASSERT_GE(bound_for(type), 0.0) << "no bound for " << traits.name;
    EXPECT_LE(relative_rmse, bound_for(type)) << traits.name;
}

// A block of zeros decodes to zeros (of either sign), whatever the type.
TEST_P(RoundTrip, ZerosStayZero) {
    const GgmlType type = GetParam();
    const int64_t n = 2 * kQK_K;
    const std::vector<float> x(static_cast<size_t>(n), 0.0f);
    std::vector<uint8_t> q(tensor_row_bytes(type, n));
    std::vector<float> y(static_cast<size_t>(n), 1.0f);
    quantize_row_ref(type, x.data(), q.data(), n);
    dequantize_row(type, q.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[size_t(i)], 0.0f) << "element " << i;
}

// A block of one repeated value comes back close to it (Q4_1-style types have
// d = 0 there; symmetric types put it on their extreme level).
TEST_P(RoundTrip, ConstantBlock) {
    const GgmlType type = GetParam();
    const int64_t n = kQK_K;
    for (float v : {0.37f, -2.5f}) {
        const std::vector<float> x(static_cast<size_t>(n), v);
        std::vector<uint8_t> q(tensor_row_bytes(type, n));
        std::vector<float> y(static_cast<size_t>(n));
        quantize_row_ref(type, x.data(), q.data(), n);
        dequantize_row(type, q.data(), y.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            ASSERT_NEAR(y[size_t(i)], v, 0.02 * std::fabs(v)) << "element " << i << " of " << v;
        }
    }
}

// Quantizing a row equals quantizing each block alone: no state across blocks.
TEST_P(RoundTrip, BlocksAreIndependent) {
    const GgmlType type = GetParam();
    const GgmlTypeTraits traits = ggml_type_traits(type);
    const int64_t n = 3 * kQK_K;
    const std::vector<float> x = test_data(n, 7);
    std::vector<uint8_t> whole(tensor_row_bytes(type, n));
    quantize_row_ref(type, x.data(), whole.data(), n);
    std::vector<uint8_t> one(traits.type_size);
    for (int64_t b = 0; b < n / traits.block_size; ++b) {
        quantize_row_ref(type, x.data() + b * traits.block_size, one.data(), traits.block_size);
        ASSERT_EQ(0, std::memcmp(one.data(), whole.data() + b * traits.type_size, one.size()))
            << "block " << b;
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, RoundTrip, ::testing::ValuesIn(test::kSupportedTypes),
                         type_param_name);

// --- layout invariants of the activation types ---------------------------------------

TEST(QuantizeQ8K, BsumsAreSumsOfSixteen) {
    const int64_t n = 3 * kQK_K;
    const std::vector<float> x = test_data(n, 11);
    std::vector<BlockQ8_K> q(size_t(n / kQK_K));
    quantize_row_ref(GgmlType::q8_k, x.data(), q.data(), n);
    for (const BlockQ8_K& b : q) {
        int max_abs = 0;
        for (int g = 0; g < kQK_K / 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) {
                sum += b.qs[16 * g + j];
                max_abs = std::max(max_abs, std::abs(int(b.qs[16 * g + j])));
            }
            EXPECT_EQ(b.bsums[g], sum) << "group " << g;
        }
        EXPECT_EQ(max_abs, 127);  // the largest magnitude lands on +-127, never -128
    }
}

TEST(QuantizeQ8_1, SumTermMatchesQuants) {
    const int64_t n = 9 * kQK8_1;
    const std::vector<float> x = test_data(n, 12);
    std::vector<BlockQ8_1> q(size_t(n / kQK8_1));
    quantize_row_ref(GgmlType::q8_1, x.data(), q.data(), n);
    for (const BlockQ8_1& b : q) {
        int sum = 0;
        for (int8_t v : b.qs) sum += v;
        const float d = fp16_to_fp32(b.d);
        // s is rounded once from sum * (unrounded d): within an f16 ulp or so.
        EXPECT_NEAR(fp16_to_fp32(b.s), float(sum) * d, 2e-3 * std::fabs(float(sum) * d) + 1e-7f);
    }
}

}  // namespace
}  // namespace slim
