// The CPU's matrix x vector building block: a dot product of one weight row
// with one activation row, where the activation row was first converted to
// the weight type's partner type (as ggml does: Q8_0 for Q4_0/Q5_0/Q8_0/
// IQ4_NL, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants and IQ4_XS, F16/BF16/F32
// for the float types). Integer products are summed exactly per sub-block and
// scaled once, so the only rounding is in the activation quantization and the
// float accumulation across blocks.
//
// One table per ISA (scalar/, avx2/, ...), chosen once at start-up; the
// scalar table is the reference every other table is tested against.
#pragma once

#include <cstdint>
#include <span>

#include "backend/cpu/cpu_features.h"
#include "format/ggml_type.h"

namespace slim::cpu {

// Which kernel of llama.cpp's x86 build (the one the reference section of
// DEVELOPERS.md builds) multiplies a weight type by n activation rows, as far
// as it changes the float summation order:
enum class BatchOrder : uint8_t {
    none,  // every row in vec_dot's order
    // The tiled K-quant kernel (ggml-cpu/tiled/, Q5_K and Q6_K): all rows once
    // there are 8 or more (ggml_tiled_min_batch); its narrow (<= 16 rows) and
    // standard loops sum each output in the same order.
    tiled,
    // The repacked gemm (ggml-cpu/repack.cpp, Q4_K): the rows in whole groups
    // of 4 (quantize_mat, gemm); the last n % 4 rows go through its gemv, whose
    // order is vec_dot's.
    repacked,
};

// How many leading rows of an n-row product take vec_dot_batch's order; the
// rest take vec_dot's. Neither depends on the thread count, in llama.cpp or here.
constexpr int64_t batch_order_rows(BatchOrder order, int64_t n) {
    switch (order) {
        case BatchOrder::none:
            return 0;
        case BatchOrder::tiled:
            return n >= 8 ? n : 0;
        case BatchOrder::repacked:
            return n - n % 4;
    }
    return 0;
}

// Dot product of n elements: one weight row with one converted activation row.
using VecDotFn = float (*)(int64_t n, const void* w, const void* a);

struct MatmulKernel {
    GgmlType act_type;  // the type activations are converted to
    // Converts n floats (a multiple of act_type's block size) into act_type blocks.
    void (*quantize_act)(const float* x, void* y, int64_t n);
    VecDotFn vec_dot;
    // The same dot product summed in the order llama.cpp's x86 build uses
    // when it multiplies the weights by several activation rows at once, for
    // the rows batch_order_rows() gives; null where that order is vec_dot's.
    VecDotFn vec_dot_batch = nullptr;
    BatchOrder batch_order = BatchOrder::none;
};

struct MatmulKernelEntry {
    GgmlType weight;
    MatmulKernel kernel;
};

// Several dot products at once for prefill-sized matmuls: out[i * 3 + j] =
// dot(weight row i, activation row j) for 4 weight rows (w_stride bytes
// apart) and 3 converted activation rows (a_stride bytes apart; or
// MatmulTileEntry::act_rows of them), n elements
// each. Each loaded vector feeds several products instead of one, which is
// what lets a batch of tokens run at the multipliers' speed rather than the
// loads'. Same contract as vec_dot otherwise; for the quant types each sum
// equals the vec_dot's (or vec_dot_batch's, see matmul_tiles) bit for bit.
using MatmulTileFn = void (*)(int64_t n, const void* w, size_t w_stride, const void* a,
                              size_t a_stride, float* out);
constexpr int kTileWeightRows = 4, kTileActRows = 3, kMaxTileRows = 16;

// A tile's own layout of act_rows activation rows, where it has one: the
// rows (a_stride bytes apart, n elements of act_type blocks) rewritten as one
// group of prepared_bytes(n) bytes. The backend prepares each group of rows
// once per matmul and passes it to the tile as `a` (a_stride 0), so what a
// tile needs of an activation block beyond its quants (the f16 scale as a
// float, the lane sums its weights' offset takes off) is not redone for
// every 4 weight rows.
using PrepareActFn = void (*)(int64_t n, const void* a, size_t a_stride, void* group);

struct MatmulTileEntry {
    GgmlType weight;
    MatmulTileFn tile;
    // Activation rows per tile (at most kMaxTileRows): out[i * act_rows + j]
    // for weight row i and activation row j. Wider tiles unpack each weight
    // block for more tokens, where unpacking costs as much as the products.
    int act_rows = kTileActRows;
    PrepareActFn prepare_act = nullptr;  // null: the tile reads act_type rows
    size_t (*prepared_bytes)(int64_t n) = nullptr;
    // Weight rows per tile (at most kMaxTileRows): 4 but for AMX's tiles.
    int weight_rows = kTileWeightRows;
};

// Float kernels for the models slim checks against PyTorch rather than
// llama.cpp (the encoders): no summation order is kept, so they may block,
// vectorise and reassociate freely.
//
// The GEMM, for F32, F16 and Q8_0 weights: for rows r < n and outputs o in
// [o_begin, o_end),
//   y[r * y_stride + o] = bias[o] (0 without bias) + sum_k x[r * x_stride + k] W[o][k].
struct FloatGemmProblem {
    GgmlType w_type;  // f32, f16 or q8_0 (then k is a multiple of 32)
    const void* w;    // n_out rows of k elements, w_row_bytes apart
    size_t w_row_bytes;
    int64_t k, n_out;
    const float* x;
    size_t x_stride;  // in floats
    int64_t n;
    const float* bias;  // n_out floats, or null
    float* y;
    size_t y_stride;
};

struct FloatGemm {
    // Outputs per packed weight panel: o_begin must be a multiple of it.
    int panel_cols;
    // panel: scratch for k * panel_cols floats, 64-byte aligned, one per thread.
    void (*run)(const FloatGemmProblem& p, int64_t o_begin, int64_t o_end, float* panel);
};

struct FloatKernels {
    FloatGemm gemm;
    // x = x Phi(x) in place, Phi the normal CDF (BERT's exact GELU), to a
    // few ulp of 0.5 x (1 + erf(x / sqrt 2)).
    void (*gelu_erf)(float* x, int64_t n);
    // x = (x - mean) / sqrt(var + eps) * w + b, the biased variance (as
    // PyTorch's LayerNorm); w and b may be null.
    void (*layer_norm)(float* x, int64_t n, const float* w, const float* b, float eps);
};

// Attention's products with the F16 KV cache, summed in llama.cpp's order
// (ggml_math.h says why and which order). `lanes` is 16 (llamafile's GEMM,
// two or more query tokens) or 64 (ggml_vec_dot_f16, one token). Every
// ISA's functions give the scalar ones' results bit for bit.
struct AttentionKernel {
    // q . k over n elements: element i goes to lane i % lanes, the lanes are
    // reduced pairwise; for 64 lanes the elements past the last full 64 are
    // added after, in double. q holds F16-representable floats.
    double (*dot_f16)(const float* q, const uint16_t* k, int n, int lanes);
    // dot_f16 of q with four keys at once (independent chains keep the FMA
    // units busy: one dot alone waits on its own latency).
    void (*dot_f16_x4)(const float* q, const uint16_t* const* k, int n, int lanes, double* out);
    // p . V for one query: out[i] = the pairwise reduction over the lanes of
    // the fused multiply-add chains sum_s p[s] * v_s[i], slot s (row s of v,
    // v_stride elements apart) going to lane (lane0 + s) % lanes, slots in
    // order. Slots whose p is 0 add exactly nothing and are skipped.
    void (*weighted_sum_f16)(const float* p, const uint16_t* v, size_t v_stride, int64_t n_slots,
                             int64_t lane0, int lanes, int n, float* out);
    // x[i] = x[i] * s rounded to F16 (and back to float), for n elements.
    void (*scale_to_f16)(float* x, int64_t n, float s);
    // x[i] = ggml's exp(x[i] - max) in place for n elements (a multiple of
    // 16); returns the 16-element chunks' pairwise sums added in double.
    double (*softmax_exp)(float* x, int64_t n, float max);
    // g[i] = silu(g[i]) * u[i] for n elements (a multiple of 16) with the
    // same exp: ggml's SwiGLU on its full 16-element chunks (ggml_math.h
    // silu16). Here because it is the softmax's exp; the FFN uses it.
    void (*silu_mul16)(float* g, const float* u, int64_t n);
    // g[i] = gelu(g[i]) * u[i] for n elements (u null: gelu alone), GELU as
    // ggml's CPU backend computes it: 0 at or below -10, g at or above 10,
    // else table[the F16 bits of g rounded to nearest even] (the backend's
    // table of F16 results). The FFN's GeGLU, beside SwiGLU.
    void (*gelu_mul)(float* g, const float* u, int64_t n, const float* table);
};

// Each ISA's table, defined in that ISA's translation unit (compiled with
// its own flags) and searched here, in code compiled for any x86-64. Read
// the AVX2 table only when isa_supported(Isa::avx2, ...).
std::span<const MatmulKernelEntry> scalar_kernel_table();
std::span<const MatmulKernelEntry> avx2_kernel_table();
// Tile kernels: AVX2 for the float types, the 32-element quant types and
// (avx2/tiles_k_avx2.cpp) the batched K-quants; AVX-512 VNNI for the quant types.
std::span<const MatmulTileEntry> avx2_tile_table();
std::span<const MatmulTileEntry> avx2_k_tile_table();
std::span<const MatmulTileEntry> avx512_tile_table();
std::span<const MatmulTileEntry> amx_tile_table();
// Tiles of one activation row (decode), in vec_dot's order.
std::span<const MatmulTileEntry> avx512_gemv_table();

const FloatKernels& avx2_float_kernels();
const FloatKernels& avx512_float_kernels();

const AttentionKernel& scalar_attention_kernel();
const AttentionKernel& avx2_attention_kernel();

// The scalar reference kernel for a weight type, or nullptr when there is none.
const MatmulKernel* scalar_matmul_kernel(GgmlType weight_type);

// One ISA's own table, without fallback: nullptr for a type it lacks (for
// tests, which compare each table with the scalar one).
const MatmulKernel* isa_matmul_kernel(Isa isa, GgmlType weight_type);

// The kernel the CPU backend uses: the active_isa() table's entry, falling
// back one level at a time (avx512 -> avx2 -> scalar) for a type a table
// lacks, as ggml's arch-fallback.h does. nullptr only when scalar lacks it.
const MatmulKernel* matmul_kernel(GgmlType weight_type);

// The tile kernels for a weight type at the active ISA (with the same
// fallback), or nullptr: matmul then uses vec_dot alone. A tile's sums equal
// matmul_kernel()'s bit for bit for the quant types, whichever ISA each comes
// from (tests hold them to it): vec_dot_batch's where the kernel has one (the
// tile then serves only the rows that take that order), else vec_dot's.
// isa_matmul_tiles is one ISA's own, for tests.
const MatmulTileEntry* matmul_tiles(GgmlType weight_type);
const MatmulTileEntry* isa_matmul_tiles(Isa isa, GgmlType weight_type);
// For the rows left after matmul_tiles()'s whole tiles where those are
// AMX's (16 activation rows): the AVX-512 (or AVX2) tile, or nullptr. Its
// sums are the same bit for bit.
const MatmulTileEntry* matmul_narrow_tiles(GgmlType weight_type);
// The same for fewer activation rows than the tile takes: tiles of one
// activation row for the types whose rows all take vec_dot's order, or
// nullptr (then vec_dot runs).
const MatmulTileEntry* matmul_gemv(GgmlType weight_type);
const MatmulTileEntry* isa_matmul_gemv(Isa isa, GgmlType weight_type);

// The float kernels of the active ISA (or the best one below it), and one
// ISA's own; nullptr where there are none (scalar: the backend then uses
// matmul and its own scalar loops, the reference the tests hold these to).
const FloatKernels* float_kernels();
const FloatKernels* isa_float_kernels(Isa isa);

// The attention kernel of the active ISA (or the best one below it), and one
// ISA's own, nullptr where it has none (for tests).
const AttentionKernel& attention_kernel();
const AttentionKernel* isa_attention_kernel(Isa isa);

}  // namespace slim::cpu
