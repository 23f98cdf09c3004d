// AVX-512 VNNI kernels for Q4_0 and IQ4_NL weights in the repacked layout
// of repack.h. A 64-byte load holds two of a block's four 32-byte chunks, so
// 32-bit lane 8h + r belongs to row r of chunk 2p + h (p: which half of the
// block); the matching activation bytes are permuted into the same lanes and
// vpdpbusd adds four u8 x s8 products per lane into s32, with no 16-bit
// intermediate. The two halves of the register are added into the 8 rows'
// block sums, which are exact integers whatever the order, so the float step
// is the AVX2 kernel's and the scalar reference's bit for bit: acc =
// fma(float(block sum), d_w * d_a, acc).
//
// Against avx2/repack_avx2.cpp this halves the instructions per block (one
// vpdpbusd does what vpmaddubsw + vpaddw + vpmaddwd did, on twice the width),
// which is what decode of a Q4_0 model is bound by once the weights stream
// from memory faster than the AVX2 kernel consumes them.
//
// Compiled with the AVX-512 flags (CMakeLists.txt); runs only when
// cpu_features() reports them.
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/kernels.h"
#include "backend/cpu/repack.h"
#include "backend/cpu/x86_simd.h"

namespace slim::cpu {

namespace {

// Weights as unsigned bytes: Q4_0's nibbles as 0..15 (8 * the activation
// quant sum is taken off), IQ4_NL's table values plus 128 (1..241; 128 * the
// sum is taken off).
struct Q4_0Repacked {
    static constexpr int kOffset = 8;
    __m512i quants(__m512i nibbles) const { return nibbles; }
};

struct IQ4_NLRepacked {
    static constexpr int kOffset = 128;
    const __m512i table = _mm512_broadcast_i32x4(
        _mm_add_epi8(iq4nl_values(), _mm_set1_epi8(static_cast<char>(0x80))));
    __m512i quants(__m512i nibbles) const { return _mm512_shuffle_epi8(table, nibbles); }
};

// Dword d of an activation block's qs in lanes 0-7 and dword e in lanes 8-15.
inline __m512i two_dwords(__m512i qs, int d, int e) {
    const __m512i idx = _mm512_inserti64x4(_mm512_set1_epi32(d), _mm256_set1_epi32(e), 1);
    return _mm512_permutexvar_epi32(idx, qs);
}

// One group's 8 outputs for NA activation rows (a_stride bytes apart): the
// group's quants are unpacked once per block for all NA rows.
template <class T, int NA>
void group_dot(const T& traits, int64_t nb, const uint8_t* group, const char* a, size_t a_stride,
               float* y, size_t y_stride, bool stream) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const uint8_t* scales = group + size_t(nb) * 128;
    const BlockQ8_0R* act[NA];
    for (int j = 0; j < NA; ++j)
        act[j] = reinterpret_cast<const BlockQ8_0R*>(a + a_stride * size_t(j));
    __m256 acc[NA];
    for (auto& v : acc) v = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* qs = group + size_t(i) * 128;
        if (stream) prefetch_weights(group + size_t(i) * 144, 144);  // quants and scale
        // Chunks 0-1 and 2-3: low nibbles are elements 4c..4c+3 of each
        // row, high nibbles 16 + 4c.. (repack.h).
        __m512i lo[2], hi[2];
        for (int p = 0; p < 2; ++p) {
            const __m512i bits = _mm512_loadu_si512(qs + 64 * p);
            lo[p] = traits.quants(_mm512_and_si512(bits, m4));
            hi[p] = traits.quants(_mm512_and_si512(_mm512_srli_epi16(bits, 4), m4));
        }
        const __m256 wd =
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 16 * i)));
        for (int j = 0; j < NA; ++j) {
            const BlockQ8_0R& b = act[j][i];
            const __m512i q = _mm512_castsi256_si512(load32(b.qs));
            __m512i sum = _mm512_setzero_si512();
            for (int p = 0; p < 2; ++p) {
                sum = _mm512_dpbusd_epi32(sum, lo[p], two_dwords(q, 2 * p, 2 * p + 1));
                sum = _mm512_dpbusd_epi32(sum, hi[p], two_dwords(q, 4 + 2 * p, 5 + 2 * p));
            }
            const __m256i rows = _mm256_sub_epi32(
                _mm256_add_epi32(_mm512_castsi512_si256(sum), _mm512_extracti64x4_epi64(sum, 1)),
                _mm256_set1_epi32(T::kOffset * b.sum));
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(rows),
                                     _mm256_mul_ps(wd, _mm256_set1_ps(b.d)), acc[j]);
        }
    }
    for (int j = 0; j < NA; ++j) _mm256_storeu_ps(y + y_stride * size_t(j), acc[j]);
}

