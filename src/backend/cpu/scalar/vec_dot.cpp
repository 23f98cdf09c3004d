// Scalar reference dot products, weight row x converted activation row.
// Each block's integer products are summed exactly in int32, then scaled by
// the two block scales, mirroring ggml's *_generic kernels.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "backend/cpu/kernels.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace slim::cpu {

namespace {

// Unpacks 32 4-bit quants: element j < 16 is the low nibble of qs[j], element
// j >= 16 the high nibble of qs[j - 16].
inline void unpack_nibbles32(const uint8_t* qs, int8_t* q) {
    for (int j = 0; j < 16; ++j) {
        q[j] = int8_t(qs[j] & 0x0F);
        q[j + 16] = int8_t(qs[j] >> 4);
    }
}

inline int32_t dot_i8(const int8_t* a, const int8_t* b, int n) {
    int32_t s = 0;
    for (int i = 0; i < n; ++i) s += int32_t(a[i]) * int32_t(b[i]);
    return s;
}

float vec_dot_q4_0_q8_0(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ4_0*>(vw);
    auto* a = static_cast<const BlockQ8_0*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK4_0; ++i) {
        int8_t q[32];
        unpack_nibbles32(w[i].qs, q);
        for (int8_t& v : q) v = int8_t(v - 8);
        // One fused chain, as llama.cpp's repacked Q4_0 gemv/gemm.
        sum = std::fma(float(dot_i8(q, a[i].qs, 32)), fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d),
                       sum);
    }
    return sum;
}

float vec_dot_q4_1_q8_1(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ4_1*>(vw);
    auto* a = static_cast<const BlockQ8_1*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK4_1; ++i) {
        int8_t q[32];
        unpack_nibbles32(w[i].qs, q);
        sum += float(dot_i8(q, a[i].qs, 32)) * (fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d)) +
               fp16_to_fp32(w[i].m) * fp16_to_fp32(a[i].s);
    }
    return sum;
}

inline void unpack_q5(const uint8_t* qs, const uint8_t* qh_bytes, int8_t* q) {
    uint32_t qh;
    std::memcpy(&qh, qh_bytes, 4);
    unpack_nibbles32(qs, q);
    for (int j = 0; j < 32; ++j) q[j] = int8_t(q[j] | (((qh >> j) & 1) << 4));
}

float vec_dot_q5_0_q8_0(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ5_0*>(vw);
    auto* a = static_cast<const BlockQ8_0*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK5_0; ++i) {
        int8_t q[32];
        unpack_q5(w[i].qs, w[i].qh, q);
        for (int8_t& v : q) v = int8_t(v - 16);
        sum += float(dot_i8(q, a[i].qs, 32)) * (fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d));
    }
    return sum;
}

float vec_dot_q5_1_q8_1(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ5_1*>(vw);
    auto* a = static_cast<const BlockQ8_1*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK5_1; ++i) {
        int8_t q[32];
        unpack_q5(w[i].qs, w[i].qh, q);
        sum += float(dot_i8(q, a[i].qs, 32)) * (fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d)) +
               fp16_to_fp32(w[i].m) * fp16_to_fp32(a[i].s);
    }
    return sum;
}

float vec_dot_q8_0_q8_0(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ8_0*>(vw);
    auto* a = static_cast<const BlockQ8_0*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK8_0; ++i) {
        sum += float(dot_i8(w[i].qs, a[i].qs, 32)) * (fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d));
    }
    return sum;
}

float vec_dot_iq4_nl_q8_0(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockIQ4_NL*>(vw);
    auto* a = static_cast<const BlockQ8_0*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK4_NL; ++i) {
        int8_t q[32];
        unpack_nibbles32(w[i].qs, q);
        for (int8_t& v : q) v = kIq4nlValues[v];
        // One fused chain, as llama.cpp's repacked IQ4_NL gemv/gemm.
        sum = std::fma(float(dot_i8(q, a[i].qs, 32)), fp16_to_fp32(w[i].d) * fp16_to_fp32(a[i].d),
                       sum);
    }
    return sum;
}

// --- K-quants: 256-element super-blocks against Q8_K ---------------------------

// Element order of Q2_K/Q3_K's 2-bit fields: in 128-element half h, element
// 128h + 32k + l sits at bits 2k of qs[32h + l].
inline void unpack_2bit256(const uint8_t* qs, int8_t* q) {
    for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 4; ++k) {
            for (int l = 0; l < 32; ++l)
                q[128 * h + 32 * k + l] = int8_t((qs[32 * h + l] >> (2 * k)) & 3);
        }
    }
}

float vec_dot_q2_k_q8_k(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ2_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        int8_t q[kQK_K];
        unpack_2bit256(w[i].qs, q);
        int32_t sumi = 0, summ = 0;
        for (int s = 0; s < 16; ++s) {
            sumi += int32_t(w[i].scales[s] & 0xF) * dot_i8(q + 16 * s, a[i].qs + 16 * s, 16);
            summ += int32_t(w[i].scales[s] >> 4) * a[i].bsums[s];
        }
        sum +=
            a[i].d * (fp16_to_fp32(w[i].d) * float(sumi) - fp16_to_fp32(w[i].dmin) * float(summ));
    }
    return sum;
}

