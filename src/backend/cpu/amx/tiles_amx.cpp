// AMX-INT8 prefill tiles for Q4_K, Q5_K and Q6_K (the last two at the end):
// 16 weight rows x 16 activation rows. Q4_K's is in
// the order of llama.cpp's repacked gemm that avx2/'s gemm_dot_q4_k_q8_k and
// the AVX-512 tile sum in (BatchOrder::repacked), bit for bit.
//
// That order has one float step per 64 elements (two 32-element
// sub-blocks) and output: acc = fma(float(s_lo * dot_lo + s_hi * dot_hi),
// d * a.d, acc), and mins = fma(float(m_lo * bsum_lo + m_hi * bsum_hi),
// dmin * a.d, mins) beside it, out = acc - mins. Each dot is one tdpbusd
// over one sub-block (K = 32): weights as A (16 rows of 32 unsigned nibble
// values, unpacked per call), activations as B (prepared once per matmul:
// 8 rows of 16 tokens x 4 quants). The C tiles go to memory and AVX-512
// finishes in float, one register per weight row holding its 16 tokens:
// dot_lo * s_lo + dot_hi * s_hi is exact in float (|dot| < 2^16, s < 2^6,
// the sum under 2^23), so float(integer sum) costs a multiply and an FMA.
//
// This file alone is compiled with the AMX flags (CMakeLists.txt); its code
// runs only when cpu_features() reports AMX usable.
#include <immintrin.h>

#include <cstring>

#include "backend/cpu/amx/amx_config.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/x86_simd.h"
#include "tensor/blocks.h"

