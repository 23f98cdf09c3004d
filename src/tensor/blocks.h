// Block layouts of the ggml quantization types, byte for byte as ggml-common.h
// lays them out (and so as GGUF stores them). Each block encodes a fixed run
// of consecutive elements along ne[0]; a row of n elements is n / block size
// blocks back to back. Scales marked f16 are IEEE binary16 bits (fp16.h).
//
// Field order, sizes and the packing of sub-fields are part of the file
// format: never reorder, and keep the static_asserts.
#pragma once

#include <cstdint>

namespace slim {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK4_NL = 32;
inline constexpr int kQK_K = 256;       // super-block of the K-quants and IQ4_XS
inline constexpr int kKScaleSize = 12;  // packed 6-bit scales and mins of Q4_K/Q5_K

// --- 32-element blocks -------------------------------------------------------

// x[j] = d * (q[j] - 8); q[j] = low nibble of qs[j] for j < 16, high nibble of qs[j-16] after.
struct BlockQ4_0 {
    uint16_t d;  // f16
    uint8_t qs[kQK4_0 / 2];
};

// x[j] = d * q[j] + m; nibbles as Q4_0.
struct BlockQ4_1 {
    uint16_t d;  // f16
    uint16_t m;  // f16
    uint8_t qs[kQK4_1 / 2];
};

// x[j] = d * (q[j] - 16); the 5th bit of q[j] is bit j of qh (little-endian u32).
struct BlockQ5_0 {
    uint16_t d;  // f16
    uint8_t qh[4];
    uint8_t qs[kQK5_0 / 2];
};

// x[j] = d * q[j] + m; bits as Q5_0.
struct BlockQ5_1 {
    uint16_t d;  // f16
    uint16_t m;  // f16
    uint8_t qh[4];
    uint8_t qs[kQK5_1 / 2];
};

// x[j] = d * qs[j].
struct BlockQ8_0 {
    uint16_t d;  // f16
    int8_t qs[kQK8_0];
};

// Activation type paired with Q4_1/Q5_1 in dot products: x[j] = d * qs[j],
// and s = d * sum(qs) so the min term of the weight block costs one multiply.
struct BlockQ8_1 {
    uint16_t d;  // f16
    uint16_t s;  // f16
    int8_t qs[kQK8_1];
};

// Non-linear 4-bit: x[j] = d * kIq4nlValues[q[j]]; nibbles as Q4_0.
struct BlockIQ4_NL {
    uint16_t d;  // f16
    uint8_t qs[kQK4_NL / 2];
};

// --- 256-element super-blocks --------------------------------------------------

// 16 sub-blocks of 16: x = d * (scales[s] & 0xF) * q - dmin * (scales[s] >> 4), q in 0..3.
// qs packs 4 quants per byte: byte l of 32-byte chunk c holds elements
// 128c + l + 32k at bits 2k (k = 0..3).
struct BlockQ2_K {
    uint8_t scales[kQK_K / 16];
    uint8_t qs[kQK_K / 4];
    uint16_t d;     // f16, scale of the 4-bit scales
    uint16_t dmin;  // f16, scale of the 4-bit mins
};

// 16 sub-blocks of 16: x = d * (scale[s] - 32) * (q - 4 * !high_bit), q in 0..3
// packed as Q2_K, high bit of element j in bit j / 32 of hmask[j % 32], and 6-bit
// scales packed in 12 bytes (low nibbles in bytes 0..7, high 2-bit pairs in 8..11).
struct BlockQ3_K {
    uint8_t hmask[kQK_K / 8];
    uint8_t qs[kQK_K / 4];
    uint8_t scales[12];
    uint16_t d;  // f16
};

// 8 sub-blocks of 32: x = d * sc[s] * q - dmin * m[s], q in 0..15, with 6-bit
// sc/m packed in 12 bytes (get_scale_min_k4 in quants_k.cpp). qs: 32-byte chunk c
// holds elements 64c + l (low nibble) and 64c + 32 + l (high nibble).
struct BlockQ4_K {
    uint16_t d;     // f16
    uint16_t dmin;  // f16
    uint8_t scales[kKScaleSize];
    uint8_t qs[kQK_K / 2];
};

// As Q4_K with a 5th bit: element 64c + l takes bit 2c of qh[l], element
// 64c + 32 + l bit 2c + 1.
struct BlockQ5_K {
    uint16_t d;     // f16
    uint16_t dmin;  // f16
    uint8_t scales[kKScaleSize];
    uint8_t qh[kQK_K / 8];
    uint8_t qs[kQK_K / 2];
};

// 16 sub-blocks of 16: x = d * scales[s] * (q - 32), q in 0..63. Per 128-element
// half h: ql[64h + l] holds elements l (low) and l + 64 (high nibble),
// ql[64h + 32 + l] elements l + 32 and l + 96; qh[32h + l] holds their top
// 2 bits at bits 0, 2, 4, 6 for l, l + 32, l + 64, l + 96.
struct BlockQ6_K {
    uint8_t ql[kQK_K / 2];
    uint8_t qh[kQK_K / 4];
    int8_t scales[kQK_K / 16];
    uint16_t d;  // f16
};

// Activation type of the K-quant dot products: x[j] = d * qs[j], with the sum
// of each group of 16 quants precomputed for the min terms. d is a full f32.
struct BlockQ8_K {
    float d;
    int8_t qs[kQK_K];
    int16_t bsums[kQK_K / 16];
};

// 8 sub-blocks of 32: x = d * (ls[s] - 32) * kIq4nlValues[q], with the 6-bit ls
// split into a low nibble (scales_l[s / 2], nibble s % 2) and 2 high bits
// (bits 2s of scales_h). qs: 16 bytes per sub-block, nibbles as Q4_0.
struct BlockIQ4_XS {
    uint16_t d;  // f16
    uint16_t scales_h;
    uint8_t scales_l[kQK_K / 64];
    uint8_t qs[kQK_K / 2];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_XS) == 136);

// The 16 levels of IQ4_NL and IQ4_XS, sorted (the quantizer's search relies on it).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

}  // namespace slim