template <class T>
void gemm(int64_t n, const void* w, size_t group_bytes, int64_t n_groups, const void* a,
          size_t a_stride, int64_t n_act, float* y, size_t y_stride) {
    const T traits;
    for_each_group(w, group_bytes, n_groups, a, a_stride, n_act, y, y_stride,
                   [&](auto na, const uint8_t* group, const char* act, float* out, bool stream) {
                       group_dot<T, decltype(na)::value>(traits, n / 32, group, act, a_stride, out,
                                                         y_stride, stream);
                   });
}

// The lane-major types (repack.h): per block, the 8 registers of unsigned
// quants (register c: vec_dot's lane c of 16 rows).
struct Q8_0Lanes {
    static constexpr GgmlType kType = GgmlType::q8_0;
    static constexpr size_t kQuantBytes = 512, kScaleBytes = 32;
    static void unpack(const uint8_t* q, __m512i* u) {
        for (int c = 0; c < 8; ++c) u[c] = _mm512_loadu_si512(q + 64 * c);
    }
};

struct Q4_1Lanes {
    static constexpr GgmlType kType = GgmlType::q4_1;
    static constexpr size_t kQuantBytes = 256, kScaleBytes = 64;
    static void unpack(const uint8_t* q, __m512i* u) {
        const __m512i m4 = _mm512_set1_epi8(0x0F);
        for (int c = 0; c < 4; ++c) {
            const __m512i bits = _mm512_loadu_si512(q + 64 * c);
            u[c] = _mm512_and_si512(bits, m4);
            u[c + 4] = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4);
        }
    }
};

struct Q5_0Lanes {
    static constexpr GgmlType kType = GgmlType::q5_0;
    static constexpr size_t kQuantBytes = 320, kScaleBytes = 32;
    // Q4_1's nibbles plus 16 where the masks after them have the fifth bit.
    static void unpack(const uint8_t* q, __m512i* u) {
        Q4_1Lanes::unpack(q, u);
        const __m512i sixteen = _mm512_set1_epi8(16);
        uint64_t fifth[8];
        std::memcpy(fifth, q + 256, sizeof fifth);
        for (int c = 0; c < 4; ++c) {
            u[c] = _mm512_mask_add_epi8(u[c], _cvtu64_mask64(fifth[2 * c]), u[c], sixteen);
            u[c + 4] =
                _mm512_mask_add_epi8(u[c + 4], _cvtu64_mask64(fifth[2 * c + 1]), u[c + 4], sixteen);
        }
    }
};

template <class T>
void quantize_lanes(const float* x, void* y, int64_t n) {
    static const auto quantize = isa_matmul_kernel(Isa::avx2, T::kType)->quantize_act;
    quantize_act_lanes(T::kType, quantize, x, y, n);
}

