// AVX2 + FMA + F16C dot products, the same contract as scalar/vec_dot.cpp.
// This file alone is compiled with -mavx2 -mfma -mf16c (CMakeLists.txt), and
// nothing outside it runs its code unless cpu_features() reports AVX2.
//
// Structure follows ggml's ggml-cpu/arch/x86/quants.c: per block, the
// integer products go through vpmaddubsw (u8 x s8 -> s16 pairs) and vpmaddwd
// (-> s32), which is exact for every input here (no s16 saturation: the
// largest pair is 2 * 128 * 127), then each block's s32 lanes are converted
// to float and scaled with one FMA into 8 float accumulators. Only the float
// summation order differs from the scalar kernels.
//
// Activation quants are in -127..127 (both quantizers guarantee it); weight
// quants may be any byte. The signed x signed products take |w| and move w's
// sign onto the activation, so a weight of -128 is still exact.
//
// Shared helpers come from x86_simd.h, whose functions have internal linkage
// (see there). fp16 conversions use F16C, which rounds to nearest even like
// tensor/fp16.h.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "backend/cpu/x86_simd.h"
#include "tensor/blocks.h"
#include "tensor/quants.h"

namespace slim::cpu {

namespace {

// --- 32-element blocks ------------------------------------------------------------
//
// One traits struct per weight type: its block, its activation block, and its
// 32 quants as bytes, signed (s8, any value) or unsigned (u8, then the
// activation block's sum s times the weight block's min m is added).
//
// The float order is llama.cpp's for each type. Q4_1, Q5_0, Q5_1 and Q8_0 go
// through ggml's vec_dot (or llamafile's GEMM, which sums alike): per block,
// one FMA of (d_w * d_a) times the 8 s32 lane sums into 8 float accumulators,
// reduced at the end; mins summed apart. Q4_0 and IQ4_NL weights are repacked
// by llama.cpp's x86 build (8 rows interleaved) and multiplied by its
// gemv/gemm, which add each block's whole integer sum into one running float
// per output (kOneChain): acc = fma(float(sum), d_w * d_a, acc).

struct Q4_0Traits {
    using Weight = BlockQ4_0;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kMin = false, kOneChain = true;
    __m256i quants(const Weight& b) const {
        return _mm256_sub_epi8(nibbles32(b.qs), _mm256_set1_epi8(8));
    }
};

struct Q4_1Traits {
    using Weight = BlockQ4_1;
    using Act = BlockQ8_1;
    static constexpr bool kSigned = false, kMin = true, kOneChain = false;
    __m256i quants(const Weight& b) const { return nibbles32(b.qs); }
};

struct Q5_0Traits {
    using Weight = BlockQ5_0;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kMin = false, kOneChain = false;
    // q - 16: a clear 5th bit makes the nibble negative (0xF0 | nibble).
    __m256i quants(const Weight& b) const {
        const __m256i high =
            _mm256_andnot_si256(bits32_to_bytes(b.qh), _mm256_set1_epi8(char(0xF0)));
        return _mm256_or_si256(nibbles32(b.qs), high);
    }
};

struct Q5_1Traits {
    using Weight = BlockQ5_1;
    using Act = BlockQ8_1;
    static constexpr bool kSigned = false, kMin = true, kOneChain = false;
    __m256i quants(const Weight& b) const {
        const __m256i high = _mm256_and_si256(bits32_to_bytes(b.qh), _mm256_set1_epi8(0x10));
        return _mm256_or_si256(nibbles32(b.qs), high);
    }
};

struct Q8_0Traits {
    using Weight = BlockQ8_0;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kMin = false, kOneChain = false;
    __m256i quants(const Weight& b) const { return load32(b.qs); }
};

struct IQ4_NLTraits {
    using Weight = BlockIQ4_NL;
    using Act = BlockQ8_0;
    static constexpr bool kSigned = true, kMin = false, kOneChain = true;
    __m128i values = iq4nl_values();
    __m256i quants(const Weight& b) const { return iq4nl_lookup(b.qs, values); }
};

template <class T>
inline __m256i dot_q0(__m256i q, __m256i a) {
    return T::kSigned ? dot_s8_s8(q, a) : dot_u8_s8(q, a);
}

template <class T>
float vec_dot_q0(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const typename T::Weight*>(vw);
    auto* a = static_cast<const typename T::Act*>(va);
    const T traits;
    __m256 acc = _mm256_setzero_ps();
    float chain = 0, mins = 0;
    for (int64_t i = 0; i < n / 32; ++i) {
        prefetch_weights(&w[i], sizeof(w[i]));
        const __m256i p = dot_q0<T>(traits.quants(w[i]), load32(a[i].qs));
        const float d = f16(w[i].d) * f16(a[i].d);
        if constexpr (T::kOneChain)
            chain = std::fma(float(hsum_i32(p)), d, chain);
        else
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(p), acc);
        if constexpr (T::kMin) mins = std::fma(f16(w[i].m), f16(a[i].s), mins);
    }
    if constexpr (T::kOneChain) return chain;
    return T::kMin ? hsum_ps(acc) + mins : hsum_ps(acc);
}

// 4 weight rows x 3 activation rows, each sum exactly as vec_dot_q0 sums
// it; a weight block is unpacked once for the 3 activation rows and an
// activation block loaded once for 4 weight rows. One-chain types add the 4
// rows' block sums to 4 float lanes at once. (The same with one activation
// row, as a decode gemv, was measured slower than vec_dot: 6.5 vs 7.6 GB/s
// for Q4_0 on Zen 4.)
template <class T>
void tile_q0(int64_t n, const void* vw, size_t ws, const void* va, size_t as, float* out) {
    constexpr int NA = kTileActRows;
    using W = typename T::Weight;
    using A = typename T::Act;
    const char* w = static_cast<const char*>(vw);
    const char* a = static_cast<const char*>(va);
    const T traits;
    __m256 acc[4][NA];
    for (auto& r : acc)
        for (auto& c : r) c = _mm256_setzero_ps();
    __m128 chain[NA];  // lane r: weight row r
    for (auto& c : chain) c = _mm_setzero_ps();
    float mins[4][NA] = {};
    for (int64_t i = 0; i < n / 32; ++i) {
        const A* ab[NA];
        __m256i av[NA];
        float ad[NA];
        for (int j = 0; j < NA; ++j) {
            ab[j] = reinterpret_cast<const A*>(a + size_t(j) * as) + i;
            av[j] = load32(ab[j]->qs);
            ad[j] = f16(ab[j]->d);
        }
        const W* wb[4];
        __m256i q[4];
        for (int r = 0; r < 4; ++r) {
            wb[r] = reinterpret_cast<const W*>(w + size_t(r) * ws) + i;
            q[r] = traits.quants(*wb[r]);
        }
        if constexpr (T::kOneChain) {
            const __m128 wd =
                _mm_setr_ps(f16(wb[0]->d), f16(wb[1]->d), f16(wb[2]->d), f16(wb[3]->d));
            for (int j = 0; j < NA; ++j) {
                const __m256i p[4] = {dot_q0<T>(q[0], av[j]), dot_q0<T>(q[1], av[j]),
                                      dot_q0<T>(q[2], av[j]), dot_q0<T>(q[3], av[j])};
                chain[j] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_i32(p)),
                                        _mm_mul_ps(wd, _mm_set1_ps(ad[j])), chain[j]);
            }
            continue;
        }
        for (int r = 0; r < 4; ++r) {
            const float wd = f16(wb[r]->d);
            const __m256i qu = T::kSigned ? _mm256_sign_epi8(q[r], q[r]) : q[r];
            for (int j = 0; j < NA; ++j) {
                const __m256i p = dot_u8_s8(qu, T::kSigned ? _mm256_sign_epi8(av[j], q[r]) : av[j]);
                acc[r][j] =
                    _mm256_fmadd_ps(_mm256_set1_ps(wd * ad[j]), _mm256_cvtepi32_ps(p), acc[r][j]);
                if constexpr (T::kMin)
                    mins[r][j] = std::fma(f16(wb[r]->m), f16(ab[j]->s), mins[r][j]);
            }
        }
    }
    for (int j = 0; j < NA; ++j) {
        float lanes[4];
        _mm_storeu_ps(lanes, chain[j]);
        for (int r = 0; r < 4; ++r) {
            if constexpr (T::kOneChain)
                out[r * NA + j] = lanes[r];
            else
                out[r * NA + j] = T::kMin ? hsum_ps(acc[r][j]) + mins[r][j] : hsum_ps(acc[r][j]);
        }
    }
}