// Q3_K's sixteen 6-bit scales (biased by 32) from its 12 packed bytes: low
// nibbles in bytes 0-7 (scale s in byte s % 8, nibble s / 8), top 2 bits in
// bytes 8-11 (scale s in byte 8 + s % 4, bits 2 * (s / 4)).
inline void unpack_q3_k_scales(const uint8_t* packed, int* scales) {
    for (int s = 0; s < 16; ++s) {
        int low = (packed[s % 8] >> (4 * (s / 8))) & 0xF;
        int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
        scales[s] = (low | (high << 4)) - 32;
    }
}

float vec_dot_q3_k_q8_k(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ3_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        int8_t q[kQK_K];
        unpack_2bit256(w[i].qs, q);
        // A clear high bit subtracts 4: element 128h + 32k + l uses bit 4h + k of hmask[l].
        for (int h = 0; h < 2; ++h) {
            for (int k = 0; k < 4; ++k) {
                for (int l = 0; l < 32; ++l) {
                    if (!(w[i].hmask[l] & (1 << (4 * h + k)))) q[128 * h + 32 * k + l] -= 4;
                }
            }
        }
        int scales[16];
        unpack_q3_k_scales(w[i].scales, scales);
        int32_t sumi = 0;
        for (int s = 0; s < 16; ++s) sumi += scales[s] * dot_i8(q + 16 * s, a[i].qs + 16 * s, 16);
        sum += a[i].d * fp16_to_fp32(w[i].d) * float(sumi);
    }
    return sum;
}

// Scale and min of sub-block j (0-7) of Q4_K/Q5_K's 12 packed bytes.
inline void k4_scale_min(int j, const uint8_t* q, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Q4_K/Q5_K low nibbles: 32-byte chunk c holds elements 64c + l (low) and 64c + 32 + l (high).
inline void unpack_nibbles256(const uint8_t* qs, int8_t* q) {
    for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
            q[64 * c + l] = int8_t(qs[32 * c + l] & 0xF);
            q[64 * c + 32 + l] = int8_t(qs[32 * c + l] >> 4);
        }
    }
}

float k4_block_dot(const int8_t* q, const uint8_t* scales, const BlockQ8_K& a, float d,
                   float dmin) {
    int32_t sumi = 0, summ = 0;
    for (int s = 0; s < 8; ++s) {
        int sc, m;
        k4_scale_min(s, scales, &sc, &m);
        sumi += sc * dot_i8(q + 32 * s, a.qs + 32 * s, 32);
        summ += m * (a.bsums[2 * s] + a.bsums[2 * s + 1]);
    }
    return a.d * (d * float(sumi) - dmin * float(summ));
}

float vec_dot_q4_k_q8_k(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ4_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        int8_t q[kQK_K];
        unpack_nibbles256(w[i].qs, q);
        sum += k4_block_dot(q, w[i].scales, a[i], fp16_to_fp32(w[i].d), fp16_to_fp32(w[i].dmin));
    }
    return sum;
}

float vec_dot_q5_k_q8_k(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ5_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        int8_t q[kQK_K];
        unpack_nibbles256(w[i].qs, q);
        for (int c = 0; c < 4; ++c) {
            for (int l = 0; l < 32; ++l) {
                q[64 * c + l] = int8_t(q[64 * c + l] | (((w[i].qh[l] >> (2 * c)) & 1) << 4));
                q[64 * c + 32 + l] =
                    int8_t(q[64 * c + 32 + l] | (((w[i].qh[l] >> (2 * c + 1)) & 1) << 4));
            }
        }
        sum += k4_block_dot(q, w[i].scales, a[i], fp16_to_fp32(w[i].d), fp16_to_fp32(w[i].dmin));
    }
    return sum;
}

