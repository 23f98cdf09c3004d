// Q4_0, IQ4_NL, Q4_1, Q5_0 and Q8_0 weights repacked at load time into groups of rows,
// so that one SIMD register holds the same 4 elements of several rows and
// their sums come out of vertical integer adds, with no horizontal sum per
// block and row. Everything that knows the layouts is here (repack.cpp) and
// in the kernels (avx2/, avx512/, amx/ repack_*.cpp).
//
// Why: llama.cpp's x86 build repacks Q4_0 and IQ4_NL too and sums each
// output as one float chain over the blocks, acc = fma(float(block sum),
// d_w * d_a, acc) (DEVELOPERS.md, "Exactness against llama.cpp"). On ggml's
// row layout that order needs one horizontal integer sum per block per row,
// which made Q4_0 decode and prefill compute-bound at about half of
// llama.cpp's speed. Integer block sums are exact in any order, and the chain
// per output is kept, so the repacked kernels give vec_dot's results bit for
// bit. Q4_1, Q5_0 and Q8_0 keep vec_dot's order (8 float lanes per row,
// lane l summing elements 4l..4l+3 of each block): their lane-major layout
// puts lane l of 16 rows in one register, so decode reads one aligned stream
// and does a fraction of the row layout's instructions (Qwen2.5-1.5B-shaped
// Q8_0 decoded at 64% of the memory bandwidth from 4 row streams).
//
// Layout of a repacked Q4_0/IQ4_NL matrix (n_cols a multiple of 32, n_rows of
// 8): group g holds rows 8g..8g+7 and starts repacked_group_bytes(type,
// n_cols) * g bytes in (a multiple of 64, so 64-byte alignment carries from
// group to group). In a group, for each of the nb = n_cols / 32 blocks in
// order, 128 quant bytes: byte 32c + 4r + k is byte 4c + k of row r's qs (c
// < 4, r < 8, k < 4), so its low nibble is element 4c + k and its high
// nibble element 16 + 4c + k of the block; then, after all nb of them, the 8
// rows' f16 scales of each block, 16 bytes per block; then padding.
//
// Lane-major (Q4_1, Q5_0, Q8_0; n_rows a multiple of 16): groups of 16 rows;
// per block, the quants as unsigned bytes (VNNI multiplies unsigned by
// signed bytes), byte 64c + 4r + k of a 64-byte register c holding quant
// 4c + k of row r:
//   Q8_0: 8 registers, the quant plus 128;
//   Q4_1, Q5_0: 4 registers of packed bytes, ggml's qs bytes 4c..4c+3 of
//     each row (low nibbles: lane c, high nibbles: lane 4 + c); Q5_0 then
//     8 64-bit masks, mask 2c (2c + 1) holding the fifth bits of register
//     c's low (high) nibbles, bit 4r + k; its quants are q + 16 unsigned;
// then, after all blocks, per block the 16 rows' f16 d (and for Q4_1 the 16
// f16 m after them); then padding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "backend/cpu/cpu_features.h"
#include "format/ggml_type.h"

namespace slim::cpu {

// Rows per group: kRepackRows for Q4_0 and IQ4_NL, kLaneRepackRows for the
// lane-major types.
constexpr int kRepackRows = 8, kLaneRepackRows = 16;
int repack_rows(GgmlType type);

// Whether a weight of this type and shape has a repacked layout (the kernels
// exist for it on some ISA). Other weights stay in ggml's rows.
bool repack_supported(GgmlType type, int64_t n_cols, int64_t n_rows);

size_t repacked_group_bytes(GgmlType type, int64_t n_cols);
inline size_t repacked_bytes(GgmlType type, int64_t n_cols, int64_t n_rows) {
    return repacked_group_bytes(type, n_cols) * size_t(n_rows / repack_rows(type));
}

// Repacks groups [g_begin, g_end) of a matrix in ggml's rows (src) into dst,
// which holds the whole repacked matrix (so threads can share the work).
void repack_groups(GgmlType type, const void* src, int64_t n_cols, int64_t g_begin, int64_t g_end,
                   void* dst);

// Row r of a repacked matrix back in ggml's blocks: for embedding lookups on
// a repacked tied embedding.
void unpack_row(GgmlType type, const void* repacked, int64_t n_cols, int64_t r, void* dst);

// An activation block for the repacked kernels: the Q8_0 block the
// activation quantizer gives (same quants, same f16 scale, as a float) and
// the sum of its quants, which Q4_0's kernel needs once per block to take its
// weights' offset of 8 off (the quants are multiplied as 0..15).
struct BlockQ8_0R {
    float d;
    int32_t sum;
    int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0R) == 40);