// --- K-quants against Q8_K ----------------------------------------------------------

// In llama.cpp's x86 build Q4_K weights are repacked and multiplied by its
// gemv or gemm (BatchOrder::repacked says which rows take which). Both keep
// one running fused multiply-add for the scale sums, times d * a.d, and one
// for the min sums, times dmin * a.d: the gemv adds a whole block's integer
// sums at a time, the gemm (kGemm) those of 64 elements (two sub-blocks).
template <bool kGemm>
float q4_k_dot(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ4_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    float acc = 0, mins = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        prefetch_weights(&w[i], sizeof(w[i]));
        const __m128i packed = k4_scales_mins(w[i].scales);
        const __m256i sm = _mm256_cvtepu8_epi16(packed);
        const float d = f16(w[i].d) * a[i].d, dmin = f16(w[i].dmin) * a[i].d;
        if constexpr (!kGemm) mins = std::fma(float(k4_mins_dot(sm, a[i].bsums)), dmin, mins);
        alignas(16) uint8_t sm8[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(sm8), packed);
        const int16_t* bs = a[i].bsums;
        const __m256i scales = _mm256_permute2x128_si256(sm, sm, 0x00);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {  // sub-blocks 2c (low nibbles) and 2c + 1 (high)
            const __m256i bits = load32(w[i].qs + 32 * c);
            const __m256i lo =
                _mm256_maddubs_epi16(_mm256_and_si256(bits, m4), load32(a[i].qs + 64 * c));
            const __m256i hi = _mm256_maddubs_epi16(
                _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), load32(a[i].qs + 64 * c + 32));
            const __m256i pair =
                _mm256_add_epi32(_mm256_madd_epi16(broadcast_i16(scales, 2 * c), lo),
                                 _mm256_madd_epi16(broadcast_i16(scales, 2 * c + 1), hi));
            if constexpr (kGemm) {
                acc = std::fma(float(hsum_i32(pair)), d, acc);
                const int min_sum = sm8[8 + 2 * c] * (bs[4 * c] + bs[4 * c + 1]) +
                                    sm8[9 + 2 * c] * (bs[4 * c + 2] + bs[4 * c + 3]);
                mins = std::fma(float(min_sum), dmin, mins);
            } else {
                sumi = _mm256_add_epi32(sumi, pair);
            }
        }
        if constexpr (!kGemm) acc = std::fma(float(hsum_i32(sumi)), d, acc);
    }
    return acc - mins;
}

float vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a) {
    return q4_k_dot<false>(n, w, a);
}
float gemm_dot_q4_k_q8_k(int64_t n, const void* w, const void* a) {
    return q4_k_dot<true>(n, w, a);
}

// llama.cpp multiplies Q5_K and Q6_K weights by 8 or more activation rows
// with its tiled kernel (BatchOrder::tiled): per block, (sum * d - dmin * min
// sum), rounded, times activation d fused-added to one running float (the
// AVX-512 VNNI microkernel's epilogue, as GCC contracts it). Fewer rows go
// through its vec_dot, whose eight lanes of fused multiply-adds the other
// variant reproduces.
template <bool kTiled>
float q5_k_dot(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ5_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0, tiled = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        prefetch_weights(&w[i], sizeof(w[i]));
        const __m256i sm = _mm256_cvtepu8_epi16(k4_scales_mins(w[i].scales));
        const int min_sum = k4_mins_dot(sm, a[i].bsums);
        if constexpr (!kTiled) mins = std::fma(float(min_sum), a[i].d * f16(w[i].dmin), mins);
        const __m256i scales = _mm256_permute2x128_si256(sm, sm, 0x00);
        const __m256i qh = load32(w[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {
            const __m256i bits = load32(w[i].qs + 32 * c);
            // Bit b of each qh byte, moved to bit 4 (shifts within 16-bit lanes; the masks keep
            // bytes apart).
            const __m256i h_lo =
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4);
            const __m256i h_hi =
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4);
            const __m256i q_lo = _mm256_or_si256(_mm256_and_si256(bits, m4), h_lo);
            const __m256i q_hi =
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h_hi);
            const __m256i lo = _mm256_maddubs_epi16(q_lo, load32(a[i].qs + 64 * c));
            const __m256i hi = _mm256_maddubs_epi16(q_hi, load32(a[i].qs + 64 * c + 32));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(broadcast_i16(scales, 2 * c), lo));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(broadcast_i16(scales, 2 * c + 1), hi));
        }
        if constexpr (kTiled) {
            const float r =
                std::fma(-f16(w[i].dmin), float(min_sum), float(hsum_i32(sumi)) * f16(w[i].d));
            tiled = std::fma(r, a[i].d, tiled);
        } else {
            acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi),
                                  acc);
        }
    }
    if constexpr (kTiled) return tiled;
    return hsum_ps(acc) - mins;
}

float vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a) {
    return q5_k_dot<false>(n, w, a);
}
float tiled_dot_q5_k_q8_k(int64_t n, const void* w, const void* a) {
    return q5_k_dot<true>(n, w, a);
}

template <bool kTiled>
float q6_k_dot(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ6_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m2 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float tiled = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        prefetch_weights(&w[i], sizeof(w[i]));
        const __m128i scales8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales));
        // The quants' offset of 32 comes off at the end, as ggml takes it:
        // lane l loses 32 * (scale * activation sum) of the 16-element groups
        // 2l and 2l + 1, which is not where those elements' products land.
        const __m256i offset = _mm256_slli_epi32(
            _mm256_madd_epi16(load32(a[i].bsums), _mm256_cvtepi8_epi16(scales8)), 5);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i ql0 = load32(w[i].ql + 64 * h);
            const __m256i ql1 = load32(w[i].ql + 64 * h + 32);
            const __m256i qh = load32(w[i].qh + 32 * h);
            __m256i q[4];
            q[0] = _mm256_and_si256(ql0, m4);
            q[1] = _mm256_and_si256(ql1, m4);
            q[2] = _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4);
            q[3] = _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4);
            for (int k = 0; k < 4; ++k) {
                const __m256i high =
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m2), 4);
                const __m256i qk = _mm256_or_si256(q[k], high);
                const __m256i act = load32(a[i].qs + 128 * h + 32 * k);
                const __m256i p = _mm256_maddubs_epi16(qk, act);  // q in 0..63: no saturation
                sumi = _mm256_add_epi32(
                    sumi, _mm256_madd_epi16(pair_scales_i8(scales8, 8 * h + 2 * k), p));
            }
        }
        sumi = _mm256_sub_epi32(sumi, offset);
        if constexpr (kTiled) {
            tiled = std::fma(float(hsum_i32(sumi)) * f16(w[i].d), a[i].d, tiled);
        } else {
            acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi),
                                  acc);
        }
    }
    if constexpr (kTiled) return tiled;
    return hsum_ps(acc);
}

float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a) {
    return q6_k_dot<false>(n, w, a);
}
float tiled_dot_q6_k_q8_k(int64_t n, const void* w, const void* a) {
    return q6_k_dot<true>(n, w, a);
}