float vec_dot_q6_k_q8_k(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockQ6_K*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        int8_t q[kQK_K];
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = w[i].ql + 64 * h;
            const uint8_t* qh = w[i].qh + 32 * h;
            int8_t* out = q + 128 * h;
            for (int l = 0; l < 32; ++l) {
                out[l] = int8_t(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
                out[l + 32] = int8_t(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
                out[l + 64] = int8_t(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                out[l + 96] = int8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        int32_t sumi = 0;
        for (int s = 0; s < 16; ++s)
            sumi += int32_t(w[i].scales[s]) * dot_i8(q + 16 * s, a[i].qs + 16 * s, 16);
        sum += a[i].d * fp16_to_fp32(w[i].d) * float(sumi);
    }
    return sum;
}

float vec_dot_iq4_xs_q8_k(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const BlockIQ4_XS*>(vw);
    auto* a = static_cast<const BlockQ8_K*>(va);
    float sum = 0;
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        int32_t sumi = 0;
        for (int s = 0; s < 8; ++s) {
            int ls = ((w[i].scales_l[s / 2] >> (4 * (s % 2))) & 0xF) |
                     (((w[i].scales_h >> (2 * s)) & 3) << 4);
            int8_t q[32];
            unpack_nibbles32(w[i].qs + 16 * s, q);
            for (int8_t& v : q) v = kIq4nlValues[v];
            sumi += (ls - 32) * dot_i8(q, a[i].qs + 32 * s, 32);
        }
        sum += a[i].d * fp16_to_fp32(w[i].d) * float(sumi);
    }
    return sum;
}

// --- float weights ---------------------------------------------------------------

float vec_dot_f32_f32(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const float*>(vw);
    auto* a = static_cast<const float*>(va);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(w[i]) * double(a[i]);
    return float(sum);
}

float vec_dot_f16_f16(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const uint16_t*>(vw);
    auto* a = static_cast<const uint16_t*>(va);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(fp16_to_fp32(w[i])) * double(fp16_to_fp32(a[i]));
    return float(sum);
}

float vec_dot_bf16_bf16(int64_t n, const void* vw, const void* va) {
    auto* w = static_cast<const uint16_t*>(vw);
    auto* a = static_cast<const uint16_t*>(va);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(bf16_to_fp32(w[i])) * double(bf16_to_fp32(a[i]));
    return float(sum);
}

void convert_f32(const float* x, void* y, int64_t n) {
    std::memcpy(y, x, size_t(n) * sizeof(float));
}
void convert_f16(const float* x, void* y, int64_t n) {
    auto* out = static_cast<uint16_t*>(y);
    for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(x[i]);
}
void convert_bf16(const float* x, void* y, int64_t n) {
    auto* out = static_cast<uint16_t*>(y);
    for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_bf16(x[i]);
}
// Activations are converted the way ggml's x86 CPU backend converts them
// (quantize_row_q8_0/q8_1 in ggml-cpu/arch/x86), not like the reference
// quantizer used for files: the multiplier is 127 / amax rather than 1 / d,
// and values are rounded to nearest even. The two differ by one step on a few
// values per thousand, which is enough to move logits measurably; matching
// llama.cpp here keeps the reference tests meaningful.
template <class Block>
void quantize_act_q8(const float* x, Block* y, int64_t n) {
    for (int64_t i = 0; i < n / 32; ++i, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.f;
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        y[i].d = fp32_to_fp16(d);
        int32_t sum = 0;
        for (int j = 0; j < 32; ++j) {
            y[i].qs[j] = int8_t(std::nearbyint(x[j] * id));
            sum += y[i].qs[j];
        }
        if constexpr (std::is_same_v<Block, BlockQ8_1>) y[i].s = fp32_to_fp16(d * float(sum));
    }
}
void quantize_q8_0(const float* x, void* y, int64_t n) {
    quantize_act_q8(x, static_cast<BlockQ8_0*>(y), n);
}
void quantize_q8_1(const float* x, void* y, int64_t n) {
    quantize_act_q8(x, static_cast<BlockQ8_1*>(y), n);
}
void quantize_q8_k(const float* x, void* y, int64_t n) {
    quantize_row_q8_k_ref(x, static_cast<BlockQ8_K*>(y), n);
}

constexpr MatmulKernelEntry kScalarKernels[] = {
    {GgmlType::f32, {GgmlType::f32, convert_f32, vec_dot_f32_f32}},
    {GgmlType::f16, {GgmlType::f16, convert_f16, vec_dot_f16_f16}},
    {GgmlType::bf16, {GgmlType::bf16, convert_bf16, vec_dot_bf16_bf16}},
    {GgmlType::q4_0, {GgmlType::q8_0, quantize_q8_0, vec_dot_q4_0_q8_0}},
    {GgmlType::q4_1, {GgmlType::q8_1, quantize_q8_1, vec_dot_q4_1_q8_1}},
    {GgmlType::q5_0, {GgmlType::q8_0, quantize_q8_0, vec_dot_q5_0_q8_0}},
    {GgmlType::q5_1, {GgmlType::q8_1, quantize_q8_1, vec_dot_q5_1_q8_1}},
    {GgmlType::q8_0, {GgmlType::q8_0, quantize_q8_0, vec_dot_q8_0_q8_0}},
    {GgmlType::iq4_nl, {GgmlType::q8_0, quantize_q8_0, vec_dot_iq4_nl_q8_0}},
    {GgmlType::q2_k, {GgmlType::q8_k, quantize_q8_k, vec_dot_q2_k_q8_k}},
    {GgmlType::q3_k, {GgmlType::q8_k, quantize_q8_k, vec_dot_q3_k_q8_k}},
    {GgmlType::q4_k, {GgmlType::q8_k, quantize_q8_k, vec_dot_q4_k_q8_k}},
    {GgmlType::q5_k, {GgmlType::q8_k, quantize_q8_k, vec_dot_q5_k_q8_k}},
    {GgmlType::q6_k, {GgmlType::q8_k, quantize_q8_k, vec_dot_q6_k_q8_k}},
    {GgmlType::iq4_xs, {GgmlType::q8_k, quantize_q8_k, vec_dot_iq4_xs_q8_k}},
};

}  // namespace

std::span<const MatmulKernelEntry> scalar_kernel_table() {
    return kScalarKernels;
}

}  // namespace slim::cpu
