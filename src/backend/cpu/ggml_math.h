// The arithmetic of llama.cpp's CPU backend (ggml, x86-64 AVX-512 build),
// written out in scalar code so slim's results agree with llama.cpp's bit for
// bit, not just to rounding.
//
// Why bit for bit: the matrix products quantize their input rows to 8 bits,
// so a one-ulp difference anywhere upstream can move a value across a rounding
// step, and a 30-layer model amplifies that into a visibly different next-token
// distribution (measured: summing q·k in another order alone gives a mean KL of
// 3e-3 against llama.cpp on SmolLM2-135M, and llama.cpp's own one-token-at-a-
// time path, which sums in yet another order, disagrees with its batched path
// by the same amount). Agreement to 1e-3 needs the same order of operations.
//
// What is mirrored (ggml-cpu as llama.cpp builds it with GGML_AVX512=ON):
//  - dot16: llamafile's tinyBLAS F16 GEMM, used for q·K and probabilities·V
//    when two or more tokens are evaluated: one fused multiply-add chain per
//    lane (lane l takes elements l, l+16, ...), then _mm512_reduce_add_ps's
//    pairwise reduction of the 16 lanes.
//  - reduce_vec_dot_f16: ggml_vec_dot_f16, which the same products go
//    through when a single token is evaluated (llamafile needs two or more):
//    64 lanes (four 16-wide accumulators), the accumulators added pairwise
//    (0+2, 1+3, then the two sums), then reduced as above.
//  - expf16 / silu16: ggml_v_expf and ggml_v_silu, the polynomial exp used
//    by soft_max and swiglu on full 16-element chunks (the tail uses libm).
//
// Compile users of this header with -ffp-contract=off: the expressions below
// are already fused exactly where ggml fuses them.
#pragma once

#include <cmath>
#include <cstdint>

namespace slim::ggml {

inline constexpr int kLanes = 16;

// _mm512_reduce_add_ps as GCC implements it: halves added pairwise.
inline float reduce16(const float* l) {
    float t8[8], t4[4];
    for (int i = 0; i < 8; ++i) t8[i] = l[8 + i] + l[i];
    for (int i = 0; i < 4; ++i) t4[i] = t8[4 + i] + t8[i];
    const float a = t4[0] + t4[2], b = t4[1] + t4[3];
    return a + b;
}

inline constexpr int kVecDotLanes = 64;

inline float reduce_vec_dot_f16(const float* l) {
    float x0[kLanes], x1[kLanes];
    for (int i = 0; i < kLanes; ++i) {
        x0[i] = l[i] + l[32 + i];
        x1[i] = l[16 + i] + l[48 + i];
    }
    for (int i = 0; i < kLanes; ++i) x0[i] = x0[i] + x1[i];
    return reduce16(x0);
}

// ggml_v_expf (AVX-512) for one element.
inline float expf16(float x) {
    const float r = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    if (std::fabs(n) > 192) return n <= 0 ? 0.0f : INFINITY;
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                      std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, std::fma(0x1.ffffecp-1f, b, 1.0f));
    return std::ldexp(j, int(n));
}

// ggml_v_silu (AVX-512) for one element.
inline float silu16(float x) {
    return x / (1.0f + expf16(0.0f - x));
}

}  // namespace slim::ggml