// One lane-major group's 16 outputs for NA activation rows: acc[j][c]'s
// lane r is row r's float lane c against activation row j, the same
// fma(d_w * d_a, float(lane sum), lane) as vec_dot's, with the activation's
// 4 quants and start broadcast from memory. At the end the 8 lanes are
// added for all 16 rows at once, in hsum_ps's pairing (plus Q4_1's chain of
// fma(m, s, mins)).
template <class T, int NA>
void lane_group_dot(int64_t nb, const uint8_t* group, const char* a, size_t a_stride, float* y,
                    size_t y_stride, bool stream) {
    constexpr bool kMin = T::kType == GgmlType::q4_1;
    const uint8_t* scales = group + size_t(nb) * T::kQuantBytes;
    const BlockQ8L* act[NA];
    for (int j = 0; j < NA; ++j)
        act[j] = reinterpret_cast<const BlockQ8L*>(a + a_stride * size_t(j));
    __m512 acc[NA][8], mins[NA];
    for (int j = 0; j < NA; ++j) {
        mins[j] = _mm512_setzero_ps();
        for (auto& v : acc[j]) v = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* q = group + size_t(i) * T::kQuantBytes;
        constexpr size_t kShare = T::kQuantBytes + T::kScaleBytes;  // with its scales
        if (stream) prefetch_weights(group + kShare * size_t(i), kShare);
        const uint8_t* sc = scales + T::kScaleBytes * size_t(i);
        const __m512 wd = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc)));
        __m512i u[8];
        T::unpack(q, u);
        for (int j = 0; j < NA; ++j) {
            const BlockQ8L& b = act[j][i];
            const __m512 d = _mm512_mul_ps(wd, _mm512_set1_ps(b.d));
            for (int c = 0; c < 8; ++c) {
                int32_t quads;
                std::memcpy(&quads, b.qs + 4 * c, 4);
                const __m512i p = _mm512_dpbusd_epi32(_mm512_set1_epi32(b.start[c]), u[c],
                                                      _mm512_set1_epi32(quads));
                acc[j][c] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc[j][c]);
            }
            if constexpr (kMin) {
                const __m512 m =
                    _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc + 32)));
                mins[j] = _mm512_fmadd_ps(m, _mm512_set1_ps(b.s), mins[j]);
            }
        }
    }
    for (int j = 0; j < NA; ++j) {
        const __m512 even =
            _mm512_add_ps(_mm512_add_ps(acc[j][0], acc[j][4]), _mm512_add_ps(acc[j][2], acc[j][6]));
        const __m512 odd =
            _mm512_add_ps(_mm512_add_ps(acc[j][1], acc[j][5]), _mm512_add_ps(acc[j][3], acc[j][7]));
        __m512 sum = _mm512_add_ps(even, odd);
        if constexpr (kMin) sum = _mm512_add_ps(sum, mins[j]);
        _mm512_storeu_ps(y + y_stride * size_t(j), sum);
    }
}

template <class T>
void gemm_lanes(int64_t n, const void* w, size_t group_bytes, int64_t n_groups, const void* a,
                size_t a_stride, int64_t n_act, float* y, size_t y_stride) {
    const char* act = static_cast<const char*>(a);
    for (int64_t g = 0; g < n_groups; ++g) {
        const uint8_t* group = static_cast<const uint8_t*>(w) + group_bytes * size_t(g);
        float* yg = y + kLaneRepackRows * g;
        int64_t j = 0;
        for (; j + 2 <= n_act; j += 2)
            lane_group_dot<T, 2>(n / 32, group, act + a_stride * size_t(j), a_stride,
                                 yg + y_stride * size_t(j), y_stride, j == 0);
        if (j < n_act)
            lane_group_dot<T, 1>(n / 32, group, act + a_stride * size_t(j), a_stride,
                                 yg + y_stride * size_t(j), y_stride, j == 0);
    }
}

constexpr RepackedKernel kAvx512Repacked[] = {
    {GgmlType::q4_0, quantize_row_q8_0r, gemm<Q4_0Repacked>},
    {GgmlType::iq4_nl, quantize_row_q8_0r, gemm<IQ4_NLRepacked>},
    {GgmlType::q4_1, quantize_lanes<Q4_1Lanes>, gemm_lanes<Q4_1Lanes>, sizeof(BlockQ8L)},
    {GgmlType::q5_0, quantize_lanes<Q5_0Lanes>, gemm_lanes<Q5_0Lanes>, sizeof(BlockQ8L)},
    {GgmlType::q8_0, quantize_lanes<Q8_0Lanes>, gemm_lanes<Q8_0Lanes>, sizeof(BlockQ8L)},
};

}  // namespace

std::span<const RepackedKernel> avx512_repacked_table() {
    return kAvx512Repacked;
}

}  // namespace slim::cpu
