// The float kernels of kernels.h (FloatKernels: GEMM, exact GELU, LayerNorm),
// written once over a vector type and instantiated by each ISA's translation
// unit (avx2/, avx512/) with its own flags. Include it only from such a file.
//
// V provides: Reg, kLanes, zero(), set1(f), load(p), store(p, v) (both
// unaligned), fma(a, b, c) = a * b + c, add, sub, mul, div, max, abs,
// select_nonnegative(x, a, b) = x >= 0 ? a : b, round(x) (to nearest
// integer), pow2(n) = 2^n for an integer-valued n in [-126, 127],
// hsum(v), to_f32(p, out) for kLanes F16 values and i8_to_f32(p) for kLanes
// int8 values.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "backend/cpu/kernels.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace slim::cpu::floatk {

// y[r][o] = bias[o] + sum_k x[r][k] W[o][k]. The weights are packed, a panel
// of kCols output columns at a time, into k-major floats (panel[k * kCols +
// j] = W[o + j][k], converted from F16 where the weights are F16): one load
// then gives the next k of kCols outputs. Q8_0 weights are dequantized
// into the panel the same way (q times the block's scale is exact in float). The microkernel holds
// kRows x kCols sums in registers and, per k, broadcasts one activation of each of its rows against
// the panel's two vectors: 2 kRows multiply-adds per 2 + kRows loads, where matmul's dot-product
// tiles do 12 per 7 and then sum each output across lanes. The panel (k * kCols floats) stays in
// L1/L2 while every activation row passes by.
template <class V, int kRows>
struct Gemm {
    static constexpr int kCols = 2 * V::kLanes;

    // Packs weight rows [o, o + width) (width <= kCols; the rest of the
    // panel is zero) into panel, kLanes elements of the kCols rows at a
    // time: reads stay sequential in each row and writes in the panel.
    static void pack(const FloatGemmProblem& p, int64_t o, int width, float* panel) {
        const int64_t k = p.k;
        alignas(64) float block[kCols][V::kLanes];
        for (int64_t i0 = 0; i0 < k; i0 += V::kLanes) {
            const int len = int(std::min<int64_t>(V::kLanes, k - i0));
            for (int j = 0; j < kCols; ++j) {
                if (j >= width) {
                    V::store(block[j], V::zero());
                    continue;
                }
                const char* row = static_cast<const char*>(p.w) + p.w_row_bytes * size_t(o + j);
                if (p.w_type == GgmlType::f32) {
                    const float* src = reinterpret_cast<const float*>(row) + i0;
                    if (len == V::kLanes)
                        V::store(block[j], V::load(src));
                    else
                        for (int t = 0; t < len; ++t) block[j][t] = src[t];
                } else if (p.w_type == GgmlType::f16) {
                    const uint16_t* src = reinterpret_cast<const uint16_t*>(row) + i0;
                    alignas(64) uint16_t h[V::kLanes] = {};
                    std::memcpy(h, src, sizeof(uint16_t) * size_t(len));
                    V::to_f32(h, block[j]);
                } else {  // q8_0: k is a multiple of 32, and of kLanes
                    const BlockQ8_0& b = reinterpret_cast<const BlockQ8_0*>(row)[i0 / 32];
                    V::store(block[j],
                             V::mul(V::set1(fp16_to_fp32(b.d)), V::i8_to_f32(b.qs + i0 % 32)));
                }
            }
            for (int t = 0; t < len; ++t)
                for (int j = 0; j < kCols; ++j) panel[(i0 + t) * kCols + j] = block[j][t];
        }
    }