float vec_dot_q2_k_q8_k(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ2_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        prefetch_weights<1>(&w[i], sizeof(w[i]));
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales));
        const __m128i scales8 = _mm_and_si128(packed, m4);
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), m4));
        mins += a[i].d * f16(w[i].dmin) *
                float(hsum_i32(_mm256_madd_epi16(mins16, load32(a[i].bsums))));
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i bits = load32(w[i].qs + 32 * h);
            for (int k = 0; k < 4; ++k) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3);
                const __m256i p = _mm256_maddubs_epi16(q, load32(a[i].qs + 128 * h + 32 * k));
                sumi = _mm256_add_epi32(
                    sumi, _mm256_madd_epi16(pair_scales_i8(scales8, 8 * h + 2 * k), p));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc) - mins;
}

float vec_dot_q3_k_q8_k(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ3_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i one = _mm256_set1_epi8(1);
    const __m256i four = _mm256_set1_epi8(4);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        prefetch_weights<1>(&w[i], sizeof(w[i]));
        const __m128i scales8 = q3_k_scales(w[i].scales);
        const __m256i hmask = load32(w[i].hmask);
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
            const __m256i bits = load32(w[i].qs + 32 * h);
            for (int k = 0; k < 4; ++k) {
                // q + 4 * high bit is 0..7; subtracting 4 * a afterwards gives the signed value.
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hmask, 4 * h + k), one);
                const __m256i q = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), m3), _mm256_slli_epi16(hb, 2));
                const __m256i act = load32(a[i].qs + 128 * h + 32 * k);
                const __m256i p =
                    _mm256_sub_epi16(_mm256_maddubs_epi16(q, act), _mm256_maddubs_epi16(four, act));
                sumi = _mm256_add_epi32(
                    sumi, _mm256_madd_epi16(pair_scales_i8(scales8, 8 * h + 2 * k), p));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

float vec_dot_iq4_xs_q8_k(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockIQ4_XS*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    const __m128i values = iq4nl_values();
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        prefetch_weights(&w[i], sizeof(w[i]));
        __m256i sumi = _mm256_setzero_si256();
        for (int s = 0; s < 8; ++s) {
            const int ls = ((w[i].scales_l[s / 2] >> (4 * (s % 2))) & 0xF) |
                           (((w[i].scales_h >> (2 * s)) & 3) << 4);
            const __m256i q = iq4nl_lookup(w[i].qs + 16 * s, values);
            const __m256i act = load32(a[i].qs + 32 * s);
            const __m256i p =
                _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(act, q));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_set1_epi16(short(ls - 32)), p));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * f16(w[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

// --- activation quantizers: byte-identical to the scalar ones ------------------------

void quantize_q8_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_0*>(vy);
    for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
        float d;
        const __m256i q = quantize_block32(x, &d);
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), q);
    }
}

void quantize_q8_1(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_1*>(vy);
    for (int64_t i = 0; i < n / kQK8_1; ++i, x += kQK8_1) {
        float d;
        const __m256i q = quantize_block32(x, &d);
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), q);
        const int sum = hsum_i32(
            _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1)));
        y[i].s = _cvtss_sh(d * float(sum), _MM_FROUND_TO_NEAREST_INT);
    }
}

