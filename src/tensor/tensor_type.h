// The tensor element types slim computes with, keyed by ggml's type id:
// which are supported, and their scalar reference conversions to and from f32.
//
// Orientation (stated once for all of slim): a tensor's dimensions are ggml's,
// ne[0] first, and ne[0] is the contiguous one. A row is ne[0] consecutive
// elements, stored as ne[0] / block_size blocks back to back, and every
// quantized block covers a run of one row. A weight matrix of a layer with
// n_in inputs and n_out outputs has ne = {n_in, n_out}: n_out rows of n_in, so
// output i is the dot product of row i with the input vector (ggml_mul_mat's
// "transposed" convention; PyTorch's nn.Linear weight [n_out, n_in] has the
// same memory layout).
//
// Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K,
// Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS. Q8_1 and Q8_K are activation types
// (the right-hand operand of quantized dot products), not weight types.
//
// The functions here are the references that fast kernels are tested against:
// scalar, bit-exact with ggml (quants.h), not fast.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format/ggml_type.h"

namespace slim {

bool tensor_type_supported(GgmlType type);

// Bytes of a row of n elements. Throws Error (unsupported) for a type that is
// not supported, Error (invalid_argument) unless n is a non-negative multiple
// of the type's block size.
size_t tensor_row_bytes(GgmlType type, int64_t n);

// src holds n elements of `type` (tensor_row_bytes(type, n) bytes, aligned to
// 4 bytes, as GGUF tensor data is); dst gets n floats. Throws as
// tensor_row_bytes.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// Quantizes n floats with ggml's reference (no importance matrix) quantizer
// for `type`: the same bytes as llama.cpp's quantize_row_*_ref. F32 copies;
// F16 and BF16 round to nearest even. src must be finite; dst gets
// tensor_row_bytes(type, n) bytes. Throws as tensor_row_bytes.
void quantize_row_ref(GgmlType type, const float* src, void* dst, int64_t n);

}  // namespace slim
