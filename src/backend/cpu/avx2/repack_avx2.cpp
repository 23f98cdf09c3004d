// AVX2 kernels for Q4_0 and IQ4_NL weights in the repacked layout of
// repack.h: each 32-byte load holds 4 elements of each of a group's 8 rows
// (low nibbles) and 4 more (high nibbles), and is multiplied by the matching
// 4 activation bytes broadcast to all 8 rows, so 32-bit lane r of every sum
// belongs to row r. A block's 8 row sums then take one convert and one fused
// multiply-add for all 8 outputs, in the order of the scalar reference
// (repack.cpp) and vec_dot: acc = fma(float(block sum), d_w * d_a, acc).
//
// Compiled with -mavx2 -mfma -mf16c (CMakeLists.txt); runs only when
// cpu_features() reports them. AVX-512 VNNI CPUs run avx512/repack_avx512.cpp.
#include <immintrin.h>

#include "backend/cpu/repack.h"
#include "backend/cpu/x86_simd.h"
#include "tensor/blocks.h"

namespace slim::cpu {

namespace {

inline __m256i broadcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Q4_0: the nibbles are multiplied as unsigned 0..15 (vpmaddubsw needs one
// unsigned operand), and 8 * the activation block's quant sum is taken off
// each row's block sum afterwards. A 16-bit lane gathers 2 products from
// each of the 8 vpmaddubsw of a block, at most 16 * 15 * 127 = 30480 in
// magnitude: no 16-bit overflow, so one vpmaddwd per block widens the sums.
struct Q4_0Repacked {
    using Sum = __m256i;  // 16 s16 lanes
    __m256i quants(__m256i nibbles) const { return nibbles; }
    static __m256i add(__m256i sum, __m256i q_lo, __m256i a_lo, __m256i q_hi, __m256i a_hi) {
        return _mm256_add_epi16(sum, _mm256_add_epi16(_mm256_maddubs_epi16(q_lo, a_lo),
                                                      _mm256_maddubs_epi16(q_hi, a_hi)));
    }
    static __m256i finish(__m256i sum, const BlockQ8_0R& a) {
        return _mm256_sub_epi32(_mm256_madd_epi16(sum, _mm256_set1_epi16(1)),
                                _mm256_set1_epi32(8 * a.sum));
    }
};

// IQ4_NL: the table's values are signed (-127..113), so each product pair
// goes through the sign trick (|w| times a with w's sign) and is widened to
// 32 bits at once: two pairs of up to 127 * 127 would overflow 16 bits.
struct IQ4_NLRepacked {
    using Sum = __m256i;  // 8 s32 lanes
    __m256i table = _mm256_broadcastsi128_si256(iq4nl_values());
    __m256i quants(__m256i nibbles) const { return _mm256_shuffle_epi8(table, nibbles); }
    static __m256i add(__m256i sum, __m256i q_lo, __m256i a_lo, __m256i q_hi, __m256i a_hi) {
        return _mm256_add_epi32(sum,
                                _mm256_add_epi32(dot_s8_s8(q_lo, a_lo), dot_s8_s8(q_hi, a_hi)));
    }
    static __m256i finish(__m256i sum, const BlockQ8_0R&) { return sum; }
};

// One group's 8 outputs for NA activation rows (a_stride bytes apart): the
// group's quants are unpacked once per 4 elements for all NA rows.
template <class T, int NA>
void group_dot(const T& traits, int64_t nb, const uint8_t* group, const char* a, size_t a_stride,
               float* y, size_t y_stride, bool stream) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const uint8_t* scales = group + size_t(nb) * 128;
    const BlockQ8_0R* act[NA];
    for (int j = 0; j < NA; ++j)
        act[j] = reinterpret_cast<const BlockQ8_0R*>(a + a_stride * size_t(j));
    __m256 acc[NA];
    for (auto& v : acc) v = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* qs = group + size_t(i) * 128;
        if (stream) prefetch_weights(group + size_t(i) * 144, 144);  // quants and scale
        __m256i sum[NA];
        for (auto& v : sum) v = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {
            const __m256i bits = load32(qs + 32 * c);
            const __m256i lo = traits.quants(_mm256_and_si256(bits, m4));
            const __m256i hi = traits.quants(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4));
            for (int j = 0; j < NA; ++j)
                sum[j] = T::add(sum[j], lo, broadcast4(act[j][i].qs + 4 * c), hi,
                                broadcast4(act[j][i].qs + 16 + 4 * c));
        }
        const __m256 wd =
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 16 * i)));
        for (int j = 0; j < NA; ++j) {
            const __m256i s = T::finish(sum[j], act[j][i]);
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s),
                                     _mm256_mul_ps(wd, _mm256_set1_ps(act[j][i].d)), acc[j]);
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

constexpr RepackedKernel kAvx2Repacked[] = {
    {GgmlType::q4_0, quantize_row_q8_0r, gemm<Q4_0Repacked>},
    {GgmlType::iq4_nl, quantize_row_q8_0r, gemm<IQ4_NLRepacked>},
};

}  // namespace

std::span<const RepackedKernel> avx2_repacked_table() {
    return kAvx2Repacked;
}

}  // namespace slim::cpu
