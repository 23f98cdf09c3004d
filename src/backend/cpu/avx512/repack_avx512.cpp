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
               float* y, size_t y_stride) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const uint8_t* scales = group + size_t(nb) * 128;
    const BlockQ8_0R* act[NA];
    for (int j = 0; j < NA; ++j)
        act[j] = reinterpret_cast<const BlockQ8_0R*>(a + a_stride * size_t(j));
    __m256 acc[NA];
    for (auto& v : acc) v = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* qs = group + size_t(i) * 128;
        prefetch_weights(qs, 128);
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
                   [&](auto na, const uint8_t* group, const char* act, float* out) {
                       group_dot<T, decltype(na)::value>(traits, n / 32, group, act, a_stride, out,
                                                         y_stride);
                   });
}

// Q8_0's activations: quantize_block32's bytes and scale, and each of the
// 8 lanes' start, minus 128 times the sum of its 4 quants.
void quantize_row_q8_0l(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_0L*>(vy);
    for (int64_t i = 0; i < n / 32; ++i, x += 32) {
        float d;
        const __m256i q = quantize_block32(x, &d);
        y[i].d = f16(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), q);
        const __m256i lane_sums =
            _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q);
        _mm256_storeu_si256(
            reinterpret_cast<__m256i*>(y[i].start),
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(lane_sums, 7)));
    }
}

// One Q8_0 group's 16 outputs for NA activation rows. Register c of a block
// holds vec_dot's lane c (quants 4c..4c+3) of all 16 rows, so acc[j][c]'s
// lane r is row r's float lane c against activation row j: the same
// fma(d_w * d_a, float(lane sum), lane) as vec_dot's, with the activation's
// 4 quants broadcast from memory. At the end the 8 lanes are added for all
// 16 rows at once, in hsum_ps's pairing.
template <int NA>
void q8_group_dot(int64_t nb, const uint8_t* group, const char* a, size_t a_stride, float* y,
                  size_t y_stride) {
    const uint8_t* scales = group + size_t(nb) * 512;
    const BlockQ8_0L* act[NA];
    for (int j = 0; j < NA; ++j)
        act[j] = reinterpret_cast<const BlockQ8_0L*>(a + a_stride * size_t(j));
    __m512 acc[NA][8];
    for (auto& row : acc)
        for (auto& v : row) v = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* qs = group + size_t(i) * 512;
        prefetch_weights(qs, 512);
        const __m512 wd =
            _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + 32 * i)));
        __m512 d[NA];
        for (int j = 0; j < NA; ++j) d[j] = _mm512_mul_ps(wd, _mm512_set1_ps(act[j][i].d));
        for (int c = 0; c < 8; ++c) {
            const __m512i w = _mm512_loadu_si512(qs + 64 * c);
            for (int j = 0; j < NA; ++j) {
                const BlockQ8_0L& b = act[j][i];
                int32_t quads;
                std::memcpy(&quads, b.qs + 4 * c, 4);
                const __m512i p =
                    _mm512_dpbusd_epi32(_mm512_set1_epi32(b.start[c]), w, _mm512_set1_epi32(quads));
                acc[j][c] = _mm512_fmadd_ps(d[j], _mm512_cvtepi32_ps(p), acc[j][c]);
            }
        }
    }
    for (int j = 0; j < NA; ++j) {
        const __m512 even =
            _mm512_add_ps(_mm512_add_ps(acc[j][0], acc[j][4]), _mm512_add_ps(acc[j][2], acc[j][6]));
        const __m512 odd =
            _mm512_add_ps(_mm512_add_ps(acc[j][1], acc[j][5]), _mm512_add_ps(acc[j][3], acc[j][7]));
        _mm512_storeu_ps(y + y_stride * size_t(j), _mm512_add_ps(even, odd));
    }
}

void gemm_q8_0(int64_t n, const void* w, size_t group_bytes, int64_t n_groups, const void* a,
               size_t a_stride, int64_t n_act, float* y, size_t y_stride) {
    const char* act = static_cast<const char*>(a);
    for (int64_t g = 0; g < n_groups; ++g) {
        const uint8_t* group = static_cast<const uint8_t*>(w) + group_bytes * size_t(g);
        float* yg = y + kQ8RepackRows * g;
        int64_t j = 0;
        for (; j + 3 <= n_act; j += 3)
            q8_group_dot<3>(n / 32, group, act + a_stride * size_t(j), a_stride,
                            yg + y_stride * size_t(j), y_stride);
        if (n_act - j == 2)
            q8_group_dot<2>(n / 32, group, act + a_stride * size_t(j), a_stride,
                            yg + y_stride * size_t(j), y_stride);
        if (n_act - j == 1)
            q8_group_dot<1>(n / 32, group, act + a_stride * size_t(j), a_stride,
                            yg + y_stride * size_t(j), y_stride);
    }
}

constexpr RepackedKernel kAvx512Repacked[] = {
    {GgmlType::q4_0, quantize_row_q8_0r, gemm<Q4_0Repacked>},
    {GgmlType::iq4_nl, quantize_row_q8_0r, gemm<IQ4_NLRepacked>},
    {GgmlType::q8_0, quantize_row_q8_0l, gemm_q8_0, sizeof(BlockQ8_0L)},
};

}  // namespace

std::span<const RepackedKernel> avx512_repacked_table() {
    return kAvx512Repacked;
}

}  // namespace slim::cpu
