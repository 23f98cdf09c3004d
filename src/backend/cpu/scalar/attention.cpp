// Scalar reference of attention's F16 products (kernels.h), in llama.cpp's
// summation order as ggml_math.h writes it out. Compiled without FMA
// contraction: every fused multiply-add here is an explicit std::fma.
#include <cmath>
#include <vector>

#include "backend/cpu/ggml_math.h"
#include "backend/cpu/kernels.h"
#include "tensor/fp16.h"

namespace slim::cpu {

namespace {

float reduce(const float* l, int lanes) {
    return lanes == ggml::kVecDotLanes ? ggml::reduce_vec_dot_f16(l) : ggml::reduce16(l);
}

double dot_f16(const float* q, const uint16_t* k, int n, int lanes) {
    const int full = lanes == ggml::kVecDotLanes ? n / lanes * lanes : n;
    float l[ggml::kVecDotLanes] = {};
    for (int i = 0; i < full; ++i) l[i % lanes] = std::fma(q[i], fp16_to_fp32(k[i]), l[i % lanes]);
    double dot = reduce(l, lanes);
    for (int i = full; i < n; ++i) dot += double(q[i] * fp16_to_fp32(k[i]));
    return dot;
}

void dot_f16_x4(const float* q, const uint16_t* const* k, int n, int lanes, double* out) {
    for (int i = 0; i < 4; ++i) out[i] = dot_f16(q, k[i], n, lanes);
}

void weighted_sum_f16(const float* p, const uint16_t* v, size_t v_stride, int64_t n_slots,
                      int64_t lane0, int lanes, int n, float* out) {
    std::vector<float> acc(size_t(lanes) * size_t(n), 0.0f);
    for (int64_t s = 0; s < n_slots; ++s) {
        if (p[s] == 0) continue;
        float* lane = &acc[size_t((lane0 + s) % lanes) * size_t(n)];
        const uint16_t* row = v + size_t(s) * v_stride;
        for (int i = 0; i < n; ++i) lane[i] = std::fma(p[s], fp16_to_fp32(row[i]), lane[i]);
    }
    for (int i = 0; i < n; ++i) {
        float l[ggml::kVecDotLanes];
        for (int k = 0; k < lanes; ++k) l[k] = acc[size_t(k) * size_t(n) + size_t(i)];
        out[i] = reduce(l, lanes);
    }
}

void scale_to_f16(float* x, int64_t n, float s) {
    for (int64_t i = 0; i < n; ++i) x[i] = fp16_to_fp32(fp32_to_fp16(x[i] * s));
}

double softmax_exp(float* x, int64_t n, float max) {
    double sum = 0;
    for (int64_t c = 0; c < n; c += ggml::kLanes) {
        for (int64_t i = c; i < c + ggml::kLanes; ++i) x[i] = ggml::expf16(x[i] - max);
        sum += double(ggml::reduce16(x + c));
    }
    return sum;
}

void silu_mul16(float* g, const float* u, int64_t n) {
    for (int64_t i = 0; i < n; ++i) g[i] = ggml::silu16(g[i]) * u[i];
}

void gelu_mul(float* g, const float* u, int64_t n, const float* table) {
    for (int64_t i = 0; i < n; ++i) {
        const float x = g[i];
        const float gelu = x <= -10.0f ? 0.0f : x >= 10.0f ? x : table[fp32_to_fp16(x)];
        g[i] = u ? gelu * u[i] : gelu;
    }
}

}  // namespace

const AttentionKernel& scalar_attention_kernel() {
    static const AttentionKernel k{dot_f16,     dot_f16_x4, weighted_sum_f16, scale_to_f16,
                                   softmax_exp, silu_mul16, gelu_mul};
    return k;
}

}  // namespace slim::cpu
