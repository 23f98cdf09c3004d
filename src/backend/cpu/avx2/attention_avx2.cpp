// AVX2 + FMA + F16C attention products, bit for bit the scalar ones
// (scalar/attention.cpp): ggml's 16 lanes are two 8-float registers, its 64
// lanes eight, and every lane sees the same fused multiply-adds in the same
// order; the pairwise reductions are done with the same pairs.
//
// Shared helpers come from x86_simd.h (internal linkage: this file compiles
// its own copy with its own flags).
#include <immintrin.h>

#include <cstdint>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/x86_simd.h"

namespace slim::cpu {

namespace {

constexpr int kLanes = 16, kVecDotLanes = 64;

inline __m256 load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// _mm512_reduce_add_ps's pairs (ggml_math.h reduce16) for lanes 0-7 in lo
// and 8-15 in hi: lane l + lane l + 8, then hsum_ps's pairs of the eight.
inline float reduce16(__m256 lo, __m256 hi) {
    return hsum_ps(_mm256_add_ps(hi, lo));
}

// ggml_vec_dot_f16's reduction of its 64 lanes, a[j] holding lanes 8j..8j+7.
inline float reduce64(const __m256* a) {
    const __m256 x0_lo = _mm256_add_ps(_mm256_add_ps(a[0], a[4]), _mm256_add_ps(a[2], a[6]));
    const __m256 x0_hi = _mm256_add_ps(_mm256_add_ps(a[1], a[5]), _mm256_add_ps(a[3], a[7]));
    return reduce16(x0_lo, x0_hi);
}

double dot_f16(const float* q, const uint16_t* k, int n, int lanes) {
    if (lanes == kLanes) {
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        for (int i = 0; i < n; i += kLanes) {
            lo = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load_f16(k + i), lo);
            hi = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load_f16(k + i + 8), hi);
        }
        return reduce16(lo, hi);
    }
    const int full = n / kVecDotLanes * kVecDotLanes;
    __m256 a[8];
    for (__m256& r : a) r = _mm256_setzero_ps();
    for (int i = 0; i < full; i += kVecDotLanes) {
        for (int j = 0; j < 8; ++j)
            a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8 * j), load_f16(k + i + 8 * j), a[j]);
    }
    double dot = reduce64(a);
    for (int i = full; i < n; ++i) dot += double(q[i] * f16(k[i]));
    return dot;
}

void dot_f16_x4(const float* q, const uint16_t* const* k, int n, int lanes, double* out) {
    if (lanes != kLanes) {
        for (int i = 0; i < 4; ++i) out[i] = dot_f16(q, k[i], n, lanes);
        return;
    }
    __m256 lo[4], hi[4];
    for (int j = 0; j < 4; ++j) lo[j] = hi[j] = _mm256_setzero_ps();
    for (int i = 0; i < n; i += kLanes) {
        const __m256 q_lo = _mm256_loadu_ps(q + i), q_hi = _mm256_loadu_ps(q + i + 8);
        for (int j = 0; j < 4; ++j) {
            lo[j] = _mm256_fmadd_ps(q_lo, load_f16(k[j] + i), lo[j]);
            hi[j] = _mm256_fmadd_ps(q_hi, load_f16(k[j] + i + 8), hi[j]);
        }
    }
    for (int j = 0; j < 4; ++j) out[j] = reduce16(lo[j], hi[j]);
}

void axpy_f16(float p, const uint16_t* v, float* acc, int n) {
    const __m256 pv = _mm256_set1_ps(p);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(pv, load_f16(v + i), _mm256_loadu_ps(acc + i)));
    for (; i < n; ++i) {
        const __m128 r = _mm_fmadd_ss(_mm_set_ss(p), _mm_set_ss(f16(v[i])), _mm_set_ss(acc[i]));
        acc[i] = _mm_cvtss_f32(r);
    }
}

// The reductions of reduce16 / reduce64, across lanes l of acc[l * n + i],
// for 8 values of i at once.
inline __m256 reduce16_columns(const float* acc, int n, int i) {
    auto l = [&](int k) { return _mm256_loadu_ps(acc + k * n + i); };
    __m256 t8[8];
    for (int k = 0; k < 8; ++k) t8[k] = _mm256_add_ps(l(8 + k), l(k));
    __m256 t4[4];
    for (int k = 0; k < 4; ++k) t4[k] = _mm256_add_ps(t8[4 + k], t8[k]);
    return _mm256_add_ps(_mm256_add_ps(t4[0], t4[2]), _mm256_add_ps(t4[1], t4[3]));
}

void reduce_lanes(const float* acc, int lanes, int n, float* out) {
    int i = 0;
    if (lanes == kLanes) {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, reduce16_columns(acc, n, i));
    } else {
        float x0[kLanes * 8];  // the 16 lanes of x0 for 8 columns
        for (; i + 8 <= n; i += 8) {
            for (int k = 0; k < kLanes; ++k) {
                auto l = [&](int j) { return _mm256_loadu_ps(acc + j * n + i); };
                const __m256 a = _mm256_add_ps(l(k), l(32 + k));
                const __m256 b = _mm256_add_ps(l(16 + k), l(48 + k));
                _mm256_storeu_ps(x0 + 8 * k, _mm256_add_ps(a, b));
            }
            _mm256_storeu_ps(out + i, reduce16_columns(x0, 8, 0));
        }
    }
    for (; i < n; ++i) {  // a column at a time, the same pairs
        float l[kVecDotLanes];
        for (int k = 0; k < lanes; ++k) l[k] = acc[k * n + i];
        __m256 r[8];
        for (int j = 0; j < lanes / 8; ++j) r[j] = _mm256_loadu_ps(l + 8 * j);
        out[i] = lanes == kLanes ? reduce16(r[0], r[1]) : reduce64(r);
    }
}

