// AMX-INT8 kernels for Q4_0 and IQ4_NL weights in the repacked layout of
// repack.h, for prefill: one tdpbssd multiplies 16 activation rows by 16
// weight rows over one 32-element block, 8192 products in one instruction.
//
// The order is the AVX-512 and scalar kernels', bit for bit: per output one
// float chain over the blocks, acc = fma(float(block sum), d_w * d_a, acc),
// where the block sum is an exact integer whichever unit adds it. So each
// tdpbssd covers exactly one block (K = 32 bytes): a wider K would add two
// blocks' sums before their scales apply. The C tile goes to memory after
// every block and AVX-512 does the float step, 16 weight rows to a register.
//
// Tiles (C = A x B, A: M x K bytes, B: K/4 rows of N x 4 bytes):
//   A = 16 activation rows x 32 bytes, read in place from the quantized
//       activations (tileloadd takes the rows' stride);
//   B = 8 rows x 64 bytes: the repacked layout already holds 4 consecutive
//       quants of each of 8 weight rows side by side, which is AMX's B layout
//       for 8 columns; two groups side by side give 16. The nibbles are
//       unpacked to signed bytes (Q4_0: q - 8, IQ4_NL: the table value) once
//       per pair of groups into a scratch the activation tiles then share;
//   C = 16 x 16 s32: row m holds activation row m's sums with 16 weight rows.
// Signed weights need no offset correction, unlike the VNNI kernels' u8 x s8.
//
// What AMX does not cover goes to the AVX-512 kernel: decode (under 16
// activation rows), the last n_act % 16 rows and an odd last group.
//
// This file alone is compiled with the AMX flags (CMakeLists.txt), and its
// code runs only when cpu_features() reports AMX usable (permission granted
// by the kernel and a probe run).
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "backend/cpu/amx/amx_config.h"
#include "backend/cpu/repack.h"
#include "backend/cpu/x86_simd.h"

namespace slim::cpu {

namespace {

constexpr int kTileRows = 16;    // activation rows per A tile and C tile
constexpr int kTileCols = 16;    // weight rows per B tile: two groups
constexpr int kBBytes = 8 * 64;  // one unpacked block of B

// The 16 signed values a nibble stands for.
struct Q4_0Amx {
    static constexpr GgmlType kType = GgmlType::q4_0;
    static __m128i values() {
        return _mm_sub_epi8(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                            _mm_set1_epi8(8));
    }
};

struct IQ4_NLAmx {
    static constexpr GgmlType kType = GgmlType::iq4_nl;
    static __m128i values() { return iq4nl_values(); }
};

// tmm0, tmm1: C of even and odd blocks; tmm2, tmm3: A; tmm4, tmm5: B.
const TileConfig kConfig = TileConfig{}
                               .tile(0, kTileRows, kTileCols * 4)
                               .tile(1, kTileRows, kTileCols * 4)
                               .tile(2, kTileRows, 32)
                               .tile(3, kTileRows, 32)
                               .tile(4, 8, 64)
                               .tile(5, 8, 64);

// Block i of groups g and g + 1 (repack.h) as B: row c < 4 holds the low
// nibbles of chunk c of both groups, row 4 + c the high ones, as values.
inline void unpack_b(const uint8_t* g0, const uint8_t* g1, __m512i values, int8_t* b) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int half = 0; half < 2; ++half) {
        const __m512i x = _mm512_loadu_si512(g0 + 64 * half);  // chunks 2h, 2h + 1
        const __m512i y = _mm512_loadu_si512(g1 + 64 * half);
        const __m512i chunk[2] = {_mm512_shuffle_i64x2(x, y, 0x44),
                                  _mm512_shuffle_i64x2(x, y, 0xEE)};
        for (int k = 0; k < 2; ++k) {
            const int c = 2 * half + k;
            _mm512_storeu_si512(b + 64 * c,
                                _mm512_shuffle_epi8(values, _mm512_and_si512(chunk[k], m4)));
            _mm512_storeu_si512(
                b + 64 * (4 + c),
                _mm512_shuffle_epi8(values, _mm512_and_si512(_mm512_srli_epi16(chunk[k], 4), m4)));
        }
    }
}

// The float step of one block: acc[m] = fma(float(C row m), d_w * d_a(m), acc[m]).
inline void scale_block(const int32_t* c, __m512 wd, const BlockQ8_0R* a, size_t a_stride,
                        __m512* acc) {
    const char* row = reinterpret_cast<const char*>(a);
    for (int m = 0; m < kTileRows; ++m) {
        const float d = reinterpret_cast<const BlockQ8_0R*>(row + a_stride * size_t(m))->d;
        const __m512 sums = _mm512_cvtepi32_ps(_mm512_load_si512(c + kTileCols * m));
        acc[m] = _mm512_fmadd_ps(sums, _mm512_mul_ps(wd, _mm512_set1_ps(d)), acc[m]);
    }
}

// The 16 weight rows' f16 scales of block i as floats.
inline __m512 block_scales(const uint8_t* scales0, const uint8_t* scales1, int64_t i) {
    const __m256i h = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales0 + 16 * i))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales1 + 16 * i)), 1);
    return _mm512_cvtph_ps(h);
}

