// The K-quants: 256-element super-blocks split into sub-blocks of 16 or 32,
// each sub-block with its own scale (and min), the scales themselves quantized
// to 4-8 bits against one f16 super-block scale. Q8_K is the activation type
// the K-quant dot products pair with.
//
// The reference quantizers search per sub-block for the scale (and min) that
// minimises a weighted squared or absolute error, quantize the sub-block
// scales, then requantize every element against the scale it will actually
// be decoded with. See quants.h for the bit-exactness contract: operand order
// in every float expression below is ggml's.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace slim {

namespace {

// Symmetric levels -nmax..nmax-1 for a group, weights x^2 (or `weights` when
// given), trying 19 scales around -nmax / max and keeping the one with the
// largest sumlx^2 / suml2, i.e. the smallest weighted squared error at the
// optimal scale. L gets level + nmax; returns the scale. (ggml's
// make_qx_quants with rmse_type 1.)
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* weights) {
    float max = 0;
    float amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::memset(L, 0, size_t(n));
        return 0.f;
    }
    auto weight = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };
    float iscale = float(-nmax) / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = int8_t(l + nmax);
        const float w = weight(i);
        sumlx += w * x[i] * float(l);
        suml2 += w * float(l) * float(l);
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(float(nmax) + 0.1f * float(is)) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = weight(i);
            sumlx += w * x[i] * float(l);
            suml2 += w * float(l) * float(l);
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                L[i] = int8_t(nmax + std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// Symmetric levels for Q3_K: start from -nmax / max, then up to 5 rounds of
// coordinate descent, moving one element to the level that its optimal scale
// (given all the others) asks for whenever that lowers the x^2-weighted
// error. L gets level + nmax; returns the least-squares scale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
    float max = 0;
    float amax = 0;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::memset(L, 0, size_t(n));
        return 0.f;
    }
    const float iscale = float(-nmax) / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = int8_t(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * float(l);
        suml2 += w * float(l) * float(l);
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * float(L[i]);
            if (slx > 0) {
                float sl2 = suml2 - w * float(L[i]) * float(L[i]);
                const int new_l = std::clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * float(new_l);
                    sl2 += w * float(new_l) * float(new_l);
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = int8_t(new_l);
                        sumlx = slx;
                        suml2 = sl2;
                        ++n_changed;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Asymmetric levels 0..nmax with x ~ scale * l - the_min, min clamped to <= 0.
// Starts from the min/max fit, then tries nstep + 1 scales
// (rmin + rdelta * is + nmax) / (max - min), solving the weighted least-squares
// scale and min for each set of levels, and keeps the lowest weighted error
// (absolute with use_mad, else squared). Returns the scale; *the_min gets
// -min (>= 0). (ggml's make_qkx2_quants.)
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad) {
    float min = x[0];
    float max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        std::memset(L, 0, size_t(n));
        *the_min = -min;
        return 0.f;
    }
    auto error_of = [use_mad](float diff) { return use_mad ? std::fabs(diff) : diff * diff; };
    float iscale = float(nmax) / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * (x[i] - min));
        L[i] = uint8_t(std::clamp(l, 0, nmax));
        const float diff = scale * float(L[i]) + min - x[i];
        best_error += weights[i] * error_of(diff);
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = uint8_t(l);
            const float w = weights[i];
            sum_l += w * float(l);
            sum_l2 += w * float(l) * float(l);
            sum_xl += w * float(l) * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                const float diff = this_scale * float(Laux[i]) + this_min - x[i];
                cur_error += weights[i] * error_of(diff);
            }
            if (cur_error < best_error) {
                std::memcpy(L, Laux, size_t(n));
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

// Scale and min of sub-block j (0..7) from Q4_K/Q5_K's 12 packed bytes: sub-blocks
// 0-3 keep 6 bits in bytes j and j + 4; 4-7 keep their low 4 bits in the nibbles
// of byte j + 4 and their top 2 bits in the top bits of bytes j - 4 and j.
void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = uint8_t((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

void set_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* q) {
    if (j < 4) {
        q[j] = ls;
        q[j + 4] = lm;
    } else {
        q[j + 4] = uint8_t((ls & 0xf) | ((lm & 0xf) << 4));
        q[j - 4] |= uint8_t((ls >> 4) << 6);
        q[j] |= uint8_t((lm >> 4) << 6);
    }
}

// The 6-bit signed scale of Q3_K sub-block j (0..15), minus its bias of 32.
int q3_k_scale(const uint8_t* scales, int j) {
    const int low = j < 8 ? scales[j] & 0xf : scales[j - 8] >> 4;
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return int(int8_t((low | (high << 4)) - 32));
}

// Four 2-bit levels per byte: byte l of each 32-byte chunk holds elements
// 128c + l + 32k at bits 2k (Q2_K and Q3_K).
void pack_2bit(const uint8_t* L, uint8_t* qs) {
    for (int j = 0; j < kQK_K; j += 128) {
        for (int l = 0; l < 32; ++l) {
            qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                    (L[j + l + 96] << 6));
        }
    }
}

// Requantizes each 32-element sub-block of a Q4_K/Q5_K block against the scale
// and min it will be decoded with; sub-blocks whose scale is 0 keep L.
void requantize_k4(const float* x, uint16_t d16, uint16_t dmin16, const uint8_t* scales, int nmax,
                   uint8_t* L) {
    for (int j = 0; j < kQK_K / 32; ++j) {
        uint8_t sc, m;
        get_scale_min_k4(j, scales, &sc, &m);
        const float d = fp16_to_fp32(d16) * float(sc);
        if (d == 0.0f) continue;
        const float dm = fp16_to_fp32(dmin16) * float(m);
        for (int ii = 0; ii < 32; ++ii) {
            L[32 * j + ii] = uint8_t(std::clamp(nearest_int((x[32 * j + ii] + dm) / d), 0, nmax));
        }
    }
}

// Per-sub-block scale and min search shared by Q4_K and Q5_K, then the 6-bit
// quantization of both against the largest of each.
void quantize_scales_mins_k4(const float* x, int nmax, float rmin, float rdelta, int nstep,
                             uint8_t* L, uint8_t* scales, uint16_t* d, uint16_t* dmin) {
    float mins[kQK_K / 32];
    float sub_scales[kQK_K / 32];
    float weights[32];
    uint8_t Laux[32];
    float max_scale = 0;  // after taking off the min, scales are positive
    float max_min = 0;
    for (int j = 0; j < kQK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
        sub_scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                         rmin, rdelta, nstep, false);
        max_scale = std::max(max_scale, sub_scales[j]);
        max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < kQK_K / 32; ++j) {
        // ggml stores nearest_int through a uint8_t before clamping; so do we.
        const uint8_t ls = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * sub_scales[j])));
        const uint8_t lm = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
        set_scale_min_k4(j, ls, lm, scales);
    }
    *d = fp32_to_fp16(max_scale / 63.f);
    *dmin = fp32_to_fp16(max_min / 63.f);
}

}  // namespace