void weighted_sum_f16(const float* p, const uint16_t* v, size_t v_stride, int64_t n_slots,
                      int64_t lane0, int lanes, int n, float* out) {
    // One slot at a time into its lane's row of acc (16 KB for 16 lanes of
    // 256 columns: L1), then the reduction. Keeping a column block's lanes in
    // registers instead means reading each V row once per block: slower for
    // long contexts, whose V does not fit in L1.
    std::vector<float> acc(size_t(lanes) * size_t(n), 0.0f);
    for (int64_t s = 0; s < n_slots; ++s) {
        if (p[s] == 0) continue;
        axpy_f16(p[s], v + size_t(s) * v_stride, &acc[size_t((lane0 + s) % lanes) * size_t(n)], n);
    }
    reduce_lanes(acc.data(), lanes, n, out);
}

void scale_to_f16(float* x, int64_t n, float s) {
    const __m256 sv = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h =
            _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) x[i] = f16(_cvtss_sh(x[i] * s, _MM_FROUND_TO_NEAREST_INT));
}

// ggml_v_expf (its AVX-512 form, as in ggml_math.h expf16) on 8 floats. The
// final scaling by 2^n is done in double, where j * 2^n is exact, so the one
// rounding to float is _mm512_scalef_ps's, subnormal results included.
inline __m256 expf16(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 neg_n = _mm256_xor_ps(n, _mm256_set1_ps(-0.0f));
    const __m256 b = _mm256_fmadd_ps(neg_n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                     _mm256_fmadd_ps(neg_n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    // |n| <= 192 here (the others are replaced below), so n + 1023 is a
    // valid double exponent.
    const __m256 n_clamped =
        _mm256_min_ps(_mm256_max_ps(n, _mm256_set1_ps(-192.0f)), _mm256_set1_ps(192.0f));
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n_clamped), _mm256_set1_epi32(1023));
    auto scale = [](__m128 jh, __m128i eh) {
        const __m256d p2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_cvtepi32_epi64(eh), 52));
        return _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(jh), p2));
    };
    const __m256 scaled =
        _mm256_set_m128(scale(_mm256_extractf128_ps(j, 1), _mm256_extracti128_si256(e, 1)),
                        scale(_mm256_castps256_ps128(j), _mm256_castsi256_si128(e)));
    // |n| > 192: 0 below, infinity above (NaN compares false: it stays NaN).
    const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 big = _mm256_cmp_ps(abs_n, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
    const __m256 overflow = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_GT_OQ),
                                          _mm256_set1_ps(__builtin_inff()));
    return _mm256_blendv_ps(scaled, overflow, big);
}

double softmax_exp(float* x, int64_t n, float max) {
    const __m256 m = _mm256_set1_ps(max);
    double sum = 0;
    for (int64_t c = 0; c < n; c += kLanes) {
        const __m256 lo = expf16(_mm256_sub_ps(_mm256_loadu_ps(x + c), m));
        const __m256 hi = expf16(_mm256_sub_ps(_mm256_loadu_ps(x + c + 8), m));
        _mm256_storeu_ps(x + c, lo);
        _mm256_storeu_ps(x + c + 8, hi);
        sum += double(reduce16(lo, hi));
    }
    return sum;
}

// ggml_math.h silu16: x / (1 + expf16(0 - x)), one IEEE operation each.
void silu_mul16(float* g, const float* u, int64_t n) {
    for (int64_t i = 0; i < n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = expf16(_mm256_sub_ps(_mm256_setzero_ps(), x));
        const __m256 silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
    }
}

// The scalar gelu_mul 8 at a time: F16C's conversion rounds to nearest
// even as fp32_to_fp16 does (they differ only in a NaN's payload, and the
// table maps every NaN to NaN), and a gather reads the table.
void gelu_mul(float* g, const float* u, int64_t n, const float* table) {
    const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256i bits = _mm256_cvtepu16_epi32(
            _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256 gelu = _mm256_i32gather_ps(table, bits, 4);
        gelu = _mm256_blendv_ps(gelu, x, _mm256_cmp_ps(x, hi, _CMP_GE_OQ));
        gelu = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LE_OQ), gelu);
        if (u) gelu = _mm256_mul_ps(gelu, _mm256_loadu_ps(u + i));
        _mm256_storeu_ps(g + i, gelu);
    }
    scalar_attention_kernel().gelu_mul(g + i, u ? u + i : nullptr, n - i, table);
}

}  // namespace

const AttentionKernel& avx2_attention_kernel() {
    static const AttentionKernel k{dot_f16,     dot_f16_x4, weighted_sum_f16, scale_to_f16,
                                   softmax_exp, silu_mul16, gelu_mul};
    return k;
}

}  // namespace slim::cpu
