// The repacked layout (repack.h) and its scalar reference kernels, which the
// tests hold the ISA kernels to. Compiled for any x86-64.
#include "backend/cpu/repack.h"

#include <algorithm>

#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/kernels.h"
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

// The lane-major layouts (repack.h): quant and scale bytes per block of a
// 16-row group.
size_t lane_quant_bytes(GgmlType type) {
    return type == GgmlType::q8_0 ? 512 : type == GgmlType::q5_0 ? 256 + 64 : 256;
}

size_t lane_scale_bytes(GgmlType type) {
    return type == GgmlType::q4_1 ? 64 : 32;
}

bool lane_major(GgmlType type) {
    return type == GgmlType::q4_1 || type == GgmlType::q5_0 || type == GgmlType::q8_0;
}

// Quant e (0..31) of a ggml block of a lane-major type, as vec_dot
// multiplies it (Q5_0 and Q8_0 signed, Q4_1 0..15).
int lane_quant(GgmlType type, const uint8_t* block, int e) {
    if (type == GgmlType::q8_0) return reinterpret_cast<const BlockQ8_0*>(block)->qs[e];
    const uint8_t* qs = type == GgmlType::q4_1 ? reinterpret_cast<const BlockQ4_1*>(block)->qs
                                               : reinterpret_cast<const BlockQ5_0*>(block)->qs;
    const int nibble = e < 16 ? qs[e] & 0x0F : qs[e - 16] >> 4;
    if (type == GgmlType::q4_1) return nibble;
    uint32_t qh;
    std::memcpy(&qh, reinterpret_cast<const BlockQ5_0*>(block)->qh, 4);
    return (nibble | int((qh >> e) & 1) << 4) - 16;
}

template <GgmlType kType>
void quantize_lanes_ref(const float* x, void* y, int64_t n) {
    quantize_act_lanes(kType, scalar_matmul_kernel(kType)->quantize_act, x, y, n);
}

// Each output as the AVX2 vec_dot sums it: 8 float lanes, lane l a chain
// over the blocks of fma(d_w * d_a, float(the block's quants 4l..4l+3 dot),
// lane), the lanes added as hsum_ps adds them, plus (Q4_1) the chain of
// fma(m, s, mins).
template <GgmlType kType>
void gemm_lanes_ref(int64_t n, const void* w, size_t group_bytes, int64_t n_groups, const void* va,
                    size_t a_stride, int64_t n_act, float* y, size_t y_stride) {
    const size_t block_bytes = tensor_row_bytes(kType, 32);
    std::vector<uint8_t> row(tensor_row_bytes(kType, n));
    for (int64_t g = 0; g < n_groups; ++g) {
        for (int r = 0; r < kLaneRepackRows; ++r) {
            unpack_row(kType, static_cast<const uint8_t*>(w) + group_bytes * size_t(g), n, r,
                       row.data());
            for (int64_t j = 0; j < n_act; ++j) {
                const auto* a = reinterpret_cast<const BlockQ8L*>(static_cast<const char*>(va) +
                                                                  a_stride * size_t(j));
                float lanes[8] = {}, mins = 0;
                for (int64_t i = 0; i < n / 32; ++i) {
                    const uint8_t* block = row.data() + block_bytes * size_t(i);
                    uint16_t dw, mw;
                    std::memcpy(&dw, block, 2);
                    std::memcpy(&mw, block + 2, 2);
                    const float d = fp16_to_fp32(dw) * a[i].d;
                    for (int l = 0; l < 8; ++l) {
                        int32_t sum = 0;
                        for (int k = 0; k < 4; ++k)
                            sum += lane_quant(kType, block, 4 * l + k) * a[i].qs[4 * l + k];
                        lanes[l] = std::fma(d, float(sum), lanes[l]);
                    }
                    if (kType == GgmlType::q4_1) mins = std::fma(fp16_to_fp32(mw), a[i].s, mins);
                }
                float h[4];
                for (int l = 0; l < 4; ++l) h[l] = lanes[l] + lanes[l + 4];
                const float sum = (h[0] + h[2]) + (h[1] + h[3]);
                y[size_t(j) * y_stride + size_t(g) * kLaneRepackRows + size_t(r)] =
                    kType == GgmlType::q4_1 ? sum + mins : sum;
            }
        }
    }
}