// --- dequantize -----------------------------------------------------------------

void dequantize_row_q2_k(const BlockQ2_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const float dmin = fp16_to_fp32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        int is = 0;
        for (int c = 0; c < kQK_K; c += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; ++half) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * float(sc & 0xf);
                    const float ml = dmin * float(sc >> 4);
                    for (int l = 0; l < 16; ++l) {
                        *y++ = dl * float((q[16 * half + l] >> shift) & 3) - ml;
                    }
                }
            }
        }
    }
}

void dequantize_row_q3_k(const BlockQ3_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const float d_all = fp16_to_fp32(x[i].d);
        const uint8_t* q = x[i].qs;
        const uint8_t* hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int c = 0; c < kQK_K; c += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1)) {
                for (int half = 0; half < 2; ++half) {
                    const float dl = d_all * float(q3_k_scale(x[i].scales, is++));
                    for (int l = 16 * half; l < 16 * half + 16; ++l) {
                        const int level = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
                        *y++ = dl * float(level);
                    }
                }
            }
        }
    }
}

void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const float dmin = fp16_to_fp32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        for (int is = 0; is < kQK_K / 32; is += 2, q += 32) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * float(sc), m1 = dmin * float(m);
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * float(sc), m2 = dmin * float(m);
            for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0xf) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
        }
    }
}

