// Scalar reference of attention's F16 products (kernels.h), in llama.cpp's
// summation order as ggml_math.h writes it out. Compiled without FMA
// contraction: every fused multiply-add here is an explicit std::fma.
#include <cmath>

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

void axpy_f16(float p, const uint16_t* v, float* acc, int n) {
    for (int i = 0; i < n; ++i) acc[i] = std::fma(p, fp16_to_fp32(v[i]), acc[i]);
}

void reduce_lanes(const float* acc, int lanes, int n, float* out) {
    for (int i = 0; i < n; ++i) {
        float l[ggml::kVecDotLanes];
        for (int k = 0; k < lanes; ++k) l[k] = acc[k * n + i];
        out[i] = reduce(l, lanes);
    }
}

double softmax_exp(float* x, int64_t n, float max) {
    double sum = 0;
    for (int64_t c = 0; c < n; c += ggml::kLanes) {
        for (int64_t i = c; i < c + ggml::kLanes; ++i) x[i] = ggml::expf16(x[i] - max);
        sum += double(ggml::reduce16(x + c));
    }
    return sum;
}

}  // namespace

const AttentionKernel& scalar_attention_kernel() {
    static const AttentionKernel k{dot_f16, axpy_f16, reduce_lanes, softmax_exp};
    return k;
}

}  // namespace slim::cpu
