// The 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the activation
// type Q8_1. One scale (and for the _1 types a min) per block, found in a single
// pass: no search. See quants.h for the bit-exactness contract.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace slim {

namespace {

// The element of largest magnitude, with its sign; the first one on ties.
// The symmetric types scale by it so that it lands exactly on the most
// negative level (-8 or -16), which has no positive twin.
float signed_absmax(const float* x, int n) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

float absmax(const float* x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
    return amax;
}

void min_max(const float* x, int n, float* min, float* max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

uint32_t load_qh(const uint8_t* qh) {
    uint32_t v;
    std::memcpy(&v, qh, sizeof(v));  // little-endian, as in the file
    return v;
}

}  // namespace

// --- dequantize -----------------------------------------------------------------

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
    constexpr int qk = kQK4_0;
    for (int64_t i = 0; i < n / qk; ++i, y += qk) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < qk / 2; ++j) {
            y[j] = float((x[i].qs[j] & 0x0f) - 8) * d;
            y[j + qk / 2] = float((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n) {
    constexpr int qk = kQK4_1;
    for (int64_t i = 0; i < n / qk; ++i, y += qk) {
        const float d = fp16_to_fp32(x[i].d);
        const float m = fp16_to_fp32(x[i].m);
        for (int j = 0; j < qk / 2; ++j) {
            y[j] = float(x[i].qs[j] & 0x0f) * d + m;
            y[j + qk / 2] = float(x[i].qs[j] >> 4) * d + m;
        }
    }
}

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n) {
    constexpr int qk = kQK5_0;
    for (int64_t i = 0; i < n / qk; ++i, y += qk) {
        const float d = fp16_to_fp32(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < qk / 2; ++j) {
            const int hi0 = ((qh >> j) & 1) << 4;
            const int hi1 = ((qh >> (j + qk / 2)) & 1) << 4;
            y[j] = float(((x[i].qs[j] & 0x0f) | hi0) - 16) * d;
            y[j + qk / 2] = float(((x[i].qs[j] >> 4) | hi1) - 16) * d;
        }
    }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n) {
    constexpr int qk = kQK5_1;
    for (int64_t i = 0; i < n / qk; ++i, y += qk) {
        const float d = fp16_to_fp32(x[i].d);
        const float m = fp16_to_fp32(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < qk / 2; ++j) {
            const int hi0 = ((qh >> j) & 1) << 4;
            const int hi1 = ((qh >> (j + qk / 2)) & 1) << 4;
            y[j] = float((x[i].qs[j] & 0x0f) | hi0) * d + m;
            y[j + qk / 2] = float((x[i].qs[j] >> 4) | hi1) * d + m;
        }
    }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
    constexpr int qk = kQK8_0;
    for (int64_t i = 0; i < n / qk; ++i, y += qk) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < qk; ++j) y[j] = float(x[i].qs[j]) * d;
    }
}

// ggml has no dequantizer for Q8_1 (it is only ever a dot-product operand);
// this is the obvious one, d * qs, and ignores s.
void dequantize_row_q8_1(const BlockQ8_1* x, float* y, int64_t n) {
    constexpr int qk = kQK8_1;
    for (int64_t i = 0; i < n / qk; ++i, y += qk) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < qk; ++j) y[j] = float(x[i].qs[j]) * d;
    }
}

// --- quantize -------------------------------------------------------------------
//
// The 4- and 5-bit quantizers convert x * id + offset to an integer by
// truncation (ggml casts to int8_t); inputs are in [0, 2^bits + 0.5] there, so
// truncation is rounding half up. Q8_0/Q8_1 round half away from zero (roundf).

void quantize_row_q4_0_ref(const float* x, BlockQ4_0* y, int64_t n) {
    constexpr int qk = kQK4_0;
    for (int64_t i = 0; i < n / qk; ++i, x += qk) {
        const float d = signed_absmax(x, qk) / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < qk / 2; ++j) {
            const int q0 = std::min(15, int(int8_t(x[j] * id + 8.5f)));
            const int q1 = std::min(15, int(int8_t(x[j + qk / 2] * id + 8.5f)));
            y[i].qs[j] = uint8_t(q0 | (q1 << 4));
        }
    }
}

void quantize_row_q4_1_ref(const float* x, BlockQ4_1* y, int64_t n) {
    constexpr int qk = kQK4_1;
    for (int64_t i = 0; i < n / qk; ++i, x += qk) {
        float min, max;
        min_max(x, qk, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        for (int j = 0; j < qk / 2; ++j) {
            const int q0 = std::min(15, int(int8_t((x[j] - min) * id + 0.5f)));
            const int q1 = std::min(15, int(int8_t((x[j + qk / 2] - min) * id + 0.5f)));
            y[i].qs[j] = uint8_t(q0 | (q1 << 4));
        }
    }
}

void quantize_row_q5_0_ref(const float* x, BlockQ5_0* y, int64_t n) {
    constexpr int qk = kQK5_0;
    for (int64_t i = 0; i < n / qk; ++i, x += qk) {
        const float d = signed_absmax(x, qk) / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < qk / 2; ++j) {
            const int q0 = std::min(31, int(int8_t(x[j] * id + 16.5f)));
            const int q1 = std::min(31, int(int8_t(x[j + qk / 2] * id + 16.5f)));
            y[i].qs[j] = uint8_t((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= uint32_t(q0 >> 4) << j;
            qh |= uint32_t(q1 >> 4) << (j + qk / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

void quantize_row_q5_1_ref(const float* x, BlockQ5_1* y, int64_t n) {
    constexpr int qk = kQK5_1;
    for (int64_t i = 0; i < n / qk; ++i, x += qk) {
        float min, max;
        min_max(x, qk, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        y[i].m = fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < qk / 2; ++j) {
            // ggml does not clamp here: (x - min) * id <= 31 up to rounding, and
            // the + 0.5 truncation keeps that at 31.
            const int q0 = uint8_t((x[j] - min) * id + 0.5f);
            const int q1 = uint8_t((x[j + qk / 2] - min) * id + 0.5f);
            y[i].qs[j] = uint8_t((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= uint32_t((q0 & 0x10) >> 4) << j;
            qh |= uint32_t((q1 & 0x10) >> 4) << (j + qk / 2);
        }
        std::memcpy(y[i].qh, &qh, sizeof(qh));
    }
}

void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n) {
    constexpr int qk = kQK8_0;
    for (int64_t i = 0; i < n / qk; ++i, x += qk) {
        const float d = absmax(x, qk) / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        for (int j = 0; j < qk; ++j) y[i].qs[j] = int8_t(std::round(x[j] * id));
    }
}

void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t n) {
    constexpr int qk = kQK8_1;
    for (int64_t i = 0; i < n / qk; ++i, x += qk) {
        const float d = absmax(x, qk) / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < qk; ++j) {
            y[i].qs[j] = int8_t(std::round(x[j] * id));
            sum += y[i].qs[j];
        }
        // s from the unrounded f32 d, as ggml does (not from the stored f16 d).
        y[i].s = fp32_to_fp16(float(sum) * d);
    }
}

}  // namespace slim