void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const float dmin = fp16_to_fp32(x[i].dmin);
        const uint8_t* ql = x[i].qs;
        const uint8_t* qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < kQK_K / 32; is += 2, ql += 32) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * float(sc), m1 = dmin * float(m);
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * float(sc), m2 = dmin * float(m);
            for (int l = 0; l < 32; ++l) {
                *y++ = d1 * float((ql[l] & 0xf) + ((qh[l] & u1) ? 16 : 0)) - m1;
            }
            for (int l = 0; l < 32; ++l) {
                *y++ = d2 * float((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
            }
            u1 = uint8_t(u1 << 2);
            u2 = uint8_t(u2 << 2);
        }
    }
}

void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        const int8_t* sc = x[i].scales;
        for (int c = 0; c < kQK_K; c += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                // (d * scale) * q, in ggml's order.
                y[l + 0] = d * float(sc[is + 0]) * float(q1);
                y[l + 32] = d * float(sc[is + 2]) * float(q2);
                y[l + 64] = d * float(sc[is + 4]) * float(q3);
                y[l + 96] = d * float(sc[is + 6]) * float(q4);
            }
        }
    }
}

void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        for (int j = 0; j < kQK_K; ++j) *y++ = x[i].d * float(x[i].qs[j]);
    }
}

// --- quantize -------------------------------------------------------------------

void quantize_row_q2_k_ref(const float* x, BlockQ2_K* y, int64_t n) {
    constexpr float q4scale = 15.f;
    uint8_t L[kQK_K];
    uint8_t Laux[16];
    float weights[16];
    float mins[kQK_K / 16];
    float scales[kQK_K / 16];
    for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
        float max_scale = 0;  // after taking off the min, scales are positive
        float max_min = 0;
        for (int j = 0; j < kQK_K / 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
            scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                         -0.5f, 0.1f, 15, true);
            max_scale = std::max(max_scale, scales[j]);
            max_min = std::max(max_min, mins[j]);
        }
        if (max_scale > 0) {
            const float iscale = q4scale / max_scale;
            for (int j = 0; j < kQK_K / 16; ++j) {
                y[i].scales[j] = uint8_t(nearest_int(iscale * scales[j]));
            }
            y[i].d = fp32_to_fp16(max_scale / q4scale);
        } else {
            std::memset(y[i].scales, 0, sizeof(y[i].scales));
            y[i].d = fp32_to_fp16(0.f);
        }
        if (max_min > 0) {
            const float iscale = q4scale / max_min;
            for (int j = 0; j < kQK_K / 16; ++j) {
                y[i].scales[j] |= uint8_t(nearest_int(iscale * mins[j]) << 4);
            }
            y[i].dmin = fp32_to_fp16(max_min / q4scale);
        } else {
            y[i].dmin = fp32_to_fp16(0.f);
        }
        for (int j = 0; j < kQK_K / 16; ++j) {
            const float d = fp16_to_fp32(y[i].d) * float(y[i].scales[j] & 0xf);
            if (d == 0.0f) continue;
            const float dm = fp16_to_fp32(y[i].dmin) * float(y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ++ii) {
                L[16 * j + ii] = uint8_t(std::clamp(nearest_int((x[16 * j + ii] + dm) / d), 0, 3));
            }
        }
        pack_2bit(L, y[i].qs);
    }
}

void quantize_row_q3_k_ref(const float* x, BlockQ3_K* y, int64_t n) {
    int8_t L[kQK_K];
    float scales[kQK_K / 16];
    for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
        float max_scale = 0;
        float amax = 0;
        for (int j = 0; j < kQK_K / 16; ++j) {
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
            const float scale = std::fabs(scales[j]);
            if (scale > amax) {
                amax = scale;
                max_scale = scales[j];
            }
        }
        std::memset(y[i].scales, 0, sizeof(y[i].scales));
        if (max_scale != 0.0f) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < kQK_K / 16; ++j) {
                // ggml narrows nearest_int to int8_t before clamping; so do we.
                const int l =
                    std::clamp(int(int8_t(nearest_int(iscale * scales[j]))), -32, 31) + 32;
                if (j < 8) {
                    y[i].scales[j] = uint8_t(l & 0xf);
                } else {
                    y[i].scales[j - 8] |= uint8_t((l & 0xf) << 4);
                }
                y[i].scales[j % 4 + 8] |= uint8_t((l >> 4) << (2 * (j / 4)));
            }
            y[i].d = fp32_to_fp16(1 / iscale);
        } else {
            y[i].d = fp32_to_fp16(0.f);
        }
        for (int j = 0; j < kQK_K / 16; ++j) {
            const float d = fp16_to_fp32(y[i].d) * float(q3_k_scale(y[i].scales, j));
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ++ii) {
                L[16 * j + ii] = int8_t(std::clamp(nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
            }
        }
        // High bit of level j into bit j / 32 of hmask[j % 32]; 2 low bits as Q2_K.
        std::memset(y[i].hmask, 0, sizeof(y[i].hmask));
        uint8_t low[kQK_K];
        for (int j = 0; j < kQK_K; ++j) {
            int l = L[j];
            if (l > 3) {
                y[i].hmask[j % 32] |= uint8_t(1 << (j / 32));
                l -= 4;
            }
            low[j] = uint8_t(l);
        }
        pack_2bit(low, y[i].qs);
    }
}

