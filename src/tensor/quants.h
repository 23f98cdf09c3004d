// Scalar reference dequantizers and quantizers, one pair per block type.
//
// These follow ggml's reference code (ggml/src/ggml-quants.c: dequantize_row_*
// and quantize_row_*_ref, the quantizers llama.cpp uses without an importance
// matrix) step for step, so that their output is bit-identical to ggml's:
// same search, same float operations in the same order, same rounding
// (nearest_int below, roundf where ggml uses it). Changing the order of a
// sum here changes bytes in files. tests/tensor holds them byte for byte to
// the gguf package and to ggml's own quantizers, through committed files.
//
// n is the number of elements, a multiple of the type's block size; x and y
// do not overlap. Quantizer inputs must be finite. Most callers want the
// GgmlType-keyed dispatch in tensor_type.h instead.
#pragma once

#include <bit>
#include <cstdint>

#include "tensor/blocks.h"

namespace slim {

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n);
void dequantize_row_q2_k(const BlockQ2_K* x, float* y, int64_t n);
void dequantize_row_q3_k(const BlockQ3_K* x, float* y, int64_t n);
void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n);
void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n);
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n);
void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n);
void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t n);
void dequantize_row_iq4_xs(const BlockIQ4_XS* x, float* y, int64_t n);

void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t n);
void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t n);
void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_q2_k_ref(const float* x, BlockQ2_K* y, int64_t n);
void quantize_row_q3_k_ref(const float* x, BlockQ3_K* y, int64_t n);
void quantize_row_q4_k_ref(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_k_ref(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_k_ref(const float* x, BlockQ6_K* y, int64_t n);
void quantize_row_q8_k_ref(const float* x, BlockQ8_K* y, int64_t n);
void quantize_row_iq4_nl_ref(const float* x, BlockIQ4_NL* y, int64_t n);
void quantize_row_iq4_xs_ref(const float* x, BlockIQ4_XS* y, int64_t n);

// A group whose largest magnitude is below this counts as all zeros
// (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even, for |f| <= 2^22: adding 1.5 * 2^23 leaves
// the integer in the low mantissa bits. ggml's quantizers round this way
// (not with roundf), and the bytes depend on it.
inline int nearest_int(float f) {
    const float shifted = f + 12582912.f;
    return int(std::bit_cast<uint32_t>(shifted) & 0x007fffff) - 0x00400000;
}

}  // namespace slim