// 16 activation rows (from a, a_stride apart) x the 16 weight rows whose B
// tiles are in b, nb blocks: the outputs go to y (row m at y + y_stride * m).
void tile_rows(int64_t nb, const int8_t* b, const uint8_t* scales0, const uint8_t* scales1,
               const char* a, size_t a_stride, float* y, size_t y_stride) {
    alignas(64) int32_t c[2][kTileRows * kTileCols];
    __m512 acc[kTileRows];
    for (auto& v : acc) v = _mm512_setzero_ps();
    const auto* act = reinterpret_cast<const BlockQ8_0R*>(a);
    const auto scale = [&](int tile_c, int64_t i) {
        scale_block(c[tile_c], block_scales(scales0, scales1, i), act + i, a_stride, acc);
    };
    // Block i's tile product into C tile 0 (A tile 2, B tile 4). A pair's
    // odd block uses tiles 1, 3 and 5, written out below: GCC's tile
    // intrinsics are macros that paste the register number into the
    // instruction, so it cannot be a parameter.
    const auto product = [&](int64_t i) {
        _tile_zero(0);
        _tile_loadd(2, act[i].qs, a_stride);
        _tile_loadd(4, b + kBBytes * i, 64);
        _tile_dpbssd(0, 2, 4);
    };
    int64_t i = 0;
    // Two blocks per step in separate tiles, so one block's tile product
    // runs while the other's floats are scaled.
    for (; i + 2 <= nb; i += 2) {
        product(i);
        _tile_zero(1);
        _tile_loadd(3, act[i + 1].qs, a_stride);
        _tile_loadd(5, b + kBBytes * (i + 1), 64);
        _tile_dpbssd(1, 3, 5);
        _tile_stored(0, c[0], kTileCols * 4);
        scale(0, i);
        _tile_stored(1, c[1], kTileCols * 4);
        scale(1, i + 1);
    }
    if (i < nb) {
        product(i);
        _tile_stored(0, c[0], kTileCols * 4);
        scale(0, i);
    }
    for (int m = 0; m < kTileRows; ++m) _mm512_storeu_ps(y + y_stride * size_t(m), acc[m]);
}

template <class T>
void gemm(int64_t n, const void* w, size_t group_bytes, int64_t n_groups, const void* a,
          size_t a_stride, int64_t n_act, float* y, size_t y_stride) {
    const RepackedKernel* fallback = isa_repacked_kernel(Isa::avx512, T::kType);
    const int64_t n_tiled = n_act / kTileRows * kTileRows;
    const int64_t pairs = n_tiled > 0 ? n_groups / 2 : 0;
    if (pairs > 0) {
        const int64_t nb = n / 32;
        thread_local std::vector<int8_t> scratch;
        scratch.resize(size_t(nb) * kBBytes + 64);
        int8_t* b =
            reinterpret_cast<int8_t*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
        const __m512i values = _mm512_broadcast_i32x4(T::values());
        const char* act = static_cast<const char*>(a);
        use_tile_config(kConfig);
        for (int64_t p = 0; p < pairs; ++p) {
            const uint8_t* g0 = static_cast<const uint8_t*>(w) + group_bytes * size_t(2 * p);
            const uint8_t* g1 = g0 + group_bytes;
            for (int64_t i = 0; i < nb; ++i)
                unpack_b(g0 + 128 * i, g1 + 128 * i, values, b + kBBytes * i);
            const uint8_t* scales0 = g0 + size_t(nb) * 128;
            const uint8_t* scales1 = g1 + size_t(nb) * 128;
            for (int64_t r = 0; r < n_tiled; r += kTileRows) {
                tile_rows(nb, b, scales0, scales1, act + a_stride * size_t(r), a_stride,
                          y + y_stride * size_t(r) + kTileCols * p, y_stride);
            }
        }
    }
    // The rest: the odd last group for the tiled rows, every group for the others.
    const int64_t done_groups = 2 * pairs;
    if (n_tiled > 0 && done_groups < n_groups)
        fallback->gemm(n, static_cast<const uint8_t*>(w) + group_bytes * size_t(done_groups),
                       group_bytes, n_groups - done_groups, a, a_stride, n_tiled,
                       y + kRepackRows * done_groups, y_stride);
    if (n_tiled < n_act)
        fallback->gemm(n, w, group_bytes, n_groups,
                       static_cast<const char*>(a) + a_stride * size_t(n_tiled), a_stride,
                       n_act - n_tiled, y + y_stride * size_t(n_tiled), y_stride);
}

constexpr RepackedKernel kAmxRepacked[] = {
    {GgmlType::q4_0, quantize_row_q8_0r, gemm<Q4_0Amx>},
    {GgmlType::iq4_nl, quantize_row_q8_0r, gemm<IQ4_NLAmx>},
};

}  // namespace

std::span<const RepackedKernel> amx_repacked_table() {
    return kAmxRepacked;
}

}  // namespace slim::cpu