void quantize_row_q4_k_ref(const float* x, BlockQ4_K* y, int64_t n) {
    uint8_t L[kQK_K];
    for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
        quantize_scales_mins_k4(x, 15, -1.f, 0.1f, 20, L, y[i].scales, &y[i].d, &y[i].dmin);
        requantize_k4(x, y[i].d, y[i].dmin, y[i].scales, 15, L);
        uint8_t* q = y[i].qs;
        for (int j = 0; j < kQK_K; j += 64, q += 32) {
            for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
        }
    }
}

void quantize_row_q5_k_ref(const float* x, BlockQ5_K* y, int64_t n) {
    uint8_t L[kQK_K];
    for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
        quantize_scales_mins_k4(x, 31, -0.5f, 0.1f, 15, L, y[i].scales, &y[i].d, &y[i].dmin);
        requantize_k4(x, y[i].d, y[i].dmin, y[i].scales, 31, L);
        uint8_t* qh = y[i].qh;
        uint8_t* ql = y[i].qs;
        std::memset(qh, 0, sizeof(y[i].qh));
        uint8_t m1 = 1, m2 = 2;
        for (int c = 0; c < kQK_K; c += 64, ql += 32) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[c + j];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                int l2 = L[c + j + 32];
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = uint8_t(l1 | (l2 << 4));
            }
            m1 = uint8_t(m1 << 2);
            m2 = uint8_t(m2 << 2);
        }
    }
}

void quantize_row_q6_k_ref(const float* x, BlockQ6_K* y, int64_t n) {
    int8_t L[kQK_K];
    float scales[kQK_K / 16];
    for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
        float max_scale = 0;
        float max_abs_scale = 0;
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, nullptr);
            const float abs_scale = std::fabs(scales[ib]);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scales[ib];
            }
        }
        if (max_abs_scale < kGroupMaxEps) {
            std::memset(&y[i], 0, sizeof(y[i]));
            y[i].d = fp32_to_fp16(0.f);
            continue;
        }
        const float iscale = -128.f / max_scale;
        y[i].d = fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            y[i].scales[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
        }
        for (int j = 0; j < kQK_K / 16; ++j) {
            const float d = fp16_to_fp32(y[i].d) * float(y[i].scales[j]);
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ++ii) {
                L[16 * j + ii] = int8_t(std::clamp(nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
            }
        }
        uint8_t* ql = y[i].ql;
        uint8_t* qh = y[i].qh;
        for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; ++l) {
                const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = uint8_t((q1 & 0xf) | ((q3 & 0xf) << 4));
                ql[l + 32] = uint8_t((q2 & 0xf) | ((q4 & 0xf) << 4));
                qh[l] = uint8_t((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }
}

void quantize_row_q8_k_ref(const float* x, BlockQ8_K* y, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
        float max = 0;
        float amax = 0;
        for (int j = 0; j < kQK_K; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            // ggml leaves bsums untouched here; zeros are what they would sum to.
            std::memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        // -127 rather than -128 keeps every quant in -127..127, which some
        // SIMD dot products rely on (ggml made the same choice for IQ2_XXS).
        const float iscale = -127.f / max;
        for (int j = 0; j < kQK_K; ++j) {
            y[i].qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
        }
        for (int j = 0; j < kQK_K / 16; ++j) {
            int sum = 0;
            for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
            y[i].bsums[j] = int16_t(sum);
        }
        y[i].d = 1 / iscale;
    }
}

}  // namespace slim