namespace slim::cpu {

namespace {

constexpr int kRows = 16;  // weight rows and activation rows of a tile

// One 256-element block of 16 activation rows, as the tile reads it.
struct PreparedQ4KBlock {
    // Sub-block s as B: b[s][k][4 t + e] = token t's quant 32 s + 4 k + e.
    int8_t b[8][8][64];
    float d[kRows];
    // Chunk c (elements 64c..64c+63), token t: the low and high sub-block's
    // activation sums (bsums 4c + 4c+1, and 4c+2 + 4c+3), as vpmaddwd pairs.
    int16_t bsum_pairs[4][kRows][2];
};

// Fills the prepared blocks (a PreparedQ4KBlock or PreparedQ6KBlock per 256
// elements) of 16 activation rows: the sub-blocks of kSub elements as B
// (b[s][k][4 t + e] = token t's quant kSub s + 4 k + e) and d, and through
// more(block, t, activation block) whatever else the tile reads.
template <int kSub, class Prepared, class More>
void prepare_blocks(int64_t n, const void* va, size_t as, void* group, More&& more) {
    auto* out = static_cast<Prepared*>(group);
    for (int t = 0; t < kRows; ++t) {
        const auto* row =
            reinterpret_cast<const BlockQ8_K*>(static_cast<const char*>(va) + as * size_t(t));
        for (int64_t i = 0; i < n / kQK_K; ++i) {
            Prepared& p = out[i];
            for (int s = 0; s < kQK_K / kSub; ++s)
                for (int k = 0; k < kSub / 4; ++k)
                    std::memcpy(&p.b[s][k][4 * t], row[i].qs + kSub * s + 4 * k, 4);
            p.d[t] = row[i].d;
            more(p, t, row[i]);
        }
    }
}

size_t prepared_q4_k_bytes(int64_t n) {
    return size_t(n / kQK_K) * sizeof(PreparedQ4KBlock);
}

void prepare_q4_k(int64_t n, const void* va, size_t as, void* group) {
    prepare_blocks<32, PreparedQ4KBlock>(n, va, as, group,
                                         [](PreparedQ4KBlock& p, int t, const BlockQ8_K& a) {
                                             for (int c = 0; c < 4; ++c) {
                                                 const int16_t* bs = a.bsums + 4 * c;
                                                 p.bsum_pairs[c][t][0] = int16_t(bs[0] + bs[1]);
                                                 p.bsum_pairs[c][t][1] = int16_t(bs[2] + bs[3]);
                                             }
                                         });
}

// tmm0, tmm1: A (low, high nibbles); tmm2, tmm3: B (the two sub-blocks);
// tmm4, tmm5: C.
const TileConfig kConfig = TileConfig{}
                               .tile(0, kRows, 32)
                               .tile(1, kRows, 32)
                               .tile(2, 8, 64)
                               .tile(3, 8, 64)
                               .tile(4, kRows, 64)
                               .tile(5, kRows, 64);

// Chunk c's two sub-block products for 16 weight rows and 16 tokens: the
// low and high sub-block's quants (a[0], a[1]: 16 rows of 32 unsigned
// bytes) against the prepared activations, into dots[0] and dots[1]
// ([row][token]). kConfig must be loaded.
inline void chunk_dots(const uint8_t (&a)[2][kRows][32], const PreparedQ4KBlock& ab, int c,
                       int32_t (&dots)[2][kRows][kRows]) {
    _tile_loadd(0, a[0], 32);
    _tile_loadd(1, a[1], 32);
    _tile_loadd(2, ab.b[2 * c], 64);
    _tile_loadd(3, ab.b[2 * c + 1], 64);
    _tile_zero(4);
    _tile_zero(5);
    _tile_dpbusd(4, 0, 2);
    _tile_dpbusd(5, 1, 3);
    _tile_stored(4, dots[0], 64);
    _tile_stored(5, dots[1], 64);
}

void tile_q4_k(int64_t n, const void* vw, size_t ws, const void* group, size_t, float* out) {
    const char* w = static_cast<const char*>(vw);
    const auto* act = static_cast<const PreparedQ4KBlock*>(group);
    use_tile_config(kConfig);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    alignas(64) uint8_t a[2][kRows][32];           // this chunk's quants, low and high sub-block
    alignas(64) int32_t dots[4][2][kRows][kRows];  // [chunk][sub-block][row][token]
    __m512 acc[kRows], mins[kRows];
    for (int m = 0; m < kRows; ++m) acc[m] = mins[m] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const PreparedQ4KBlock& ab = act[i];
        const BlockQ4_K* wb[kRows];
        for (int m = 0; m < kRows; ++m)
            wb[m] = reinterpret_cast<const BlockQ4_K*>(w + ws * size_t(m)) + i;
        for (int c = 0; c < 4; ++c) {
            for (int m = 0; m < kRows; m += 2) {
                const __m512i bits =
                    _mm512_inserti64x4(_mm512_castsi256_si512(load32(wb[m]->qs + 32 * c)),
                                       load32(wb[m + 1]->qs + 32 * c), 1);
                _mm512_store_si512(a[0][m], _mm512_and_si512(bits, m4));
                _mm512_store_si512(a[1][m], _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4));
            }
            chunk_dots(a, ab, c, dots[c]);
        }
        const __m512 ad = _mm512_loadu_ps(ab.d);
        for (int m = 0; m < kRows; ++m) {
            alignas(16) uint8_t sm[16];  // bytes 0-7 scales, 8-15 mins
            _mm_store_si128(reinterpret_cast<__m128i*>(sm), k4_scales_mins(wb[m]->scales));
            const __m512 d = _mm512_mul_ps(_mm512_set1_ps(f16(wb[m]->d)), ad);
            const __m512 dmin = _mm512_mul_ps(_mm512_set1_ps(f16(wb[m]->dmin)), ad);
            __m512 s = acc[m], mn = mins[m];
            for (int c = 0; c < 4; ++c) {
                const __m512 lo = _mm512_cvtepi32_ps(_mm512_load_si512(dots[c][0][m]));
                const __m512 hi = _mm512_cvtepi32_ps(_mm512_load_si512(dots[c][1][m]));
                const __m512 sum =
                    _mm512_fmadd_ps(hi, _mm512_set1_ps(float(sm[2 * c + 1])),
                                    _mm512_mul_ps(lo, _mm512_set1_ps(float(sm[2 * c]))));
                s = _mm512_fmadd_ps(sum, d, s);
                const __m512i min_sum =
                    _mm512_madd_epi16(_mm512_loadu_si512(ab.bsum_pairs[c]),
                                      _mm512_set1_epi32(sm[8 + 2 * c] | sm[9 + 2 * c] << 16));
                mn = _mm512_fmadd_ps(_mm512_cvtepi32_ps(min_sum), dmin, mn);
            }
            acc[m] = s;
            mins[m] = mn;
        }
    }
    for (int m = 0; m < kRows; ++m)
        _mm512_storeu_ps(out + kRows * m, _mm512_sub_ps(acc[m], mins[m]));
}

