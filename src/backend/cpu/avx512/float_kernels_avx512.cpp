// The float kernels (kernels.h, float_kernels_impl.h) on 16-float AVX-512
// vectors; the GEMM keeps 12 rows x 32 columns of sums in 24 of the 32 registers.
#include "backend/cpu/float_kernels_impl.h"

namespace slim::cpu {

namespace {

struct Avx512 {
    using Reg = __m512;
    static constexpr int kLanes = 16;
    static Reg zero() { return _mm512_setzero_ps(); }
    static Reg set1(float f) { return _mm512_set1_ps(f); }
    static Reg load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
    static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
    static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
    static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
    static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
    static Reg div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
    static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
    static Reg abs(Reg a) { return _mm512_abs_ps(a); }
    static Reg select_nonnegative(Reg x, Reg a, Reg b) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), a, b);
    }
    static Reg round(Reg x) {
        return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    static Reg pow2(Reg n) {
        const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
        return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
    }
    static float hsum(Reg v) { return _mm512_reduce_add_ps(v); }
    static Reg i8_to_f32(const int8_t* p) {
        return _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    }
    static void to_f32(const uint16_t* p, float* out) {
        _mm512_storeu_ps(out,
                         _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
    }
};

constexpr FloatKernels kAvx512 = floatk::kernels<Avx512, 12>();

}  // namespace

const FloatKernels& avx512_float_kernels() {
    return kAvx512;
}

}  // namespace slim::cpu
