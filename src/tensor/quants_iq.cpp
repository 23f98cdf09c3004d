// The non-linear 4-bit types IQ4_NL (blocks of 32) and IQ4_XS (super-blocks of
// 256 with 6-bit sub-block scales). Each element is a 4-bit index into the
// fixed table kIq4nlValues, times a scale. See quants.h for the bit-exactness
// contract.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace slim {

namespace {

// Index of the level nearest to x in the sorted table (n a power of two); a
// tie between two levels goes to the upper one. Compares 2x with the sum of
// neighbouring levels so both sides stay exact, as ggml's best_index_int8.
int best_index_int8(int n, const int8_t* values, float x) {
    const float x2 = x + x;
    int idx = 0;
    for (int step = n >> 1; step > 0; step >>= 1) {
        const int j = idx + step;
        if (x2 >= float(values[j - 1] + values[j])) idx = j;
    }
    return idx;
}

// Where the scale search of one super-block leaves its results.
struct Iq4Out {
    uint16_t* d;         // f16 super-block scale
    uint8_t* qs;         // super_block_size / 2 bytes of nibbles
    uint16_t* scales_h;  // IQ4_XS only
    uint8_t* scales_l;   // IQ4_XS only
};

// ggml's quantize_row_iq4_nl_impl without an importance matrix (weights x^2).
// Per block of 32: start from the scale that puts the largest-magnitude
// element on level -127 (ntry > 0: on -127 with the sign flipped), take the
// weighted least-squares scale for the levels that gives, and with ntry > 0
// try 2 * ntry + 1 further starting scales, keeping the best. With more than
// one block per super-block, the block scales are then quantized to 6 bits
// against max_scale / 32 and the levels recomputed for the scale they get.
void quantize_iq4_nl_impl(int super_block_size, const float* x, Iq4Out out, float* scales,
                          uint8_t* L, int ntry) {
    constexpr int block_size = 32;
    constexpr int nvalues = 16;
    const int8_t* values = kIq4nlValues;
    float weight[block_size];

    std::memset(out.qs, 0, size_t(super_block_size / 2));
    *out.d = fp32_to_fp16(0.f);

    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < super_block_size / block_size; ++ib) {
        const float* xb = x + ib * block_size;
        uint8_t* Lb = L + ib * block_size;
        for (int j = 0; j < block_size; ++j) weight[j] = xb[j] * xb[j];
        float amax = 0, max = 0;
        for (int j = 0; j < block_size; ++j) {
            const float ax = std::fabs(xb[j]);
            if (ax > amax) {
                amax = ax;
                max = xb[j];
            }
        }
        if (amax < kGroupMaxEps) {
            // Zeroed as upstream ggml does now; ggml 0.25.3 left stale levels
            // here (harmless: the block's scale is 0, it decodes to zeros).
            scales[ib] = 0;
            std::memset(Lb, 0, block_size);
            continue;
        }
        float d = ntry > 0 ? -max / float(values[0]) : max / float(values[0]);
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int j = 0; j < block_size; ++j) {
            const int l = best_index_int8(nvalues, values, id * xb[j]);
            Lb[j] = uint8_t(l);
            const float q = values[l];
            sumqx += weight[j] * q * xb[j];
            sumq2 += weight[j] * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; ++itry) {
            id = float(itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < block_size; ++j) {
                const float q = values[best_index_int8(nvalues, values, id * xb[j])];
                sumqx += weight[j] * q * xb[j];
                sumq2 += weight[j] * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        if (std::fabs(d) > amax_scale) {
            amax_scale = std::fabs(d);
            max_scale = d;
        }
    }

    if (super_block_size / block_size > 1) {
        *out.scales_h = 0;
        const float d = -max_scale / 32;
        *out.d = fp32_to_fp16(d);
        const float id = d != 0.0f ? 1 / d : 0.f;
        for (int ib = 0; ib < super_block_size / block_size; ++ib) {
            int l = std::clamp(nearest_int(id * scales[ib]), -32, 31);
            const float dl = d * float(l);
            const float idl = dl != 0.0f ? 1 / dl : 0.f;
            uint8_t* Lb = L + ib * block_size;
            const float* xb = x + ib * block_size;
            for (int j = 0; j < block_size; ++j) {
                Lb[j] = uint8_t(best_index_int8(nvalues, values, idl * xb[j]));
            }
            l += 32;
            const uint8_t l_low = uint8_t(l & 0xf);
            const uint8_t l_high = uint8_t(l >> 4);
            if (ib % 2 == 0) {
                out.scales_l[ib / 2] = l_low;
            } else {
                out.scales_l[ib / 2] |= uint8_t(l_low << 4);
            }
            *out.scales_h |= uint16_t(l_high << (2 * ib));
        }
    } else {
        *out.d = fp32_to_fp16(scales[0]);
        if (ntry > 0) {
            const float id = scales[0] != 0.0f ? 1 / scales[0] : 0;
            for (int j = 0; j < super_block_size; ++j) {
                L[j] = uint8_t(best_index_int8(nvalues, values, id * x[j]));
            }
        }
    }

    for (int i = 0; i < super_block_size / 32; ++i) {
        for (int j = 0; j < 16; ++j) {
            out.qs[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
        }
    }
}

}  // namespace

void dequantize_row_iq4_nl(const BlockIQ4_NL* x, float* y, int64_t n) {
    constexpr int qk = kQK4_NL;
    for (int64_t i = 0; i < n / qk; ++i, y += qk) {
        const float d = fp16_to_fp32(x[i].d);
        for (int j = 0; j < qk / 2; ++j) {
            y[j] = d * float(kIq4nlValues[x[i].qs[j] & 0xf]);
            y[j + qk / 2] = d * float(kIq4nlValues[x[i].qs[j] >> 4]);
        }
    }
}

void dequantize_row_iq4_xs(const BlockIQ4_XS* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const float d = fp16_to_fp32(x[i].d);
        const uint8_t* qs = x[i].qs;
        for (int ib = 0; ib < kQK_K / 32; ++ib, y += 32, qs += 16) {
            const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) |
                           (((x[i].scales_h >> (2 * ib)) & 3) << 4);
            const float dl = d * float(ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * float(kIq4nlValues[qs[j] & 0xf]);
                y[j + 16] = dl * float(kIq4nlValues[qs[j] >> 4]);
            }
        }
    }
}

// The reference IQ4_NL quantizer runs the search with ntry = -1: one starting
// scale, no refinement (llama.cpp's importance-matrix path uses 7).
void quantize_row_iq4_nl_ref(const float* x, BlockIQ4_NL* y, int64_t n) {
    uint8_t L[kQK4_NL];
    float scale;
    for (int64_t i = 0; i < n / kQK4_NL; ++i) {
        quantize_iq4_nl_impl(kQK4_NL, x + i * kQK4_NL, {&y[i].d, y[i].qs, nullptr, nullptr}, &scale,
                             L, -1);
    }
}

// The reference IQ4_XS quantizer is ggml's quantize_iq4_xs without an
// importance matrix: ntry = 7.
void quantize_row_iq4_xs_ref(const float* x, BlockIQ4_XS* y, int64_t n) {
    uint8_t L[kQK_K];
    float scales[kQK_K / 32];
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        quantize_iq4_nl_impl(kQK_K, x + i * kQK_K,
                             {&y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l}, scales, L, 7);
    }
}

}  // namespace slim