// Q8_K activations as quantize_row_q8_k_ref gives them, byte for byte: the
// signed value of the first largest magnitude sets iscale = -127 / max, and
// each quant is the same single multiply, rounding to even and clamp;
// the bsums add 16 quants. A block with an infinity or a NaN goes to the
// reference. The scalar loop was 3.6% of a Q6_K model's prefill.
void quantize_q8_k(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_K*>(vy);
    const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(INFINITY);
    const __m256i top = _mm256_set1_epi32(127);
    for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
        __m256 amax = _mm256_setzero_ps(), not_finite = _mm256_setzero_ps();
        for (int k = 0; k < kQK_K / 8; ++k) {
            const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k));
            amax = _mm256_max_ps(amax, a);
            not_finite = _mm256_or_ps(not_finite, _mm256_cmp_ps(a, inf, _CMP_NLT_UQ));
        }
        if (!_mm256_testz_ps(not_finite, not_finite)) {
            quantize_row_q8_k_ref(x, &y[i], kQK_K);
            continue;
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax_scalar = _mm_cvtss_f32(m);
        if (amax_scalar == 0.0f) {
            std::memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        int first = 0;
        while (std::fabs(x[first]) != amax_scalar) ++first;
        const float iscale = -127.f / x[first];
        const __m256 scale = _mm256_set1_ps(iscale);
        for (int g = 0; g < kQK_K / 32; ++g) {
            __m256i q[4];
            for (int k = 0; k < 4; ++k) {
                // nearest_int of the float product is its round to even,
                // which vcvtps2dq gives; the scalar code's magic-number add
                // would be fused with the multiply here, rounding once.
                const __m256 product = _mm256_mul_ps(scale, _mm256_loadu_ps(x + 32 * g + 8 * k));
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(product), top);
            }
            // In -127..127: the packs saturate nothing. Packing interleaves
            // 128-bit lanes; the permute restores element order.
            const __m256i bytes =
                _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            _mm256_storeu_si256(
                reinterpret_cast<__m256i*>(y[i].qs + 32 * g),
                _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
            y[i].bsums[2 * g] = int16_t(hsum_i32(_mm256_add_epi32(q[0], q[1])));
            y[i].bsums[2 * g + 1] = int16_t(hsum_i32(_mm256_add_epi32(q[2], q[3])));
        }
        y[i].d = 1 / iscale;
    }
}

// --- float weights ---------------------------------------------------------------

template <bool kF16>
inline __m256 load8(const char* row, int64_t i) {
    if constexpr (kF16) {
        return _mm256_cvtph_ps(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i * int64_t(sizeof(uint16_t)))));
    } else {
        return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
    }
}

template <bool kF16>
inline float load1(const char* row, int64_t i) {
    if constexpr (kF16) {
        uint16_t h;
        std::memcpy(&h, row + i * int64_t(sizeof(uint16_t)), sizeof(h));
        return f16(h);
    } else {
        return reinterpret_cast<const float*>(row)[i];
    }
}

// Four accumulators, so consecutive FMAs do not wait on each other.
template <bool kF16>
float vec_dot_float(int64_t n, const void* vw, const void* va) {
    const char* w = static_cast<const char*>(vw);
    const char* a = static_cast<const char*>(va);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_weights(w + i * (kF16 ? 2 : 4), kF16 ? 64 : 128);
        for (int k = 0; k < 4; ++k)
            acc[k] = _mm256_fmadd_ps(load8<kF16>(w, i + 8 * k), load8<kF16>(a, i + 8 * k), acc[k]);
    }
    for (; i + 8 <= n; i += 8)
        acc[0] = _mm256_fmadd_ps(load8<kF16>(w, i), load8<kF16>(a, i), acc[0]);
    float sum =
        hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; ++i) sum += load1<kF16>(w, i) * load1<kF16>(a, i);
    return sum;
}

float vec_dot_f32_f32(int64_t n, const void* w, const void* a) {
    return vec_dot_float<false>(n, w, a);
}
float vec_dot_f16_f16(int64_t n, const void* w, const void* a) {
    return vec_dot_float<true>(n, w, a);
}

// 4 weight rows x 3 activation rows: 12 accumulators, 3 activation vectors
// and one weight vector at a time: the 16 ymm registers exactly.
template <bool kF16>
void tile_float_4x3(int64_t n, const void* vw, size_t ws, const void* va, size_t as, float* out) {
    const char* w = static_cast<const char*>(vw);
    const char* a = static_cast<const char*>(va);
    __m256 acc[4][3];
    for (auto& r : acc)
        for (auto& c : r) c = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 a0 = load8<kF16>(a, i), a1 = load8<kF16>(a + as, i),
                     a2 = load8<kF16>(a + 2 * as, i);
        for (int r = 0; r < 4; ++r) {
            const __m256 wv = load8<kF16>(w + size_t(r) * ws, i);
            acc[r][0] = _mm256_fmadd_ps(wv, a0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(wv, a1, acc[r][1]);
            acc[r][2] = _mm256_fmadd_ps(wv, a2, acc[r][2]);
        }
    }
    for (int r = 0; r < 4; ++r) {
        for (int j = 0; j < 3; ++j) {
            float sum = hsum_ps(acc[r][j]);
            for (int64_t k = i; k < n; ++k)
                sum += load1<kF16>(w + size_t(r) * ws, k) * load1<kF16>(a + size_t(j) * as, k);
            out[r * 3 + j] = sum;
        }
    }
}

