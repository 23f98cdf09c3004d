#include "tensor/tensor_type.h"

#include <fmt/format.h>

#include <cstring>
#include <string>

#include "format/error.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace slim {

namespace {

using DequantizeFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeFn = void (*)(const float* src, void* dst, int64_t n);

struct TypeOps {
    GgmlType type;
    DequantizeFn dequantize;
    QuantizeFn quantize;
};

// Type-erased adapters of the typed block functions: the block type is read
// off the function's signature.
template <class Block>
Block block_of(void (*)(const Block*, float*, int64_t));
template <class Block>
Block block_of(void (*)(const float*, Block*, int64_t));

template <auto Dequantize>
void dequantize_erased(const void* src, float* dst, int64_t n) {
    using Block = decltype(block_of(Dequantize));
    Dequantize(static_cast<const Block*>(src), dst, n);
}

template <auto Quantize>
void quantize_erased(const float* src, void* dst, int64_t n) {
    using Block = decltype(block_of(Quantize));
    Quantize(src, static_cast<Block*>(dst), n);
}

void dequantize_f32(const void* src, float* dst, int64_t n) {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
}

void quantize_f32(const float* src, void* dst, int64_t n) {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
}

void dequantize_f16(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
}

void quantize_f16(const float* src, void* dst, int64_t n) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
}

constexpr TypeOps kOps[] = {
    {GgmlType::f32, &dequantize_f32, &quantize_f32},
    {GgmlType::f16, &dequantize_f16, &quantize_f16},
    {GgmlType::bf16, &dequantize_bf16, &quantize_bf16},
    {GgmlType::q4_0, &dequantize_erased<dequantize_row_q4_0>,
     &quantize_erased<quantize_row_q4_0_ref>},
    {GgmlType::q4_1, &dequantize_erased<dequantize_row_q4_1>,
     &quantize_erased<quantize_row_q4_1_ref>},
    {GgmlType::q5_0, &dequantize_erased<dequantize_row_q5_0>,
     &quantize_erased<quantize_row_q5_0_ref>},
    {GgmlType::q5_1, &dequantize_erased<dequantize_row_q5_1>,
     &quantize_erased<quantize_row_q5_1_ref>},
    {GgmlType::q8_0, &dequantize_erased<dequantize_row_q8_0>,
     &quantize_erased<quantize_row_q8_0_ref>},
    {GgmlType::q8_1, &dequantize_erased<dequantize_row_q8_1>,
     &quantize_erased<quantize_row_q8_1_ref>},
    {GgmlType::q2_k, &dequantize_erased<dequantize_row_q2_k>,
     &quantize_erased<quantize_row_q2_k_ref>},
    {GgmlType::q3_k, &dequantize_erased<dequantize_row_q3_k>,
     &quantize_erased<quantize_row_q3_k_ref>},
    {GgmlType::q4_k, &dequantize_erased<dequantize_row_q4_k>,
     &quantize_erased<quantize_row_q4_k_ref>},
    {GgmlType::q5_k, &dequantize_erased<dequantize_row_q5_k>,
     &quantize_erased<quantize_row_q5_k_ref>},
    {GgmlType::q6_k, &dequantize_erased<dequantize_row_q6_k>,
     &quantize_erased<quantize_row_q6_k_ref>},
    {GgmlType::q8_k, &dequantize_erased<dequantize_row_q8_k>,
     &quantize_erased<quantize_row_q8_k_ref>},
    {GgmlType::iq4_nl, &dequantize_erased<dequantize_row_iq4_nl>,
     &quantize_erased<quantize_row_iq4_nl_ref>},
    {GgmlType::iq4_xs, &dequantize_erased<dequantize_row_iq4_xs>,
     &quantize_erased<quantize_row_iq4_xs_ref>},
};

const TypeOps* find_ops(GgmlType type) {
    for (const TypeOps& ops : kOps) {
        if (ops.type == type) return &ops;
    }
    return nullptr;
}

// The ops of a supported type, after checking n against its block size.
const TypeOps& checked_ops(GgmlType type, int64_t n) {
    const TypeOps* ops = find_ops(type);
    if (!ops) {
        throw Error(ErrorKind::unsupported, "", "tensor type", std::nullopt,
                    "a type slim computes with", std::string(ggml_type_name(type)));
    }
    const uint32_t block_size = ggml_type_traits(type).block_size;
    if (n < 0 || n % block_size != 0) {
        throw Error(
            ErrorKind::invalid_argument, "", "element count", std::nullopt,
            fmt::format("a multiple of {} (the {} block size)", block_size, ggml_type_name(type)),
            std::to_string(n));
    }
    return *ops;
}

}  // namespace

bool tensor_type_supported(GgmlType type) {
    return find_ops(type) != nullptr;
}

size_t tensor_row_bytes(GgmlType type, int64_t n) {
    checked_ops(type, n);
    const GgmlTypeTraits traits = ggml_type_traits(type);
    return size_t(n / traits.block_size) * traits.type_size;
}

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
    checked_ops(type, n).dequantize(src, dst, n);
}

void quantize_row_ref(GgmlType type, const float* src, void* dst, int64_t n) {
    checked_ops(type, n).quantize(src, dst, n);
}

}  // namespace slim
