// Dequantization of random blocks of every supported type, bit for bit against
// the gguf package (and, for Q8_1/Q8_K, which gguf lacks, against the numpy
// decoding of ggml's layouts in tools/reference/make_quant_refs.py).
#include <gtest/gtest.h>

#include <bit>
#include <string>
#include <vector>

#include "format/error.h"
#include "format/ggml_type.h"
#include "quant_ref_file.h"
#include "tensor/blocks.h"
#include "tensor/tensor_type.h"

namespace slim {
namespace {

using test::QuantRefKind;

class DequantRef : public ::testing::TestWithParam<GgmlType> {};

TEST_P(DequantRef, BitExactWithReference) {
    const GgmlType type = GetParam();
    const test::QuantRef ref =
        test::read_quant_ref(test::quant_ref_path(ggml_type_name(type), "dequant"));
    ASSERT_EQ(ref.type_id, static_cast<uint32_t>(type));
    ASSERT_EQ(ref.kind, QuantRefKind::dequant);
    const auto n = static_cast<int64_t>(ref.values.size());
    ASSERT_EQ(tensor_row_bytes(type, n), ref.blocks.size());

    std::vector<float> out(ref.values.size(), -12345.0f);
    dequantize_row(type, ref.blocks.data(), out.data(), n);

    const uint32_t block_size = ggml_type_traits(type).block_size;
    int mismatches = 0;
    for (size_t i = 0; i < out.size() && mismatches < 8; ++i) {
        const auto got = std::bit_cast<uint32_t>(out[i]);
        const auto want = std::bit_cast<uint32_t>(ref.values[i]);
        if (got != want) {
            ++mismatches;
            ADD_FAILURE() << ggml_type_name(type) << " element " << i << " (block "
                          << i / block_size << "): got " << out[i] << " (0x" << std::hex << got
                          << "), want " << ref.values[i] << " (0x" << want << std::dec << ")";
        }
    }
    EXPECT_EQ(mismatches, 0);
}

// Dequantizing a whole buffer equals dequantizing it block by block: no state
// carries from one block to the next.
TEST_P(DequantRef, BlocksAreIndependent) {
    const GgmlType type = GetParam();
    const test::QuantRef ref =
        test::read_quant_ref(test::quant_ref_path(ggml_type_name(type), "dequant"));
    const GgmlTypeTraits traits = ggml_type_traits(type);
    const auto n = static_cast<int64_t>(ref.values.size());
    std::vector<float> whole(ref.values.size());
    dequantize_row(type, ref.blocks.data(), whole.data(), n);
    std::vector<float> one(traits.block_size);
    for (int64_t b = 0; b < n / traits.block_size; ++b) {
        dequantize_row(type, ref.blocks.data() + b * traits.type_size, one.data(),
                       traits.block_size);
        for (uint32_t j = 0; j < traits.block_size; ++j) {
            ASSERT_EQ(std::bit_cast<uint32_t>(one[j]),
                      std::bit_cast<uint32_t>(whole[b * traits.block_size + j]))
                << "block " << b << " element " << j;
        }
    }
}

std::string type_param_name(const ::testing::TestParamInfo<GgmlType>& param) {
    return std::string(ggml_type_name(param.param));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantRef, ::testing::ValuesIn(test::kSupportedTypes),
                         type_param_name);

// The block structs match the geometry the GGUF layer reads files with.
TEST(TensorType, BlockSizesMatchGgmlTable) {
    struct Expect {
        GgmlType type;
        size_t block_bytes;
        uint32_t block_size;
    };
    const Expect expects[] = {
        {GgmlType::q4_0, sizeof(BlockQ4_0), kQK4_0},
        {GgmlType::q4_1, sizeof(BlockQ4_1), kQK4_1},
        {GgmlType::q5_0, sizeof(BlockQ5_0), kQK5_0},
        {GgmlType::q5_1, sizeof(BlockQ5_1), kQK5_1},
        {GgmlType::q8_0, sizeof(BlockQ8_0), kQK8_0},
        {GgmlType::q8_1, sizeof(BlockQ8_1), kQK8_1},
        {GgmlType::q2_k, sizeof(BlockQ2_K), kQK_K},
        {GgmlType::q3_k, sizeof(BlockQ3_K), kQK_K},
        {GgmlType::q4_k, sizeof(BlockQ4_K), kQK_K},
        {GgmlType::q5_k, sizeof(BlockQ5_K), kQK_K},
        {GgmlType::q6_k, sizeof(BlockQ6_K), kQK_K},
        {GgmlType::q8_k, sizeof(BlockQ8_K), kQK_K},
        {GgmlType::iq4_nl, sizeof(BlockIQ4_NL), kQK4_NL},
        {GgmlType::iq4_xs, sizeof(BlockIQ4_XS), kQK_K},
    };
    for (const Expect& e : expects) {
        const GgmlTypeTraits traits = ggml_type_traits(e.type);
        EXPECT_EQ(traits.type_size, e.block_bytes) << traits.name;
        EXPECT_EQ(traits.block_size, e.block_size) << traits.name;
        EXPECT_TRUE(tensor_type_supported(e.type)) << traits.name;
    }
}

TEST(TensorType, SupportedSet) {
    for (GgmlType type : test::kSupportedTypes) {
        EXPECT_TRUE(tensor_type_supported(type)) << ggml_type_name(type);
    }
    for (GgmlType type : {GgmlType::iq2_xxs, GgmlType::iq1_s, GgmlType::tq1_0, GgmlType::mxfp4,
                          GgmlType::i8, GgmlType::f64}) {
        EXPECT_FALSE(tensor_type_supported(type)) << ggml_type_name(type);
    }
}

TEST(TensorType, RowBytes) {
    EXPECT_EQ(tensor_row_bytes(GgmlType::f32, 640), 2560u);
    EXPECT_EQ(tensor_row_bytes(GgmlType::bf16, 3), 6u);
    EXPECT_EQ(tensor_row_bytes(GgmlType::q4_1, 576), 18u * 20u);
    EXPECT_EQ(tensor_row_bytes(GgmlType::q8_1, 64), 72u);
    EXPECT_EQ(tensor_row_bytes(GgmlType::q4_k, 512), 2u * 144u);
    EXPECT_EQ(tensor_row_bytes(GgmlType::q8_k, 0), 0u);
}

TEST(TensorType, BadArgumentsThrowTypedErrors) {
    float f[256] = {};
    uint8_t bytes[1024] = {};
    try {
        dequantize_row(GgmlType::iq2_xxs, bytes, f, 256);
        FAIL() << "no error for an unsupported type";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::unsupported);
        EXPECT_EQ(e.found(), "IQ2_XXS");
    }
    try {
        quantize_row_ref(GgmlType::q4_0, f, bytes, 48);
        FAIL() << "no error for a partial block";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
        EXPECT_EQ(e.found(), "48");
    }
    EXPECT_THROW(tensor_row_bytes(GgmlType::q6_k, -256), Error);
    EXPECT_THROW(tensor_row_bytes(GgmlType::q6_k, 640), Error);
}

}  // namespace
}  // namespace slim
