// IEEE binary16 (f16) and bfloat16 (bf16) <-> binary32 conversions, bit-exact
// with ggml's software paths (ggml_compute_fp32_to_fp16 and friends in
// ggml-impl.h), which is what writes the scales of every quantized block.
//
// f32 -> f16 and f32 -> bf16 round to nearest, ties to even; overflow goes to
// infinity; f16 subnormals are produced, not flushed. A NaN becomes ggml's
// quiet NaN: 0x7E00 (sign kept) for f16, the top half with the quiet bit set
// for bf16. The widening conversions are exact and keep NaN payloads, as
// numpy does (ggml's widening multiply also sets the quiet bit of a signalling
// NaN; no scale in a real file is one).
//
// Written here rather than taken from a library: Debian's half type (Imath's
// half) keeps NaN payloads where ggml writes 0x7E00, g++ 12 has no
// std::float16_t, and these few lines sit in every dequantization loop, so
// they must inline.
#pragma once

#include <bit>
#include <cstdint>

namespace slim {

inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    const uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
    // Zero or subnormal: mant * 2^-24 is exact in binary32.
    const float magnitude = float(mant) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
}

inline uint16_t fp32_to_fp16(float f) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    const uint16_t sign = uint16_t((bits >> 16) & 0x8000);
    const uint32_t abs = bits & 0x7fffffff;
    if (abs > 0x7f800000) return sign | 0x7e00;   // NaN
    if (abs >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to infinity (inf too)
    if (abs < 0x38800000) {
        // Below 2^-14, the smallest f16 normal: the result is subnormal (or
        // the smallest normal after rounding up). Adding 0.5f lines the f16
        // subnormal grid (2^-24) up with binary32's ulp at 0.5, so the FPU
        // does the round-to-nearest-even for us.
        const float sum = std::bit_cast<float>(abs) + 0.5f;
        return sign | uint16_t(std::bit_cast<uint32_t>(sum) - std::bit_cast<uint32_t>(0.5f));
    }
    // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits
    // to nearest even; a carry out of the mantissa bumps the exponent.
    const uint32_t odd = (abs >> 13) & 1;
    const uint32_t rounded = abs - ((127u - 15u) << 23) + 0xfff + odd;
    return sign | uint16_t(rounded >> 13);
}

inline float bf16_to_fp32(uint16_t h) {
    return std::bit_cast<float>(uint32_t(h) << 16);
}

inline uint16_t fp32_to_bf16(float f) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    if ((bits & 0x7fffffff) > 0x7f800000) return uint16_t((bits >> 16) | 0x40);  // quiet NaN
    return uint16_t((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

}  // namespace slim