    // Rows [0, kRowsHere) of x against one packed panel, into y's columns
    // [o, o + width).
    template <int kRowsHere>
    static void micro(const FloatGemmProblem& p, const float* panel, const float* x, float* y,
                      int64_t o, int width) {
        using Reg = typename V::Reg;
        Reg acc[kRowsHere][2];
        for (int r = 0; r < kRowsHere; ++r) acc[r][0] = acc[r][1] = V::zero();
        const size_t xs = p.x_stride;
        for (int64_t i = 0; i < p.k; ++i) {
            const Reg b0 = V::load(panel + i * kCols), b1 = V::load(panel + i * kCols + V::kLanes);
#pragma GCC unroll 16
            for (int r = 0; r < kRowsHere; ++r) {
                const Reg a = V::set1(x[r * xs + i]);
                acc[r][0] = V::fma(a, b0, acc[r][0]);
                acc[r][1] = V::fma(a, b1, acc[r][1]);
            }
        }
        alignas(64) float bias[kCols] = {};
        if (p.bias) std::memcpy(bias, p.bias + o, sizeof(float) * size_t(width));
        const Reg bias0 = V::load(bias), bias1 = V::load(bias + V::kLanes);
        for (int r = 0; r < kRowsHere; ++r) {
            float* out = y + r * p.y_stride + o;
            if (width == kCols) {
                V::store(out, V::add(acc[r][0], bias0));
                V::store(out + V::kLanes, V::add(acc[r][1], bias1));
            } else {
                alignas(64) float buf[kCols];
                V::store(buf, V::add(acc[r][0], bias0));
                V::store(buf + V::kLanes, V::add(acc[r][1], bias1));
                std::memcpy(out, buf, sizeof(float) * size_t(width));
            }
        }
    }

    using MicroFn = void (*)(const FloatGemmProblem&, const float*, const float*, float*, int64_t,
                             int);
    template <size_t... I>
    static constexpr std::array<MicroFn, kRows> micro_table(std::index_sequence<I...>) {
        return {&micro<int(I) + 1>...};
    }

    static void run(const FloatGemmProblem& p, int64_t o_begin, int64_t o_end, float* panel) {
        static constexpr std::array<MicroFn, kRows> kMicro =
            micro_table(std::make_index_sequence<kRows>());
        for (int64_t o = o_begin; o < o_end; o += kCols) {
            const int width = int(std::min<int64_t>(kCols, o_end - o));
            pack(p, o, width, panel);
            for (int64_t r = 0; r < p.n; r += kRows) {
                const int rows = int(std::min<int64_t>(kRows, p.n - r));
                kMicro[size_t(rows - 1)](p, panel, p.x + size_t(r) * p.x_stride,
                                         p.y + size_t(r) * p.y_stride, o, width);
            }
        }
    }
};

// e^(a + b) for a + b <= 0 (the only use here), within about 1 ulp, for b
// small next to a: x = n ln 2 + r with |r| <= ln 2 / 2 and r = (a - n ln 2) + b
// in that order (n ln 2's high part has 16 zero bits, so a - n ln2_hi is
// exact), e^r by its Taylor polynomial to r^7 (the first term left out is
// below 2^-28 of the result), times 2^n. Taking b apart keeps its bits, which
// a + b would round away when a is large. 0 below e^-87, where 2^n would
// leave the normal range.
template <class V>
typename V::Reg exp_nonpositive(typename V::Reg a, typename V::Reg b) {
    using Reg = typename V::Reg;
    const Reg x = V::add(a, b);
    const Reg n = V::round(V::mul(V::max(x, V::set1(-87.0f)), V::set1(1.44269504088896341f)));
    Reg r = V::fma(n, V::set1(-0.693145751953125f), a);             // ln 2, high bits
    r = V::fma(n, V::set1(-1.428606765330187e-06f), V::add(r, b));  // and the rest
    Reg p = V::set1(1.0f / 5040);
    for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
        p = V::fma(p, r, V::set1(c));
    return V::select_nonnegative(V::add(x, V::set1(87.0f)), V::mul(p, V::pow2(n)), V::zero());
}