// An activation block for the lane-major kernels: the Q8_0 (Q8_1 for Q4_1)
// block's quants, scale and s as floats, and where each of vec_dot's 8
// lanes starts: minus the weights' offset (128 for Q8_0, 16 for Q5_0, 0 for
// Q4_1) times the sum of the lane's 4 quants.
struct BlockQ8L {
    float d, s;
    int32_t start[8];
    int8_t qs[32];
};
static_assert(sizeof(BlockQ8L) == 72);

// The lane-major activation blocks of n floats, from the blocks `quantize`
// (a MatmulKernel's quantize_act for the type) gives: the same bytes.
void quantize_act_lanes(GgmlType type, void (*quantize)(const float*, void*, int64_t),
                        const float* x, void* y, int64_t n);

// y[j * y_stride + R * g + r] = dot(row R * g + r, activation row j) (R the
// type's rows per group) for the n_groups groups that start at w
// (group_bytes apart) and the n_act activation rows at a (a_stride bytes
// apart), n elements each.
using RepackedGemmFn = void (*)(int64_t n, const void* w, size_t group_bytes, int64_t n_groups,
                                const void* a, size_t a_stride, int64_t n_act, float* y,
                                size_t y_stride);

struct RepackedKernel {
    GgmlType weight;
    // n floats (a multiple of 32) to n / 32 activation blocks of
    // act_block_bytes: BlockQ8_0R for Q4_0 and IQ4_NL, BlockQ8L for the others.
    void (*quantize_act)(const float* x, void* y, int64_t n);
    RepackedGemmFn gemm;
    size_t act_block_bytes = sizeof(BlockQ8_0R);
};

// The loop of every ISA's RepackedGemmFn: group by group, so a group's
// quants (n / 32 * 144 bytes) stay in L1 while the activation rows pass by
// 4 at a time. dot(std::integral_constant<int, NA>, group, act, y, stream)
// computes one group's 8 outputs for NA activation rows starting at act, into
// y; stream is true for the first rows only, the pass that reads the group
// from memory (and so prefetches it).
template <class GroupDot>
void for_each_group(const void* w, size_t group_bytes, int64_t n_groups, const void* a,
                    size_t a_stride, int64_t n_act, float* y, size_t y_stride, GroupDot&& dot) {
    const char* act = static_cast<const char*>(a);
    for (int64_t g = 0; g < n_groups; ++g) {
        const uint8_t* group = static_cast<const uint8_t*>(w) + group_bytes * size_t(g);
        float* yg = y + kRepackRows * g;
        int64_t j = 0;
        for (; j + 4 <= n_act; j += 4)
            dot(std::integral_constant<int, 4>{}, group, act + a_stride * size_t(j),
                yg + y_stride * size_t(j), j == 0);
        const char* aj = act + a_stride * size_t(j);
        float* yj = yg + y_stride * size_t(j);
        switch (n_act - j) {
            case 3:
                dot(std::integral_constant<int, 3>{}, group, aj, yj, j == 0);
                break;
            case 2:
                dot(std::integral_constant<int, 2>{}, group, aj, yj, j == 0);
                break;
            case 1:
                dot(std::integral_constant<int, 1>{}, group, aj, yj, j == 0);
                break;
            default:
                break;
        }
    }
}

// The kernel for repacked weights of a type at the active ISA, or nullptr:
// then the backend keeps the weight in ggml's rows. The scalar level has
// none, so SLIM_ISA=scalar runs on ggml's rows.
const RepackedKernel* repacked_kernel(GgmlType type);
// One ISA's own kernel, for tests; Isa::scalar gives the reference below.
const RepackedKernel* isa_repacked_kernel(Isa isa, GgmlType type);

std::span<const RepackedKernel> avx2_repacked_table();
std::span<const RepackedKernel> avx512_repacked_table();
// AMX-INT8 for 16 or more activation rows; it hands the rest to AVX-512's.
std::span<const RepackedKernel> amx_repacked_table();

}  // namespace slim::cpu