// Q5_K in llama.cpp's tiled order (BatchOrder::tiled; avx2/'s
// tiled_dot_q5_k_q8_k): per block and output, acc = fma(fma(-dmin,
// float(min sum), float(S) * d), a.d, acc), S = sum over the 8 sub-blocks of
// scale * dot. The dots are tile_q4_k's (one tdpbusd per 32-element
// sub-block, the same prepared activations) with the fifth bits added to
// the nibbles; the scales are applied in int32, as S can pass 2^24.
void tile_q5_k(int64_t n, const void* vw, size_t ws, const void* group, size_t, float* out) {
    const char* w = static_cast<const char*>(vw);
    const auto* act = static_cast<const PreparedQ4KBlock*>(group);
    use_tile_config(kConfig);
    const __m512i m4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
    alignas(64) uint8_t a[2][kRows][32];           // this chunk's quants, low and high sub-block
    alignas(64) int32_t dots[4][2][kRows][kRows];  // [chunk][sub-block][row][token]
    __m512 acc[kRows];
    for (int m = 0; m < kRows; ++m) acc[m] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const PreparedQ4KBlock& ab = act[i];
        const BlockQ5_K* wb[kRows];
        for (int m = 0; m < kRows; ++m)
            wb[m] = reinterpret_cast<const BlockQ5_K*>(w + ws * size_t(m)) + i;
        for (int c = 0; c < 4; ++c) {  // sub-blocks 2c (low nibbles, qh bit 2c) and 2c + 1
            const __m512i bit_lo = _mm512_set1_epi8(char(1 << (2 * c)));
            const __m512i bit_hi = _mm512_set1_epi8(char(2 << (2 * c)));
            for (int m = 0; m < kRows; m += 2) {
                auto two_rows = [&](const uint8_t* first, const uint8_t* second) {
                    return _mm512_inserti64x4(_mm512_castsi256_si512(load32(first)), load32(second),
                                              1);
                };
                const __m512i bits = two_rows(wb[m]->qs + 32 * c, wb[m + 1]->qs + 32 * c);
                const __m512i qh = two_rows(wb[m]->qh, wb[m + 1]->qh);
                const __m512i lo = _mm512_and_si512(bits, m4);
                const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4);
                _mm512_store_si512(
                    a[0][m],
                    _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(qh, bit_lo), lo, sixteen));
                _mm512_store_si512(
                    a[1][m],
                    _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(qh, bit_hi), hi, sixteen));
            }
            chunk_dots(a, ab, c, dots[c]);
        }
        const __m512 ad = _mm512_loadu_ps(ab.d);
        for (int m = 0; m < kRows; ++m) {
            alignas(16) uint8_t sm[16];  // bytes 0-7 scales, 8-15 mins
            _mm_store_si128(reinterpret_cast<__m128i*>(sm), k4_scales_mins(wb[m]->scales));
            __m512i sum = _mm512_setzero_si512(), min_sum = _mm512_setzero_si512();
            for (int c = 0; c < 4; ++c) {
                for (int h = 0; h < 2; ++h) {
                    sum =
                        _mm512_add_epi32(sum, _mm512_mullo_epi32(_mm512_load_si512(dots[c][h][m]),
                                                                 _mm512_set1_epi32(sm[2 * c + h])));
                }
                min_sum = _mm512_add_epi32(
                    min_sum,
                    _mm512_madd_epi16(_mm512_loadu_si512(ab.bsum_pairs[c]),
                                      _mm512_set1_epi32(sm[8 + 2 * c] | sm[9 + 2 * c] << 16)));
            }
            const __m512 scaled =
                _mm512_mul_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(f16(wb[m]->d)));
            const __m512 block = _mm512_fmadd_ps(_mm512_set1_ps(-f16(wb[m]->dmin)),
                                                 _mm512_cvtepi32_ps(min_sum), scaled);
            acc[m] = _mm512_fmadd_ps(block, ad, acc[m]);
        }
    }
    for (int m = 0; m < kRows; ++m) _mm512_storeu_ps(out + kRows * m, acc[m]);
}

// Q6_K in llama.cpp's tiled order (BatchOrder::tiled; avx2/'s
// tiled_dot_q6_k_q8_k): per block and output, acc = fma(float(S) * d,
// a.d, acc), S = sum over the 16 sub-blocks of scale * dot, dot the exact
// sum of the sub-block's 16 products with the quants less 32. Each dot is
// one tdpbssd over one sub-block (K = 16): the weights' quants less 32 as A
// (16 rows, unpacked per call as the AVX-512 tile does), the activations as
// B (prepared once per matmul). The scales are applied to the C tiles in
// int32, exact, so S is the AVX-512 tile's bit for bit.
struct PreparedQ6KBlock {
    // Sub-block s as B: b[s][k][4 t + e] = token t's quant 16 s + 4 k + e.
    int8_t b[16][4][64];
    float d[kRows];
};

size_t prepared_q6_k_bytes(int64_t n) {
    return size_t(n / kQK_K) * sizeof(PreparedQ6KBlock);
}

void prepare_q6_k(int64_t n, const void* va, size_t as, void* group) {
    prepare_blocks<16, PreparedQ6KBlock>(n, va, as, group,
                                         [](PreparedQ6KBlock&, int, const BlockQ8_K&) {});
}