// x Phi(x) with Phi the normal CDF, through erfc: Phi(x) = erfc(-x / sqrt 2) / 2,
// and erfc(z) = 2 - erfc(-z). erfc(z) for z >= 0 is the Chebyshev fit of
// Numerical Recipes (erfcc; fractional error below 1.2e-7 for every z):
// t exp(-z^2 + P(t)) with t = 1 / (1 + z / 2). z^2 = x^2 / 2 is taken as
// the rounded x^2 / 2 plus its rounding error (an FMA), since the exponent
// reaches 80 in the tail, where one rounding of it alone would cost 40 ulp
// of the result. Phi is thus within a few ulp relative where it is small
// (x < 0) and absolute where it is near 1.
template <class V>
typename V::Reg gelu_erf(typename V::Reg x) {
    using Reg = typename V::Reg;
    const Reg z = V::mul(V::abs(x), V::set1(0.70710678118654752f));
    const Reg t = V::div(V::set1(1.0f), V::fma(z, V::set1(0.5f), V::set1(1.0f)));
    Reg p = V::set1(0.17087277f);
    for (float c : {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f,
                    0.37409196f, 1.00002368f, -1.26551223f})
        p = V::fma(p, t, V::set1(c));
    const Reg x2 = V::mul(x, x);
    const Reg x2_error = V::fma(x, x, V::sub(V::zero(), x2));  // x^2 - x2, exactly
    const Reg half = V::set1(0.5f);
    const Reg e = exp_nonpositive<V>(V::mul(V::sub(V::zero(), half), x2),
                                     V::fma(V::sub(V::zero(), half), x2_error, p));
    const Reg half_erfc = V::mul(V::mul(half, t), e);
    const Reg phi = V::select_nonnegative(x, V::sub(V::set1(1.0f), half_erfc), half_erfc);
    return V::mul(x, phi);
}

template <class V>
void gelu_erf_span(float* x, int64_t n) {
    int64_t i = 0;
    for (; i + V::kLanes <= n; i += V::kLanes) V::store(x + i, gelu_erf<V>(V::load(x + i)));
    if (i < n) {
        alignas(64) float tail[V::kLanes] = {};
        std::memcpy(tail, x + i, sizeof(float) * size_t(n - i));
        V::store(tail, gelu_erf<V>(V::load(tail)));
        std::memcpy(x + i, tail, sizeof(float) * size_t(n - i));
    }
}

// Sum of x[i] (or of (x[i] - mean)^2) over n elements, kLanes at a time.
template <class V, bool kSquares>
float sum_span(const float* x, int64_t n, float mean) {
    typename V::Reg acc = V::zero();
    const typename V::Reg m = V::set1(mean);
    int64_t i = 0;
    for (; i + V::kLanes <= n; i += V::kLanes) {
        const typename V::Reg v = V::sub(V::load(x + i), m);
        acc = kSquares ? V::fma(v, v, acc) : V::add(acc, v);
    }
    float s = V::hsum(acc);
    for (; i < n; ++i) s += kSquares ? (x[i] - mean) * (x[i] - mean) : x[i] - mean;
    return s;
}

// x = (x - mean) / sqrt(var + eps) * w + b over n elements (w, b may be null),
// the variance the biased one (PyTorch's), both moments summed in float.
template <class V>
void layer_norm_span(float* x, int64_t n, const float* w, const float* b, float eps) {
    const float mean = sum_span<V, false>(x, n, 0.0f) / float(n);
    const float var = sum_span<V, true>(x, n, mean) / float(n);
    const float inv = 1.0f / std::sqrt(var + eps);
    const typename V::Reg m = V::set1(mean), s = V::set1(inv);
    int64_t i = 0;
    for (; i + V::kLanes <= n; i += V::kLanes) {
        typename V::Reg v = V::mul(V::sub(V::load(x + i), m), s);
        if (w) v = V::mul(v, V::load(w + i));
        if (b) v = V::add(v, V::load(b + i));
        V::store(x + i, v);
    }
    for (; i < n; ++i) {
        float v = (x[i] - mean) * inv;
        if (w) v *= w[i];
        if (b) v += b[i];
        x[i] = v;
    }
}

template <class V, int kGemmRows>
constexpr FloatKernels kernels() {
    return {{Gemm<V, kGemmRows>::kCols, &Gemm<V, kGemmRows>::run},
            &gelu_erf_span<V>,
            &layer_norm_span<V>};
}

}  // namespace slim::cpu::floatk
