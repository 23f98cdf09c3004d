// SIMD helpers shared by the x86 kernel files (avx2/, avx512/), each of
// which is compiled with its own -m flags. Everything here is in an unnamed
// namespace, so every including file gets its own copy compiled with its own
// flags: with ordinary inline functions the linker would keep one copy, and
// one compiled for AVX-512 could end up running on a CPU with only AVX2.
#pragma once

#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "x86_simd.h is for the ISA kernel files, compiled with at least -mavx2 -mfma -mf16c"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <iterator>

#include "backend/cpu/repack.h"
#include "tensor/quants.h"

namespace slim::cpu {
namespace {

// Software prefetch of the weight stream: the cache lines that start in
// [p, p + bytes) + d, into L2, for each distance d of kPrefetchDistances,
// where [p, p + bytes) is this step's share of the stream. Calls whose shares
// tile the stream (the blocks of a row; a repacked group's blocks, each share
// counting its scales too) prefetch every line once per distance. Decode
// reads every weight once, and one core's hardware prefetchers alone left it
// at a third of the memory bandwidth: Q4_0 on a 1.5B model went from 11 to 20
// tokens/s at one thread (Zen 5) with a prefetch 4 KiB ahead into L1. On
// Sapphire Rapids, 8 KiB ahead into L2 beat that by 3-12% in decode on every
// test model at 1 and 2 threads (alternating runs): a prefetch into L1 holds
// one of its few fill buffers for the whole trip from memory.
//
// Each line is asked for three times, 4, 8 and 16 KiB ahead of its use. One
// core's pass over all of Gemma 3's matrices (alternating, Sapphire Rapids
// VM): 12.2-12.8 GB/s with one request 8 KiB ahead, 13.6-14.3 with the same
// line requested twice 8 KiB ahead, 13.3-15.0 with the three distances;
// Gemma 3 decode on one thread 47.7 -> 53.8 t/s, on two 98 -> 106. The likely
// reason: some requests are dropped while the core's queues are full, and a
// later one for the same line gets through; one for a line already in L2
// costs an instruction and no traffic. The three requests go out together
// for each line: the same requests issued distance by distance over a block
// gained nothing (47.5).
// The repacked kernels prefetch only in the pass over a group that reads it
// from memory, not again for each later block of activation rows (prefill):
// tripled requests there cost a Qwen2.5-1.5B-shaped Q8_0 pp128 13%.
//
// A kernel whose arithmetic, not the stream, bounds its decode asks once, 8
// KiB ahead (prefetch_weights<1>): Q2_K and Q3_K's AVX2 dot products (about
// 40% of the bandwidth) lost 9-11% to the extra requests.
constexpr int kPrefetchDistances[] = {8192, 4096, 16384};  // the first alone for <1>
template <int kRequests = 3>
inline void prefetch_weights(const void* p, size_t bytes) {
    static_assert(kRequests >= 1 && kRequests <= int(std::size(kPrefetchDistances)));
    const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
    for (uintptr_t line = (begin + 63) & ~uintptr_t(63); line < begin + bytes; line += 64)
        for (int k = 0; k < kRequests; ++k)
            _mm_prefetch(reinterpret_cast<const char*>(line + kPrefetchDistances[k]), _MM_HINT_T1);
}

inline float f16(uint16_t h) {
    return _cvtsh_ss(h);
}

inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

// Lane r of the result: the sum of p[r]'s 8 lanes, for r < 4.
inline __m128i hsum4_i32(const __m256i* p) {
    const __m256i h =
        _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// 32 nibbles in element order: bytes 0-15 low nibbles of qs[0..15], bytes
// 16-31 their high nibbles.
inline __m256i nibbles32(const uint8_t* qs) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

// Byte j is 0xFF where bit j of the 32-bit little-endian word is set.
inline __m256i bits32_to_bytes(const uint8_t* bits) {
    uint32_t x;
    std::memcpy(&x, bits, 4);
    const __m256i shuffle =
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(int(x)), shuffle);
    const __m256i all_but_bit = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    return _mm256_cmpeq_epi8(_mm256_or_si256(bytes, all_but_bit), _mm256_set1_epi64x(-1));
}

// u8 x s8 products summed to 8 s32 lanes of 4 products each.
inline __m256i dot_u8_s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// s8 x s8 products (w any byte, a in -127..127) summed to 8 s32 lanes.
inline __m256i dot_s8_s8(__m256i w, __m256i a) {
    return dot_u8_s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

inline __m256i load32(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

inline __m128i iq4nl_values() {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues));
}

// 32 IQ4_NL / IQ4_XS 4-bit indices (nibbles as Q4_0) looked up in values.
inline __m256i iq4nl_lookup(const uint8_t* qs, __m128i values) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    const __m128i lo = _mm_shuffle_epi8(values, _mm_and_si128(t, m4));
    const __m128i hi = _mm_shuffle_epi8(values, _mm_and_si128(_mm_srli_epi16(t, 4), m4));
    return _mm256_set_m128i(hi, lo);
}

// Q4_K/Q5_K's 12 packed bytes as 8 scales (bytes 0-7) then 8 mins (bytes 8-15).
inline __m128i k4_scales_mins(const uint8_t* packed) {
    constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
    uint32_t u[4];
    std::memcpy(u, packed, 12);
    u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
    const uint32_t mins_low = u[1] & kmask1;
    u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
    u[2] = mins_low;
    u[0] &= kmask1;
    return _mm_set_epi32(int(u[3]), int(u[2]), int(u[1]), int(u[0]));
}

// sum over the 8 sub-blocks of min[s] * (bsums[2s] + bsums[2s+1]).
inline int k4_mins_dot(__m256i scales_mins16, const int16_t* bsums) {
    const __m256i b = load32(bsums);
    const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    const __m128i prod = _mm_madd_epi16(_mm256_extracti128_si256(scales_mins16, 1), pairs);
    __m128i s = _mm_add_epi32(prod, _mm_unpackhi_epi64(prod, prod));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

// Broadcasts 16-bit lane s of each 128-bit half.
inline __m256i broadcast_i16(__m256i v, int s) {
    return _mm256_shuffle_epi8(v, _mm256_set1_epi16(short((2 * s) | ((2 * s + 1) << 8))));
}

// 16 s16 lanes: lanes 0-7 hold scale s, lanes 8-15 scale s + 1 (s8 scales, sign-extended).
inline __m256i pair_scales_i8(__m128i scales8, int s) {
    const __m128i idx = _mm_set_epi64x(0x0101010101010101LL * (s + 1), 0x0101010101010101LL * s);
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales8, idx));
}

