// The repacked layout (repack.h) and its scalar reference kernels, which the
// tests hold the ISA kernels to. Compiled for any x86-64.
#include "backend/cpu/repack.h"

#include <algorithm>

#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"
#include "tensor/tensor_type.h"

namespace slim::cpu {

namespace {

// Q4_0 and IQ4_NL blocks are laid out alike (f16 d, 16 bytes of nibbles),
// so one repacking serves both.
static_assert(sizeof(BlockQ4_0) == sizeof(BlockIQ4_NL));
constexpr size_t kQuantBytes = 128, kScaleBytes = 16;

size_t scales_offset(int64_t n_cols) {
    return size_t(n_cols / 32) * kQuantBytes;
}

// The 32 quants of block i of row r (0..7) of a group, in element order:
// 0..15 for Q4_0 (the stored nibble), indices into the table for IQ4_NL.
void group_nibbles(const uint8_t* group, int64_t i, int r, uint8_t* q) {
    const uint8_t* qs = group + size_t(i) * kQuantBytes;
    for (int c = 0; c < 4; ++c) {
        for (int k = 0; k < 4; ++k) {
            const uint8_t b = qs[32 * c + 4 * r + k];
            q[4 * c + k] = b & 0x0F;
            q[16 + 4 * c + k] = b >> 4;
        }
    }
}

uint16_t group_scale(const uint8_t* group, int64_t n_cols, int64_t i, int r) {
    uint16_t d;
    std::memcpy(&d, group + scales_offset(n_cols) + size_t(i) * kScaleBytes + 2 * size_t(r), 2);
    return d;
}

void quantize_act_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_0R*>(vy);
    std::vector<BlockQ8_0> q(size_t(n / 32));
    quantize_row_q8_0_ref(x, q.data(), n);
    for (size_t i = 0; i < q.size(); ++i) {
        y[i].d = fp16_to_fp32(q[i].d);
        y[i].sum = 0;
        for (int k = 0; k < 32; ++k) {
            y[i].qs[k] = q[i].qs[k];
            y[i].sum += q[i].qs[k];
        }
    }
}

// Each output as the scalar vec_dot sums it: one chain over the blocks,
// fma(float(integer sum), d_w * d_a, acc).
template <GgmlType kType>
void gemm_ref(int64_t n, const void* w, size_t group_bytes, int64_t n_groups, const void* va,
              size_t a_stride, int64_t n_act, float* y, size_t y_stride) {
    for (int64_t g = 0; g < n_groups; ++g) {
        const uint8_t* group = static_cast<const uint8_t*>(w) + group_bytes * size_t(g);
        for (int64_t j = 0; j < n_act; ++j) {
            const auto* a = reinterpret_cast<const BlockQ8_0R*>(static_cast<const char*>(va) +
                                                                a_stride * size_t(j));
            for (int r = 0; r < kRepackRows; ++r) {
                float acc = 0;
                for (int64_t i = 0; i < n / 32; ++i) {
                    uint8_t q[32];
                    group_nibbles(group, i, r, q);
                    int32_t sum = 0;
                    for (int k = 0; k < 32; ++k) {
                        const int v = kType == GgmlType::q4_0 ? q[k] - 8 : kIq4nlValues[q[k]];
                        sum += v * a[i].qs[k];
                    }
                    const float d = fp16_to_fp32(group_scale(group, n, i, r)) * a[i].d;
                    acc = std::fma(float(sum), d, acc);
                }
                y[size_t(j) * y_stride + size_t(g) * kRepackRows + size_t(r)] = acc;
            }
        }
    }
}

// Q8_0: 16 rows a group, 512 quant bytes and 32 scale bytes per block.
constexpr size_t kQ8QuantBytes = 512, kQ8ScaleBytes = 32;

const uint8_t* q8_group_scales(const uint8_t* group, int64_t n_cols) {
    return group + size_t(n_cols / 32) * kQ8QuantBytes;
}

void quantize_act_q8_ref(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8_0L*>(vy);
    std::vector<BlockQ8_0> q(size_t(n / 32));
    quantize_row_q8_0_ref(x, q.data(), n);
    for (size_t i = 0; i < q.size(); ++i) {
        y[i].d = fp16_to_fp32(q[i].d);
        std::memcpy(y[i].qs, q[i].qs, 32);
        for (int l = 0; l < 8; ++l) {
            y[i].start[l] = 0;
            for (int k = 0; k < 4; ++k) y[i].start[l] -= 128 * q[i].qs[4 * l + k];
        }
    }
}

// Each output as the AVX2 vec_dot sums it: 8 float lanes, lane l a chain
// over the blocks of fma(d_w * d_a, float(the block's quants 4l..4l+3 dot),
// lane), the lanes added as hsum_ps adds them.
void gemm_q8_ref(int64_t n, const void* w, size_t group_bytes, int64_t n_groups, const void* va,
                 size_t a_stride, int64_t n_act, float* y, size_t y_stride) {
    for (int64_t g = 0; g < n_groups; ++g) {
        const uint8_t* group = static_cast<const uint8_t*>(w) + group_bytes * size_t(g);
        for (int64_t j = 0; j < n_act; ++j) {
            const auto* a = reinterpret_cast<const BlockQ8_0L*>(static_cast<const char*>(va) +
                                                                a_stride * size_t(j));
            for (int r = 0; r < kQ8RepackRows; ++r) {
                float lanes[8] = {};
                for (int64_t i = 0; i < n / 32; ++i) {
                    uint16_t dw;
                    std::memcpy(&dw, q8_group_scales(group, n) + size_t(i) * kQ8ScaleBytes + 2 * r,
                                2);
                    const float d = fp16_to_fp32(dw) * a[i].d;
                    for (int l = 0; l < 8; ++l) {
                        int32_t sum = a[i].start[l];
                        for (int k = 0; k < 4; ++k)
                            sum += group[size_t(i) * kQ8QuantBytes + 64 * l + 4 * r + k] *
                                   a[i].qs[4 * l + k];
                        lanes[l] = std::fma(d, float(sum), lanes[l]);
                    }
                }
                float s[4];
                for (int l = 0; l < 4; ++l) s[l] = lanes[l] + lanes[l + 4];
                y[size_t(j) * y_stride + size_t(g) * kQ8RepackRows + size_t(r)] =
                    (s[0] + s[2]) + (s[1] + s[3]);
            }
        }
    }
}

constexpr RepackedKernel kReference[] = {
    {GgmlType::q4_0, quantize_act_ref, gemm_ref<GgmlType::q4_0>},
    {GgmlType::iq4_nl, quantize_act_ref, gemm_ref<GgmlType::iq4_nl>},
    {GgmlType::q8_0, quantize_act_q8_ref, gemm_q8_ref, sizeof(BlockQ8_0L)},
};

}  // namespace