// A Q6_K block's 256 quants less 32, in element order (signed bytes). Chunk
// c's two high bits are bits 2c, 2c + 1 of each qh byte: shifted to bits
// 4-5, chunks 2p in the low half of a register and 2p + 1 in the high half.
inline void unpack_q6_k(const BlockQ6_K& b, int8_t* q) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i offset = _mm512_set1_epi8(32);
    const __m512i qh_left =
        _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);  // p = 0
    const __m512i qh_right =
        _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);  // p = 1
    for (int h = 0; h < 2; ++h) {
        const __m512i ql = _mm512_loadu_si512(b.ql + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(load32(b.qh + 32 * h));
        const __m512i low[2] = {_mm512_and_si512(ql, m4),
                                _mm512_and_si512(_mm512_srli_epi16(ql, 4), m4)};
        for (int p = 0; p < 2; ++p) {
            const __m512i high =
                p == 0 ? _mm512_sllv_epi16(qh, qh_left) : _mm512_srlv_epi16(qh, qh_right);
            const __m512i u =
                _mm512_ternarylogic_epi32(low[p], high, m30, 0xF8);  // low | high & 0x30
            _mm512_store_si512(q + 128 * h + 64 * p, _mm512_sub_epi8(u, offset));
        }
    }
}

// tmm0, tmm3: A (a sub-block of 16 rows); tmm1, tmm4: B; tmm2, tmm5: C.
const TileConfig kQ6Config = TileConfig{}
                                 .tile(0, kRows, 16)
                                 .tile(1, 4, 64)
                                 .tile(2, kRows, 64)
                                 .tile(3, kRows, 16)
                                 .tile(4, 4, 64)
                                 .tile(5, kRows, 64);

void tile_q6_k(int64_t n, const void* vw, size_t ws, const void* group, size_t, float* out) {
    const char* w = static_cast<const char*>(vw);
    const auto* act = static_cast<const PreparedQ6KBlock*>(group);
    use_tile_config(kQ6Config);
    alignas(64) int8_t a[kRows][kQK_K];          // the block's quants less 32, per row
    alignas(64) int32_t dots[16][kRows][kRows];  // [sub-block][row][token]
    __m512 acc[kRows];
    for (int m = 0; m < kRows; ++m) acc[m] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const PreparedQ6KBlock& ab = act[i];
        const BlockQ6_K* wb[kRows];
        for (int m = 0; m < kRows; ++m) {
            wb[m] = reinterpret_cast<const BlockQ6_K*>(w + ws * size_t(m)) + i;
            unpack_q6_k(*wb[m], a[m]);
        }
        for (int s = 0; s < 16; s += 2) {
            _tile_loadd(0, &a[0][16 * s], kQK_K);
            _tile_loadd(1, ab.b[s], 64);
            _tile_zero(2);
            _tile_dpbssd(2, 0, 1);
            _tile_loadd(3, &a[0][16 * (s + 1)], kQK_K);
            _tile_loadd(4, ab.b[s + 1], 64);
            _tile_zero(5);
            _tile_dpbssd(5, 3, 4);
            _tile_stored(2, dots[s], 64);
            _tile_stored(5, dots[s + 1], 64);
        }
        const __m512 ad = _mm512_loadu_ps(ab.d);
        for (int m = 0; m < kRows; ++m) {
            __m512i sum = _mm512_setzero_si512();
            for (int s = 0; s < 16; ++s)
                sum =
                    _mm512_add_epi32(sum, _mm512_mullo_epi32(_mm512_load_si512(dots[s][m]),
                                                             _mm512_set1_epi32(wb[m]->scales[s])));
            const __m512 scaled =
                _mm512_mul_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(f16(wb[m]->d)));
            acc[m] = _mm512_fmadd_ps(scaled, ad, acc[m]);
        }
    }
    for (int m = 0; m < kRows; ++m) _mm512_storeu_ps(out + kRows * m, acc[m]);
}

constexpr MatmulTileEntry kAmxTiles[] = {
    {GgmlType::q4_k, tile_q4_k, kRows, prepare_q4_k, prepared_q4_k_bytes, kRows},
    {GgmlType::q5_k, tile_q5_k, kRows, prepare_q4_k, prepared_q4_k_bytes, kRows},
    {GgmlType::q6_k, tile_q6_k, kRows, prepare_q6_k, prepared_q6_k_bytes, kRows},
};

}  // namespace

std::span<const MatmulTileEntry> amx_tile_table() {
    return kAmxTiles;
}

}  // namespace slim::cpu