// A Q3_K block's sixteen 6-bit scales, biased by 32 (layout in blocks.h),
// as signed bytes.
inline __m128i q3_k_scales(const uint8_t* scales) {
    alignas(16) int8_t sc[16];
    for (int s = 0; s < 16; ++s) {
        const int low = (scales[s % 8] >> (4 * (s / 8))) & 0xF;
        const int high = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
        sc[s] = int8_t((low | (high << 4)) - 32);
    }
    return _mm_load_si128(reinterpret_cast<const __m128i*>(sc));
}

// Lane r: f16 field of weight row r's block, as float.
template <class F>
__m128 rows_f16(F field) {
    return _mm_setr_ps(f16(field(0)), f16(field(1)), f16(field(2)), f16(field(3)));
}

// The float step of llama.cpp's tiled Q5_K / Q6_K order for one block of 4
// weight rows (wb) against NA activation blocks (ab), lane r of acc[j] for
// row r: sums[j][r] are the rows' integer lanes (summed exactly here),
// min_sums[j][r] Q5_K's min sums. Q5_K: acc = fma(fma(-dmin, float(min sum),
// float(sum) * d), a.d, acc); Q6_K: acc = fma(float(sum) * d, a.d, acc).
template <int NA>
void tiled_q5_k_step(const BlockQ5_K* const* wb, const BlockQ8_K* const* ab,
                     const __m256i (*sums)[4], const int (*min_sums)[4], __m128* acc) {
    const __m128 wd = rows_f16([&](int r) { return wb[r]->d; });
    const __m128 neg_dmin =
        _mm_sub_ps(_mm_setzero_ps(), rows_f16([&](int r) { return wb[r]->dmin; }));
    for (int j = 0; j < NA; ++j) {
        const __m128 scaled = _mm_mul_ps(_mm_cvtepi32_ps(hsum4_i32(sums[j])), wd);
        const __m128 mins =
            _mm_cvtepi32_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(min_sums[j])));
        const __m128 block = _mm_fmadd_ps(neg_dmin, mins, scaled);
        acc[j] = _mm_fmadd_ps(block, _mm_set1_ps(ab[j]->d), acc[j]);
    }
}

template <int NA>
void tiled_q6_k_step(const BlockQ6_K* const* wb, const BlockQ8_K* const* ab,
                     const __m256i (*sums)[4], __m128* acc) {
    const __m128 wd = rows_f16([&](int r) { return wb[r]->d; });
    for (int j = 0; j < NA; ++j) {
        const __m128 scaled = _mm_mul_ps(_mm_cvtepi32_ps(hsum4_i32(sums[j])), wd);
        acc[j] = _mm_fmadd_ps(scaled, _mm_set1_ps(ab[j]->d), acc[j]);
    }
}

// A tile's outputs from NA registers of 4 lanes, lane r of lanes[j] being
// weight row r against activation row j: out[r * NA + j].
template <int NA>
void store_row_lanes(const __m128* lanes, float* out) {
    alignas(16) float v[NA][4];
    for (int j = 0; j < NA; ++j) _mm_store_ps(v[j], lanes[j]);
    for (int r = 0; r < 4; ++r)
        for (int j = 0; j < NA; ++j) out[r * NA + j] = v[j][r];
}

// The Q8_0 quantization of one 32-float block (for vec_dot's and the
// repacked kernels' activations): amax, d = amax / 127, q =
// round-to-even(x * 127 / amax), each step the same single IEEE operation as
// in the scalar quantizer, so the bytes are its bytes.
inline __m256i quantize_block32(const float* x, float* d_out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float max_scalar = _mm_cvtss_f32(m);
    *d_out = max_scalar / 127.f;
    const __m256 id = _mm256_set1_ps(max_scalar != 0.0f ? 127.f / max_scalar : 0.0f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
        const __m256 r =
            _mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q[k] = _mm256_cvtps_epi32(r);
    }
    // Packing interleaves 128-bit lanes; the permute restores element order.
    const __m256i q01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i bytes = _mm256_packs_epi16(q01, q23);
    return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// n floats (a multiple of 32) to the repacked kernels' activation blocks
// (repack.h): quantize_block32's bytes and scale, and the block's quant sum.
inline void quantize_row_q8_0r(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_0R*>(vy);
    for (int64_t i = 0; i < n / 32; ++i, x += 32) {
        float d;
        const __m256i q = quantize_block32(x, &d);
        y[i].d = f16(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), q);
        y[i].sum = hsum_i32(
            _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1)));
    }
}

}  // namespace
}  // namespace slim::cpu