constexpr RepackedKernel kReference[] = {
    {GgmlType::q4_0, quantize_act_ref, gemm_ref<GgmlType::q4_0>},
    {GgmlType::iq4_nl, quantize_act_ref, gemm_ref<GgmlType::iq4_nl>},
    {GgmlType::q4_1, quantize_lanes_ref<GgmlType::q4_1>, gemm_lanes_ref<GgmlType::q4_1>,
     sizeof(BlockQ8L)},
    {GgmlType::q5_0, quantize_lanes_ref<GgmlType::q5_0>, gemm_lanes_ref<GgmlType::q5_0>,
     sizeof(BlockQ8L)},
    {GgmlType::q8_0, quantize_lanes_ref<GgmlType::q8_0>, gemm_lanes_ref<GgmlType::q8_0>,
     sizeof(BlockQ8L)},
};

}  // namespace

int repack_rows(GgmlType type) {
    return lane_major(type) ? kLaneRepackRows : kRepackRows;
}

bool repack_supported(GgmlType type, int64_t n_cols, int64_t n_rows) {
    return (type == GgmlType::q4_0 || type == GgmlType::iq4_nl || lane_major(type)) && n_cols > 0 &&
           n_rows > 0 && n_cols % 32 == 0 && n_rows % repack_rows(type) == 0;
}

void quantize_act_lanes(GgmlType type, void (*quantize)(const float*, void*, int64_t),
                        const float* x, void* vy, int64_t n) {
    auto* y = static_cast<BlockQ8L*>(vy);
    const int offset = type == GgmlType::q8_0 ? 128 : type == GgmlType::q5_0 ? 16 : 0;
    for (int64_t i = 0; i < n / 32; ++i) {
        if (type == GgmlType::q4_1) {
            BlockQ8_1 b;
            quantize(x + 32 * i, &b, 32);
            y[i].d = fp16_to_fp32(b.d);
            y[i].s = fp16_to_fp32(b.s);
            std::memcpy(y[i].qs, b.qs, 32);
        } else {
            BlockQ8_0 b;
            quantize(x + 32 * i, &b, 32);
            y[i].d = fp16_to_fp32(b.d);
            y[i].s = 0;
            std::memcpy(y[i].qs, b.qs, 32);
        }
        const int8_t* qs = y[i].qs;
        for (int l = 0; l < 8; ++l)
            y[i].start[l] = -offset * (qs[4 * l] + qs[4 * l + 1] + qs[4 * l + 2] + qs[4 * l + 3]);
    }
}