int repack_rows(GgmlType type) {
    return type == GgmlType::q8_0 ? kQ8RepackRows : kRepackRows;
}

bool repack_supported(GgmlType type, int64_t n_cols, int64_t n_rows) {
    return (type == GgmlType::q4_0 || type == GgmlType::iq4_nl || type == GgmlType::q8_0) &&
           n_cols > 0 && n_rows > 0 && n_cols % 32 == 0 && n_rows % repack_rows(type) == 0;
}

size_t repacked_group_bytes(GgmlType type, int64_t n_cols) {
    const size_t block_bytes =
        type == GgmlType::q8_0 ? kQ8QuantBytes + kQ8ScaleBytes : kQuantBytes + kScaleBytes;
    return (size_t(n_cols / 32) * block_bytes + 63) / 64 * 64;
}

void repack_groups(GgmlType type, const void* src, int64_t n_cols, int64_t g_begin, int64_t g_end,
                   void* dst) {
    const int64_t nb = n_cols / 32;
    const int rows = repack_rows(type);
    const size_t row_bytes = tensor_row_bytes(type, n_cols);
    const size_t group_bytes = repacked_group_bytes(type, n_cols);
    for (int64_t g = g_begin; g < g_end; ++g) {
        uint8_t* group = static_cast<uint8_t*>(dst) + group_bytes * size_t(g);
        std::memset(group, 0, group_bytes);
        for (int r = 0; r < rows; ++r) {
            const uint8_t* row =
                static_cast<const uint8_t*>(src) + row_bytes * size_t(g * rows + r);
            if (type == GgmlType::q8_0) {
                const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
                for (int64_t i = 0; i < nb; ++i) {
                    uint8_t* qs = group + size_t(i) * kQ8QuantBytes;
                    for (int c = 0; c < 8; ++c) {
                        uint32_t quads;
                        std::memcpy(&quads, blocks[i].qs + 4 * c, 4);
                        quads ^= 0x80808080u;
                        std::memcpy(qs + 64 * c + 4 * r, &quads, 4);
                    }
                    std::memcpy(group + size_t(nb) * kQ8QuantBytes + size_t(i) * kQ8ScaleBytes +
                                    2 * size_t(r),
                                &blocks[i].d, 2);
                }
                continue;
            }
            const auto* blocks = reinterpret_cast<const BlockQ4_0*>(row);
            for (int64_t i = 0; i < nb; ++i) {
                uint8_t* qs = group + size_t(i) * kQuantBytes;
                for (int c = 0; c < 4; ++c)
                    std::memcpy(qs + 32 * c + 4 * r, blocks[i].qs + 4 * c, 4);
                std::memcpy(group + scales_offset(n_cols) + size_t(i) * kScaleBytes + 2 * size_t(r),
                            &blocks[i].d, 2);
            }
        }
    }
}