void tile_f32_f32_4x3(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out) {
    tile_float_4x3<false>(n, w, ws, a, as, out);
}
void tile_f16_f16_4x3(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out) {
    tile_float_4x3<true>(n, w, ws, a, as, out);
}

// F16 activations: F16C's conversion, round to nearest even like tensor/fp16.h.
void convert_f16(const float* x, void* y, int64_t n) {
    auto* out = static_cast<uint16_t*>(y);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i) out[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}
void convert_f32(const float* x, void* y, int64_t n) {
    std::memcpy(y, x, size_t(n) * sizeof(float));
}

constexpr MatmulTileEntry kAvx2Tiles[] = {
    {GgmlType::f32, tile_f32_f32_4x3},     {GgmlType::f16, tile_f16_f16_4x3},
    {GgmlType::q4_0, tile_q0<Q4_0Traits>}, {GgmlType::q4_1, tile_q0<Q4_1Traits>},
    {GgmlType::q5_0, tile_q0<Q5_0Traits>}, {GgmlType::q5_1, tile_q0<Q5_1Traits>},
    {GgmlType::q8_0, tile_q0<Q8_0Traits>}, {GgmlType::iq4_nl, tile_q0<IQ4_NLTraits>},
};

constexpr MatmulKernelEntry kAvx2Kernels[] = {
    {GgmlType::f32, {GgmlType::f32, convert_f32, vec_dot_f32_f32}},
    {GgmlType::f16, {GgmlType::f16, convert_f16, vec_dot_f16_f16}},
    {GgmlType::q4_0, {GgmlType::q8_0, quantize_q8_0, vec_dot_q0<Q4_0Traits>}},
    {GgmlType::q4_1, {GgmlType::q8_1, quantize_q8_1, vec_dot_q0<Q4_1Traits>}},
    {GgmlType::q5_0, {GgmlType::q8_0, quantize_q8_0, vec_dot_q0<Q5_0Traits>}},
    {GgmlType::q5_1, {GgmlType::q8_1, quantize_q8_1, vec_dot_q0<Q5_1Traits>}},
    {GgmlType::q8_0, {GgmlType::q8_0, quantize_q8_0, vec_dot_q0<Q8_0Traits>}},
    {GgmlType::iq4_nl, {GgmlType::q8_0, quantize_q8_0, vec_dot_q0<IQ4_NLTraits>}},
    {GgmlType::q2_k, {GgmlType::q8_k, quantize_q8_k, vec_dot_q2_k_q8_k}},
    {GgmlType::q3_k, {GgmlType::q8_k, quantize_q8_k, vec_dot_q3_k_q8_k}},
    {GgmlType::q4_k,
     {GgmlType::q8_k, quantize_q8_k, vec_dot_q4_k_q8_k, gemm_dot_q4_k_q8_k, BatchOrder::repacked}},
    {GgmlType::q5_k,
     {GgmlType::q8_k, quantize_q8_k, vec_dot_q5_k_q8_k, tiled_dot_q5_k_q8_k, BatchOrder::tiled}},
    {GgmlType::q6_k,
     {GgmlType::q8_k, quantize_q8_k, vec_dot_q6_k_q8_k, tiled_dot_q6_k_q8_k, BatchOrder::tiled}},
    {GgmlType::iq4_xs, {GgmlType::q8_k, quantize_q8_k, vec_dot_iq4_xs_q8_k}},
};

}  // namespace

std::span<const MatmulKernelEntry> avx2_kernel_table() {
    return kAvx2Kernels;
}

std::span<const MatmulTileEntry> avx2_tile_table() {
    return kAvx2Tiles;
}

}  // namespace slim::cpu