namespace {

// Where a lane-major Q5_0 block keeps the fifth bit of quant e (0..31) of
// row r: quant e is in register (e % 16) / 4, in its low nibbles if e < 16;
// mask 2c (2c + 1) holds register c's low (high) nibbles, bit 4r + e % 4.
struct FifthBit {
    size_t byte;  // from the block's quant bytes
    int bit;
};
FifthBit fifth_bit(int e, int r) {
    const int mask = 2 * ((e % 16) / 4) + e / 16, bit = 4 * r + e % 4;
    return {256 + 8 * size_t(mask) + size_t(bit / 8), bit % 8};
}

// Row r (of 16) of a lane-major group, nb ggml blocks of `row`, into group.
void repack_lanes(GgmlType type, const uint8_t* row, int64_t nb, int r, uint8_t* group) {
    const size_t block_bytes = tensor_row_bytes(type, 32), qb = lane_quant_bytes(type);
    uint8_t* scales = group + size_t(nb) * qb;
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* b = row + block_bytes * size_t(i);
        uint8_t* q = group + size_t(i) * qb;
        if (type == GgmlType::q8_0) {
            for (int c = 0; c < 8; ++c) {
                uint32_t quads;  // quant + 128 is the byte with its top bit flipped
                std::memcpy(&quads, reinterpret_cast<const BlockQ8_0*>(b)->qs + 4 * c, 4);
                quads ^= 0x80808080u;
                std::memcpy(q + 64 * c + 4 * r, &quads, 4);
            }
        } else {
            // Packed bytes as ggml has them: byte 4c + k holds quants 4c + k
            // (low nibble) and 16 + 4c + k (high nibble).
            const uint8_t* qs = b + block_bytes - 16;
            for (int c = 0; c < 4; ++c) std::memcpy(q + 64 * c + 4 * r, qs + 4 * c, 4);
            if (type == GgmlType::q5_0) {
                uint32_t qh;
                std::memcpy(&qh, reinterpret_cast<const BlockQ5_0*>(b)->qh, 4);
                for (int e = 0; e < 32; ++e) {
                    const FifthBit f = fifth_bit(e, r);
                    if ((qh >> e) & 1) q[f.byte] |= uint8_t(1 << f.bit);
                }
            }
        }
        std::memcpy(scales + lane_scale_bytes(type) * size_t(i) + 2 * size_t(r), b, 2);
        if (type == GgmlType::q4_1)
            std::memcpy(scales + lane_scale_bytes(type) * size_t(i) + 32 + 2 * size_t(r), b + 2, 2);
    }
}

void unpack_lanes(GgmlType type, const uint8_t* group, int64_t nb, int r, uint8_t* row) {
    const size_t block_bytes = tensor_row_bytes(type, 32), qb = lane_quant_bytes(type);
    const uint8_t* scales = group + size_t(nb) * qb;
    for (int64_t i = 0; i < nb; ++i) {
        uint8_t* b = row + block_bytes * size_t(i);
        const uint8_t* q = group + size_t(i) * qb;
        std::memcpy(b, scales + lane_scale_bytes(type) * size_t(i) + 2 * size_t(r), 2);
        if (type == GgmlType::q8_0) {
            for (int e = 0; e < 32; ++e)
                reinterpret_cast<BlockQ8_0*>(b)->qs[e] =
                    int8_t(q[64 * (e / 4) + 4 * r + e % 4] - 128);
            continue;
        }
        if (type == GgmlType::q4_1)
            std::memcpy(b + 2, scales + lane_scale_bytes(type) * size_t(i) + 32 + 2 * size_t(r), 2);
        uint8_t* qs = b + block_bytes - 16;
        for (int c = 0; c < 4; ++c) std::memcpy(qs + 4 * c, q + 64 * c + 4 * r, 4);
        if (type == GgmlType::q5_0) {
            uint32_t qh = 0;
            for (int e = 0; e < 32; ++e) {
                const FifthBit f = fifth_bit(e, r);
                if ((q[f.byte] >> f.bit) & 1) qh |= 1u << e;
            }
            std::memcpy(reinterpret_cast<BlockQ5_0*>(b)->qh, &qh, 4);
        }
    }
}

}  // namespace

size_t repacked_group_bytes(GgmlType type, int64_t n_cols) {
    const size_t block_bytes = lane_major(type) ? lane_quant_bytes(type) + lane_scale_bytes(type)
                                                : kQuantBytes + kScaleBytes;
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
            if (lane_major(type)) {
                repack_lanes(type, row, nb, r, group);
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
    if (lane_major(type)) {
        unpack_lanes(type, group, n_cols / 32, rr, static_cast<uint8_t*>(dst));
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
    // Not down to scalar: its kernel is the reference, and SLIM_ISA=scalar
    // runs on ggml's rows.
    return at_active_isa_or_below(Isa::avx2,
                                  [&](Isa isa) { return isa_repacked_kernel(isa, type); });
}

}  // namespace slim::cpu