void unpack_row(GgmlType type, const void* repacked, int64_t n_cols, int64_t r, void* dst) {
    const int rows = repack_rows(type);
    const uint8_t* group = static_cast<const uint8_t*>(repacked) +
                           repacked_group_bytes(type, n_cols) * size_t(r / rows);
    const int rr = int(r % rows);
    if (type == GgmlType::q8_0) {
        auto* out = static_cast<BlockQ8_0*>(dst);
        for (int64_t i = 0; i < n_cols / 32; ++i) {
            const uint8_t* qs = group + size_t(i) * kQ8QuantBytes;
            for (int e = 0; e < 32; ++e)
                out[i].qs[e] = int8_t(qs[64 * (e / 4) + 4 * rr + e % 4] ^ 0x80);
            std::memcpy(&out[i].d,
                        q8_group_scales(group, n_cols) + size_t(i) * kQ8ScaleBytes + 2 * size_t(rr),
                        2);
        }
        return;
    }
    auto* out = static_cast<BlockQ4_0*>(dst);
    for (int64_t i = 0; i < n_cols / 32; ++i) {
        const uint8_t* qs = group + size_t(i) * kQuantBytes;
        for (int c = 0; c < 4; ++c) std::memcpy(out[i].qs + 4 * c, qs + 32 * c + 4 * rr, 4);
        out[i].d = group_scale(group, n_cols, i, rr);
    }
}

const RepackedKernel* isa_repacked_kernel(Isa isa, GgmlType type) {
    std::span<const RepackedKernel> table;
    if (isa == Isa::scalar) table = kReference;
    if (isa == Isa::avx2) table = avx2_repacked_table();
    if (isa == Isa::avx512) table = avx512_repacked_table();
    if (isa == Isa::amx) table = amx_repacked_table();
    for (const RepackedKernel& k : table) {
        if (k.weight == type) return &k;
    }
    return nullptr;
}

const RepackedKernel* repacked_kernel(GgmlType type) {
    for (int level = int(active_isa()); level > int(Isa::scalar); --level) {
        if (const RepackedKernel* k = isa_repacked_kernel(Isa(level), type)) return k;
    }
    return nullptr;
}

}  // namespace slim::cpu
