// AVX-512 (F, BW, VL, VNNI) tiles for the 32-element quant types and the K-quants:
// the contract of kernels.h's MatmulTileFn, each sum bit for bit the AVX2
// vec_dot's, in llama.cpp's float order for the type (avx2/vec_dot_avx2.cpp
// says which).
//
// Only the integer part differs, and integer sums are exact in any order:
// vpdpbusd multiplies unsigned weight bytes by signed activation bytes and
// adds the four products of a lane into s32 in one instruction, without the
// s16 saturation of vpmaddubsw. Signed weights are made unsigned by an offset
// (q + 8 for Q4_0, q + 16 for Q5_0, q + 128 for Q8_0 and IQ4_NL), and
// offset * (the lane's sum of activations) is taken off by starting each
// lane's sum at minus that. The registers stay 8 floats wide, so the float
// lanes are ggml's; AVX-512VL gives 32 of them, enough for the whole tile.
//
// This file alone is compiled with these flags (CMakeLists.txt), and its code
// runs only when cpu_features() reports them.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "backend/cpu/x86_simd.h"
#include "tensor/blocks.h"
#include "tensor/quants.h"

namespace slim::cpu {

namespace {

// Byte j is 0x10 where bit j of the 32-bit little-endian word is set.
inline __m256i fifth_bits(const uint8_t* qh) {
    uint32_t x;
    std::memcpy(&x, qh, 4);
    const __mmask32 set = _cvtu32_mask32(x);
    return _mm256_maskz_mov_epi8(set, _mm256_set1_epi8(0x10));
}

// Per type: the weight and activation blocks, the 32 quants as unsigned
// bytes, and the offset subtracted from them (0 for types with a min).
struct Q4_0Tile {
    using Weight = BlockQ4_0;
    using Act = BlockQ8_0;
    static constexpr int kOffset = 8;
    static constexpr bool kMin = false, kOneChain = true;
    __m256i quants(const Weight& b) const { return nibbles32(b.qs); }
};

struct Q4_1Tile {
    using Weight = BlockQ4_1;
    using Act = BlockQ8_1;
    static constexpr int kOffset = 0;
    static constexpr bool kMin = true, kOneChain = false;
    __m256i quants(const Weight& b) const { return nibbles32(b.qs); }
};

struct Q5_0Tile {
    using Weight = BlockQ5_0;
    using Act = BlockQ8_0;
    static constexpr int kOffset = 16;
    static constexpr bool kMin = false, kOneChain = false;
    __m256i quants(const Weight& b) const {
        return _mm256_or_si256(nibbles32(b.qs), fifth_bits(b.qh));
    }
};

struct Q5_1Tile {
    using Weight = BlockQ5_1;
    using Act = BlockQ8_1;
    static constexpr int kOffset = 0;
    static constexpr bool kMin = true, kOneChain = false;
    __m256i quants(const Weight& b) const {
        return _mm256_or_si256(nibbles32(b.qs), fifth_bits(b.qh));
    }
};

struct Q8_0Tile {
    using Weight = BlockQ8_0;
    using Act = BlockQ8_0;
    static constexpr int kOffset = 128;
    static constexpr bool kMin = false, kOneChain = false;
    __m256i quants(const Weight& b) const {
        return _mm256_xor_si256(load32(b.qs), _mm256_set1_epi8(char(0x80)));
    }
};

struct IQ4_NLTile {
    using Weight = BlockIQ4_NL;
    using Act = BlockQ8_0;
    static constexpr int kOffset = 128;
    static constexpr bool kMin = false, kOneChain = true;
    // The 16 values + 128, as unsigned bytes.
    __m128i values = _mm_xor_si128(iq4nl_values(), _mm_set1_epi8(char(0x80)));
    __m256i quants(const Weight& b) const { return iq4nl_lookup(b.qs, values); }
};

// Two outputs (or two chunks) per 512-bit register: the low 8 32-bit lanes
// (16 16-bit lanes) hold one, the high ones the other.

// a in the low 8 float lanes, b in the high 8.
inline __m512 two_halves(float a, float b) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(a)),
                                               _mm256_castps_pd(_mm256_set1_ps(b)), 1));
}

// a in the low 16 16-bit lanes, b in the high 16.
inline __m512i two_halves_i16(int a, int b) {
    return _mm512_inserti64x4(_mm512_set1_epi16(short(a)), _mm256_set1_epi16(short(b)), 1);
}

// The sum of half h's 8 float lanes, in hsum_ps's order.
inline float half_sum(__m512 v, int h) {
    return hsum_ps(h == 0 ? _mm512_castps512_ps256(v)
                          : _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

// The two halves' 32-bit lanes added: lane l + lane 8 + l (exact integers).
inline __m256i fold_halves(__m512i v) {
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

// The 16-bit scales of 64 elements (32 pairs) starting at group g of a
// K-quant's 16-element groups: lanes 8k..8k+7 take scales8[g + k], k < 4.
inline __m512i group_scales_x4(__m128i scales8, int g) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(pair_scales_i8(scales8, g)),
                              pair_scales_i8(scales8, g + 2), 1);
}

// The 32-element types' tiles read their activations prepared (kernels.h,
// PrepareActFn), NA rows to a group: 8 for prefill, 1 for decode. Per
// block, the group holds
//   qs     NA x 32 quants,
//   start  NA x 8 s32: minus offset x the sum of each lane's 4 quants,
//          where each lane's dot product starts (0 for types with a min),
//   d      NA floats: the block's scale,
//   s      8 floats: Q8_1's s (0 for Q8_0, and past NA),
// so that in the tile an activation block costs loads, not instructions: the
// lane sums and f16 conversions were redone for every 4 weight rows, about
// half of a tile's instructions.
template <int NA>
struct PreparedQ0Block {
    int8_t qs[NA][32];
    int32_t start[NA][8];
    float d[NA];
    float s[8];
};

template <int NA>
size_t prepared_q0_bytes(int64_t n) {
    return size_t(n / 32) * sizeof(PreparedQ0Block<NA>);
}

template <class T, int NA>
void prepare_q0(int64_t n, const void* va, size_t as, void* group) {
    using A = typename T::Act;
    auto* out = static_cast<PreparedQ0Block<NA>*>(group);
    for (int64_t i = 0; i < n / 32; ++i) std::fill(out[i].s, out[i].s + 8, 0.0f);
    for (int j = 0; j < NA; ++j) {
        const A* row = reinterpret_cast<const A*>(static_cast<const char*>(va) + as * size_t(j));
        for (int64_t i = 0; i < n / 32; ++i) {
            PreparedQ0Block<NA>& b = out[i];
            const __m256i av = load32(row[i].qs);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qs[j]), av);
            __m256i start = _mm256_setzero_si256();
            if constexpr (T::kOffset != 0) {
                const __m256i lane_sums = _mm256_dpbusd_epi32(
                    _mm256_setzero_si256(), _mm256_set1_epi8(char(T::kOffset)), av);
                start = _mm256_sub_epi32(_mm256_setzero_si256(), lane_sums);
            }
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.start[j]), start);
            b.d[j] = f16(row[i].d);
            if constexpr (T::kMin) b.s[j] = f16(row[i].s);
        }
    }
}

// The f16 scales of 4 weight blocks as floats, in one conversion: d0..d3
// for types without a min, d0 m0 d1 m1 .. d3 m3 for those with one (d and m
// are the blocks' first two halves).
template <class W>
inline __m512 block_scales4(const W* const* wb) {
    __m128i h;
    if constexpr (requires { wb[0]->m; }) {
        uint32_t dm[4];
        for (int r = 0; r < 4; ++r) std::memcpy(&dm[r], wb[r], 4);
        h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dm));
    } else {
        h = _mm_setr_epi16(short(wb[0]->d), short(wb[1]->d), short(wb[2]->d), short(wb[3]->d), 0, 0,
                           0, 0);
    }
    return _mm512_castps256_ps512(_mm256_cvtph_ps(h));
}

// Rows r and r + 1's d (or with kMin, m when `min`) from block_scales4, in
// the low and high 8 lanes.
template <bool kMin>
inline __m512 scale_pair(__m512 scales, int r, bool min) {
    const int stride = kMin ? 2 : 1, first = stride * r + (min ? 1 : 0);
    const __m512i idx =
        _mm512_inserti64x4(_mm512_set1_epi32(first), _mm256_set1_epi32(first + stride), 1);
    return _mm512_permutexvar_ps(idx, scales);
}

// 4 weight rows x NA prepared activation rows, each sum as avx2/'s
// vec_dot_q0 sums it. Two weight rows share a 512-bit register (row 2h in
// the low 8 lanes, 2h + 1 in the high 8) against the activation block in
// both halves: each lane does what its ymm lane would, on half the
// instructions. One-chain types add the 4 rows' block sums to 4 float
// lanes at once.
template <class T, int NA>
void tile_q0(int64_t n, const void* vw, size_t ws, const void* group, size_t, float* out) {
    using W = typename T::Weight;
    const char* w = static_cast<const char*>(vw);
    const auto* act = static_cast<const PreparedQ0Block<NA>*>(group);
    const T traits;
    __m512 acc2[2][NA];  // [h][j]: weight rows 2h, 2h + 1 against activation row j
    for (auto& r : acc2)
        for (auto& c : r) c = _mm512_setzero_ps();
    __m128 chain[NA];  // one-chain types; lane r: weight row r
    for (auto& c : chain) c = _mm_setzero_ps();
    // Min types: lane 8 * (r % 2) + j of mins2[r / 2] is weight row r's
    // chain against activation row j, fma(m, s, mins) as vec_dot runs it.
    __m512 mins2[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t i = 0; i < n / 32; ++i) {
        const PreparedQ0Block<NA>& ab = act[i];
        const W* wb[4];
        __m256i q[4];
        for (int r = 0; r < 4; ++r) {
            wb[r] = reinterpret_cast<const W*>(w + size_t(r) * ws) + i;
            if constexpr (NA == 1) prefetch_weights(wb[r], sizeof(W));
            q[r] = traits.quants(*wb[r]);
        }
        if constexpr (T::kOneChain) {
            const __m128 wd =
                _mm_setr_ps(f16(wb[0]->d), f16(wb[1]->d), f16(wb[2]->d), f16(wb[3]->d));
            for (int j = 0; j < NA; ++j) {
                const __m256i start = load32(ab.start[j]), av = load32(ab.qs[j]);
                const __m256i p[4] = {
                    _mm256_dpbusd_epi32(start, q[0], av), _mm256_dpbusd_epi32(start, q[1], av),
                    _mm256_dpbusd_epi32(start, q[2], av), _mm256_dpbusd_epi32(start, q[3], av)};
                chain[j] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_i32(p)),
                                        _mm_mul_ps(wd, _mm_set1_ps(ab.d[j])), chain[j]);
            }
            continue;
        }
        __m512i qp[2];
        __m512 wd[2];
        const __m512 dm = block_scales4(wb);
        for (int h = 0; h < 2; ++h) {
            qp[h] = _mm512_inserti64x4(_mm512_castsi256_si512(q[2 * h]), q[2 * h + 1], 1);
            wd[h] = scale_pair<T::kMin>(dm, 2 * h, false);
        }
        // Token by token, both register pairs: an activation block is live
        // for two products only, which leaves the 16 sums in registers.
        for (int j = 0; j < NA; ++j) {
            const __m512i av = _mm512_broadcast_i64x4(load32(ab.qs[j]));
            const __m512 ad = _mm512_set1_ps(ab.d[j]);
            for (int h = 0; h < 2; ++h) {
                const __m512i p =
                    _mm512_dpbusd_epi32(_mm512_broadcast_i64x4(load32(ab.start[j])), qp[h], av);
                acc2[h][j] =
                    _mm512_fmadd_ps(_mm512_mul_ps(wd[h], ad), _mm512_cvtepi32_ps(p), acc2[h][j]);
            }
        }
        if constexpr (T::kMin) {
            const __m512 s = _mm512_castpd_ps(
                _mm512_broadcast_f64x4(_mm256_loadu_pd(reinterpret_cast<const double*>(ab.s))));
            for (int h = 0; h < 2; ++h)
                mins2[h] = _mm512_fmadd_ps(scale_pair<T::kMin>(dm, 2 * h, true), s, mins2[h]);
        }
    }
    alignas(64) float mins[4][8];
    _mm512_store_ps(mins[0], mins2[0]);
    _mm512_store_ps(mins[2], mins2[1]);
    for (int j = 0; j < NA; ++j) {
        float lanes[4];
        _mm_storeu_ps(lanes, chain[j]);
        for (int r = 0; r < 4; ++r) {
            if constexpr (T::kOneChain) {
                out[r * NA + j] = lanes[r];
            } else {
                const float sum = half_sum(acc2[r / 2][j], r % 2);
                out[r * NA + j] = T::kMin ? sum + mins[r][j] : sum;
            }
        }
    }
}

// Q4_K in the order of llama.cpp's repacked gemm, as avx2/'s
// gemm_dot_q4_k_q8_k sums it (the rows BatchOrder::repacked gives it): per 64
// elements (two sub-blocks), one FMA of their integer sum (scales applied)
// times d * a.d into a running float, and one of their min sum times
// dmin * a.d into another. vpdpwssd applies a sub-block's scale and
// accumulates in one instruction.
void tile_q4_k_4x3(int64_t n, const void* vw, size_t ws, const void* va, size_t as, float* out) {
    const char* w = static_cast<const char*>(vw);
    const char* a = static_cast<const char*>(va);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    // Lane r of acc[j] / mins[j]: weight row r against activation row j,
    // each lane the scalar chain of avx2/'s gemm_dot_q4_k_q8_k.
    __m128 acc[3], mins[3];
    for (int j = 0; j < 3; ++j) acc[j] = mins[j] = _mm_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ8_K* ab[3];
        for (int j = 0; j < 3; ++j)
            ab[j] = reinterpret_cast<const BlockQ8_K*>(a + size_t(j) * as) + i;
        const BlockQ4_K* wb[4];
        __m256i scales[4];
        alignas(16) uint8_t sm8[4][16];  // bytes 0-7 scales, 8-15 mins
        float wd[4], wdmin[4];
        for (int r = 0; r < 4; ++r) {
            wb[r] = reinterpret_cast<const BlockQ4_K*>(w + size_t(r) * ws) + i;
            const __m128i packed = k4_scales_mins(wb[r]->scales);
            _mm_store_si128(reinterpret_cast<__m128i*>(sm8[r]), packed);
            const __m256i sm = _mm256_cvtepu8_epi16(packed);
            scales[r] = _mm256_permute2x128_si256(sm, sm, 0x00);
            wd[r] = f16(wb[r]->d);
            wdmin[r] = f16(wb[r]->dmin);
        }
        __m128 d[3], dmin[3];  // lane r: the row's d (dmin) times the activation's d
        for (int j = 0; j < 3; ++j) {
            const __m128 ad = _mm_set1_ps(ab[j]->d);
            d[j] = _mm_mul_ps(_mm_loadu_ps(wd), ad);
            dmin[j] = _mm_mul_ps(_mm_loadu_ps(wdmin), ad);
        }
        for (int c = 0; c < 4; ++c) {  // sub-blocks 2c (low nibbles) and 2c + 1 (high)
            __m256i a_lo[3], a_hi[3];
            int bsum_lo[3], bsum_hi[3];
            for (int j = 0; j < 3; ++j) {
                a_lo[j] = load32(ab[j]->qs + 64 * c);
                a_hi[j] = load32(ab[j]->qs + 64 * c + 32);
                const int16_t* bs = ab[j]->bsums + 4 * c;
                bsum_lo[j] = bs[0] + bs[1];
                bsum_hi[j] = bs[2] + bs[3];
            }
            __m256i sumi[3][4];
            for (int r = 0; r < 4; ++r) {
                const __m256i bits = load32(wb[r]->qs + 32 * c);
                const __m256i lo = _mm256_and_si256(bits, m4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
                const __m256i s_lo = broadcast_i16(scales[r], 2 * c);
                const __m256i s_hi = broadcast_i16(scales[r], 2 * c + 1);
                for (int j = 0; j < 3; ++j) {
                    sumi[j][r] = _mm256_dpwssd_epi32(_mm256_setzero_si256(),
                                                     _mm256_maddubs_epi16(lo, a_lo[j]), s_lo);
                    sumi[j][r] =
                        _mm256_dpwssd_epi32(sumi[j][r], _mm256_maddubs_epi16(hi, a_hi[j]), s_hi);
                }
            }
            const __m128i m_lo = _mm_setr_epi32(sm8[0][8 + 2 * c], sm8[1][8 + 2 * c],
                                                sm8[2][8 + 2 * c], sm8[3][8 + 2 * c]);
            const __m128i m_hi = _mm_setr_epi32(sm8[0][9 + 2 * c], sm8[1][9 + 2 * c],
                                                sm8[2][9 + 2 * c], sm8[3][9 + 2 * c]);
            for (int j = 0; j < 3; ++j) {
                acc[j] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_i32(sumi[j])), d[j], acc[j]);
                const __m128i min_sum =
                    _mm_add_epi32(_mm_mullo_epi32(m_lo, _mm_set1_epi32(bsum_lo[j])),
                                  _mm_mullo_epi32(m_hi, _mm_set1_epi32(bsum_hi[j])));
                mins[j] = _mm_fmadd_ps(_mm_cvtepi32_ps(min_sum), dmin[j], mins[j]);
            }
        }
    }
    for (int j = 0; j < 3; ++j) {
        float s[4], m[4];
        _mm_storeu_ps(s, acc[j]);
        _mm_storeu_ps(m, mins[j]);
        for (int r = 0; r < 4; ++r) out[r * 3 + j] = s[r] - m[r];
    }
}

// Four rows' k4_scales_mins at once: 128-bit lane r holds row r's 8
// scales, then its 8 mins, as bytes.
inline __m512i k4_scales_mins_x4(const BlockQ4_K* const* wb) {
    auto scales = [&](int r) {  // its 12 bytes, and 4 of qs after them
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[r]->scales));
    };
    __m512i u = _mm512_castsi128_si512(scales(0));  // dwords u0, u1, u2 per lane
    for (int r = 1; r < 4; ++r) u = _mm512_inserti32x4(u, scales(r), unsigned(r));
    const __m512i m3f = _mm512_set1_epi32(0x3f3f3f3f), m0f = _mm512_set1_epi32(0x0f0f0f0f);
    const __m512i m03 = _mm512_set1_epi32(0x03030303);
    // Dwords 0, 2 of the result: u0 & m3f, u1 & m3f (scales 0-3, mins 0-3).
    const __m512i even = _mm512_and_si512(u, m3f);
    // Dwords 1, 3: the low and high nibbles of u2, with bits 6-7 of u0 and
    // u1 above them (scales 4-7, mins 4-7).
    const __m512i u2 = _mm512_shuffle_epi32(u, _MM_PERM_CCCC);
    const __m512i nibbles =
        _mm512_and_si512(_mm512_srlv_epi32(u2, _mm512_set4_epi32(0, 0, 4, 0)), m0f);
    const __m512i top = _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u, 6), m03), 4);
    return _mm512_unpacklo_epi32(even, _mm512_or_si512(nibbles, top));
}

// The sums of each of 4 rows' 16 lanes (exact integers): lane r for row r.
inline __m128i row_sums_x4(const __m512i* s) {
    const __m512i a =
        _mm512_add_epi32(_mm512_unpacklo_epi32(s[0], s[1]), _mm512_unpackhi_epi32(s[0], s[1]));
    const __m512i b =
        _mm512_add_epi32(_mm512_unpacklo_epi32(s[2], s[3]), _mm512_unpackhi_epi32(s[2], s[3]));
    // Per 128-bit lane: one partial sum of each row.
    const __m512i c = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(c), _mm512_extracti64x4_epi64(c, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// The sums of 128-bit lanes 1 and 3 of x and of y (exact integers), in that order.
inline __m128i lane_sums_x4(__m512i x, __m512i y) {
    x = _mm512_add_epi32(x, _mm512_shuffle_epi32(x, _MM_PERM_BADC));
    x = _mm512_add_epi32(x, _mm512_shuffle_epi32(x, _MM_PERM_CDAB));
    y = _mm512_add_epi32(y, _mm512_shuffle_epi32(y, _MM_PERM_BADC));
    y = _mm512_add_epi32(y, _mm512_shuffle_epi32(y, _MM_PERM_CDAB));
    const __m512i pick = _mm512_setr_epi32(4, 12, 20, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castsi512_si128(_mm512_permutex2var_epi32(x, pick, y));
}

// Q4_K in vec_dot's order (decode, where llama.cpp's gemv sums as
// avx2/'s vec_dot_q4_k_q8_k): per block, mins = fma(float(min sum),
// dmin * a.d, mins) and acc = fma(float(integer sum), d * a.d, acc) for
// each row, the result acc - mins. The rows' float steps run on 4 lanes,
// lane r for row r, and so do their scale unpacking and min sums; the
// integer sums take two chunks per instruction as tile_q4_k_4x3 does, on
// 512-bit registers: the low nibbles of a 64-byte load are sub-blocks 4p
// and 4p + 2, the high ones 4p + 1 and 4p + 3. On one Sapphire Rapids
// core a Gemma 3 attn_output weight in L2 multiplies at 17.2 GB/s against
// vec_dot's 13.4; both are bound by instructions (this one by ports 0 and
// 5: vpmaddubsw and vpdpwssd run on port 0 only), not by memory.
void gemv_q4_k(int64_t n, const void* vw, size_t ws, const void* va, size_t, float* out) {
    const char* w = static_cast<const char*>(vw);
    const auto* ab = static_cast<const BlockQ8_K*>(va);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    // The rows' scales and mins widened to 16 bits, two rows per register:
    // row 2t + e's scales in 16-bit lanes 16e..16e + 7, its mins after them.
    // scale_index[e][2p + h]: lane m takes sub-block 4p + h + 2 (m / 16)'s
    // scale of row 2t + e.
    __m512i scale_index[2][4];
    for (int e = 0; e < 2; ++e) {
        for (int k = 0; k < 4; ++k) {
            alignas(64) int16_t idx[32];
            for (int m = 0; m < 32; ++m)
                idx[m] = int16_t(16 * e + 4 * (k / 2) + k % 2 + 2 * (m / 16));
            scale_index[e][k] = _mm512_load_si512(idx);
        }
    }
    __m128 acc = _mm_setzero_ps(), mins = _mm_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ8_K& a = ab[i];
        __m512i act[4];  // act[k] meets the quants scale_index[.][k] scales
        for (int k = 0; k < 4; ++k) {
            const int8_t* q = a.qs + 128 * (k / 2) + 32 * (k % 2);
            act[k] = _mm512_inserti64x4(_mm512_castsi256_si512(load32(q)), load32(q + 64), 1);
        }
        const BlockQ4_K* wb[4];
        for (int r = 0; r < 4; ++r) {
            wb[r] = reinterpret_cast<const BlockQ4_K*>(w + size_t(r) * ws) + i;
            prefetch_weights(wb[r], sizeof(BlockQ4_K));
        }
        const __m512i sm8 = k4_scales_mins_x4(wb);
        const __m512i sm[2] = {_mm512_cvtepu8_epi16(_mm512_castsi512_si256(sm8)),
                               _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(sm8, 1))};
        // Min sums: sub-block s's min times bsums[2s] + bsums[2s + 1], in
        // the mins' lanes (zero against the scales').
        const __m256i bs = load32(a.bsums);
        const __m128i pairs =
            _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
        const __m512i bsum_pairs = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_inserti128_si256(_mm256_setzero_si256(), pairs, 1)),
            _mm256_inserti128_si256(_mm256_setzero_si256(), pairs, 1), 1);
        const __m128i min_sums = lane_sums_x4(_mm512_madd_epi16(sm[0], bsum_pairs),
                                              _mm512_madd_epi16(sm[1], bsum_pairs));
        __m512i sums[4];
        for (int r = 0; r < 4; ++r) {
            __m512i sumi = _mm512_setzero_si512();
            for (int p = 0; p < 2; ++p) {
                const __m512i bits = _mm512_loadu_si512(wb[r]->qs + 64 * p);
                const __m512i q[2] = {_mm512_and_si512(bits, m4),
                                      _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4)};
                for (int h = 0; h < 2; ++h) {
                    const __m512i sc =
                        _mm512_permutexvar_epi16(scale_index[r % 2][2 * p + h], sm[r / 2]);
                    sumi =
                        _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(q[h], act[2 * p + h]), sc);
                }
            }
            sums[r] = sumi;
        }
        const __m128 ad = _mm_set1_ps(a.d);
        const __m128 d = _mm_mul_ps(rows_f16([&](int r) { return wb[r]->d; }), ad);
        const __m128 dmin = _mm_mul_ps(rows_f16([&](int r) { return wb[r]->dmin; }), ad);
        mins = _mm_fmadd_ps(_mm_cvtepi32_ps(min_sums), dmin, mins);
        acc = _mm_fmadd_ps(_mm_cvtepi32_ps(row_sums_x4(sums)), d, acc);
    }
    _mm_storeu_ps(out, _mm_sub_ps(acc, mins));
}

// Q6_K in the tiled order (avx2/tiles_k_avx2.cpp's tile_q6_k_4x3, from
// tiled_dot_q6_k_q8_k): per block, acc = fma(float(sum - 32 * offset sum) * d,
// a.d, acc) for each output. The integer block sum is exact however it is
// grouped, so it is taken 64 elements per instruction: the quants of two
// 32-element chunks in one register (low nibbles of a 64-byte ql load, the
// high bits from qh shifted per half), vpmaddubsw against the 64 matching
// activation bytes, and vpdpwssd applying the 16-element groups' scales while
// it accumulates. 6 activation rows per tile.
//
// With kVecDotOrder (decode: NA = 1), the order is vec_dot's instead: folded,
// the 8 lanes of a block's sum are vec_dot's 8 lanes (lane l: bytes 4l..4l+3
// of every chunk, less its share of the offset), each row keeps 8 float
// lanes, acc = fma(a.d * d, float(lane sum), acc), added up by hsum_ps at
// the end. Two chunks per instruction is half of vec_dot's work per block.
template <int NA, bool kVecDotOrder = false>
void tile_q6_k(int64_t n, const void* vw, size_t ws, const void* va, size_t as, float* out) {
    static_assert(!kVecDotOrder || NA == 1);
    const char* w = static_cast<const char*>(vw);
    const char* a = static_cast<const char*>(va);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    // Chunk c's two high bits are bits 2c, 2c + 1 of each qh byte; shifted to
    // bits 4-5 (chunks 2p in the low half, 2p + 1 in the high half): left by
    // 4 and 2 for p = 0, right by 0 and 2 for p = 1. Bits that cross into
    // the other byte of a 16-bit lane land outside 0x30 of it.
    const __m512i qh_left = two_halves_i16(4, 2), qh_right = two_halves_i16(0, 2);
    const __m512i m30 = _mm512_set1_epi8(0x30);
    // group_scales_x4's lanes as one vpermw of the 16 widened scales: 16-bit
    // lane m of chunk pair c (= 2h + p) takes scale 4c + m / 8.
    __m512i scale_index[4];
    for (int c = 0; c < 4; ++c) {
        alignas(64) int16_t idx[32];
        for (int m = 0; m < 32; ++m) idx[m] = int16_t(4 * c + m / 8);
        scale_index[c] = _mm512_load_si512(idx);
    }
    __m128 acc[NA];
    for (int j = 0; j < NA; ++j) acc[j] = _mm_setzero_ps();
    __m256 row_lanes[4];  // kVecDotOrder: each row's 8 float lanes
    for (auto& v : row_lanes) v = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ8_K* ab[NA];
        for (int j = 0; j < NA; ++j)
            ab[j] = reinterpret_cast<const BlockQ8_K*>(a + size_t(j) * as) + i;
        const BlockQ6_K* wb[4];
        __m256i sums[NA][4];  // [j][r]: 8 lanes summing to the exact integer block sum
        for (int r = 0; r < 4; ++r) {
            wb[r] = reinterpret_cast<const BlockQ6_K*>(w + size_t(r) * ws) + i;
            if constexpr (kVecDotOrder) prefetch_weights(wb[r], sizeof(BlockQ6_K));
            const __m128i scales8 =
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[r]->scales));
            const __m256i scales16 = _mm256_cvtepi8_epi16(scales8);
            // Each sum starts at minus vec_dot's offset of 32 (from the
            // activation sums), in its low 8 lanes.
            __m512i sumi[NA];
            for (int j = 0; j < NA; ++j) {
                const __m256i offset =
                    _mm256_slli_epi32(_mm256_madd_epi16(load32(ab[j]->bsums), scales16), 5);
                sumi[j] = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), offset));
            }
            for (int h = 0; h < 2; ++h) {
                const __m512i ql = _mm512_loadu_si512(wb[r]->ql + 64 * h);
                const __m512i qh = _mm512_broadcast_i64x4(load32(wb[r]->qh + 32 * h));
                const __m512i low[2] = {_mm512_and_si512(ql, m4),
                                        _mm512_and_si512(_mm512_srli_epi16(ql, 4), m4)};
                for (int p = 0; p < 2; ++p) {  // chunks 2p and 2p + 1 of this half
                    const __m512i high =
                        p == 0 ? _mm512_sllv_epi16(qh, qh_left) : _mm512_srlv_epi16(qh, qh_right);
                    // low | (high & 0x30) in one instruction.
                    const __m512i q = _mm512_ternarylogic_epi32(low[p], high, m30, 0xF8);
                    const __m512i sc = _mm512_permutexvar_epi16(scale_index[2 * h + p],
                                                                _mm512_castsi256_si512(scales16));
                    for (int j = 0; j < NA; ++j) {
                        const __m512i av = _mm512_loadu_si512(ab[j]->qs + 128 * h + 64 * p);
                        sumi[j] = _mm512_dpwssd_epi32(sumi[j], _mm512_maddubs_epi16(q, av), sc);
                    }
                }
            }
            for (int j = 0; j < NA; ++j) sums[j][r] = fold_halves(sumi[j]);
        }
        if constexpr (kVecDotOrder) {
            for (int r = 0; r < 4; ++r)
                row_lanes[r] = _mm256_fmadd_ps(_mm256_set1_ps(ab[0]->d * f16(wb[r]->d)),
                                               _mm256_cvtepi32_ps(sums[0][r]), row_lanes[r]);
        } else {
            tiled_q6_k_step<NA>(wb, ab, sums, acc);
        }
    }
    if constexpr (kVecDotOrder) {
        for (int r = 0; r < 4; ++r) out[r] = hsum_ps(row_lanes[r]);
    } else {
        store_row_lanes<NA>(acc, out);
    }
}

// Q5_K in the tiled order (avx2/tiles_k_avx2.cpp's tile_q5_k_4x3, from
// tiled_dot_q5_k_q8_k): per block, acc = fma(fma(-dmin, float(min sum),
// float(sum) * d), a.d, acc). As tile_q6_k, the exact integer sum is taken
// 64 elements (two sub-blocks: low nibbles plus their qh bit, high nibbles
// plus theirs) per vpmaddubsw and vpdpwssd.
template <int NA>
void tile_q5_k(int64_t n, const void* vw, size_t ws, const void* va, size_t as, float* out) {
    const char* w = static_cast<const char*>(vw);
    const char* a = static_cast<const char*>(va);
    const __m512i m4 = _mm512_set1_epi8(0x0F), one = _mm512_set1_epi8(1);
    // Per 16-bit lane: the nibble shift (0 low half, 4 high half).
    const __m512i nibble_shift = two_halves_i16(0, 4);
    __m128 acc[NA];
    for (int j = 0; j < NA; ++j) acc[j] = _mm_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ8_K* ab[NA];
        for (int j = 0; j < NA; ++j)
            ab[j] = reinterpret_cast<const BlockQ8_K*>(a + size_t(j) * as) + i;
        const BlockQ5_K* wb[4];
        __m256i sums[NA][4];
        alignas(16) int min_sums[NA][4];
        for (int r = 0; r < 4; ++r) {
            wb[r] = reinterpret_cast<const BlockQ5_K*>(w + size_t(r) * ws) + i;
            const __m128i packed = k4_scales_mins(wb[r]->scales);
            alignas(16) uint8_t sm8[16];  // bytes 0-7 scales, 8-15 mins
            _mm_store_si128(reinterpret_cast<__m128i*>(sm8), packed);
            const __m256i sm = _mm256_cvtepu8_epi16(packed);
            for (int j = 0; j < NA; ++j) min_sums[j][r] = k4_mins_dot(sm, ab[j]->bsums);
            const __m512i qh = _mm512_broadcast_i64x4(load32(wb[r]->qh));
            __m512i sumi[NA];
            for (int j = 0; j < NA; ++j) sumi[j] = _mm512_setzero_si512();
            for (int c = 0; c < 4; ++c) {  // elements 64c..64c+63: sub-blocks 2c, 2c + 1
                const __m512i bits = _mm512_broadcast_i64x4(load32(wb[r]->qs + 32 * c));
                const __m512i qh_shift = two_halves_i16(2 * c, 2 * c + 1);
                const __m512i high =
                    _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, qh_shift), one), 4);
                const __m512i q = _mm512_or_si512(
                    _mm512_and_si512(_mm512_srlv_epi16(bits, nibble_shift), m4), high);
                const __m512i sc = two_halves_i16(sm8[2 * c], sm8[2 * c + 1]);
                for (int j = 0; j < NA; ++j) {
                    const __m512i av = _mm512_loadu_si512(ab[j]->qs + 64 * c);
                    sumi[j] = _mm512_dpwssd_epi32(sumi[j], _mm512_maddubs_epi16(q, av), sc);
                }
            }
            for (int j = 0; j < NA; ++j) sums[j][r] = fold_halves(sumi[j]);
        }
        tiled_q5_k_step<NA>(wb, ab, sums, min_sums, acc);
    }
    store_row_lanes<NA>(acc, out);
}

// Q2_K and Q3_K in vec_dot's order (avx2/vec_dot_avx2.cpp; slim has no
// batched order for them): per block, acc = fma(a.d * d, float(sumi lane),
// acc) in 8 lanes, the lanes summed at the end (less Q2_K's mins, one scalar
// chain per output written as vec_dot writes it). Lane l's integer is the
// sum, over the block's eight 32-element chunks, of bytes 4l..4l+3's scaled
// products; here two chunks share a register (lane l and lane 8 + l), which
// are added before the float step, so every lane's integer is vec_dot's.
// Each weight block (its scales decoded once) is unpacked once for the NA
// tokens, where a row-by-row vec_dot unpacked it for every token.
//
// Per type: Row, what a weight block decodes to once (scales, mins, high
// bits); the 64 quants of chunks k and k + 1 of half h; and their products
// with the activations, as 16-bit pair sums.
struct Q2_KRows {
    using Weight = BlockQ2_K;
    static constexpr bool kMins = true;
    struct Row {
        __m128i scales8;
        __m256i mins16;
    };
    static Row row(const Weight& b) {
        const __m128i m4 = _mm_set1_epi8(0x0F);
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
        return {_mm_and_si128(packed, m4),
                _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), m4))};
    }
    static float min_term(const Row& row, const Weight& b, const BlockQ8_K& act) {
        return act.d * f16(b.dmin) *
               float(hsum_i32(_mm256_madd_epi16(row.mins16, load32(act.bsums))));
    }
    static __m512i quants(const Row&, __m512i bits, int /*h*/, int k) {
        return _mm512_and_si512(_mm512_srlv_epi16(bits, two_halves_i16(2 * k, 2 * k + 2)),
                                _mm512_set1_epi8(3));
    }
    static __m512i products(__m512i q, __m512i av) { return _mm512_maddubs_epi16(q, av); }
};

struct Q3_KRows {
    using Weight = BlockQ3_K;
    static constexpr bool kMins = false;
    struct Row {
        __m128i scales8;
        __m512i hmask;  // the block's high bits, in both halves
    };
    static Row row(const Weight& b) {
        return {q3_k_scales(b.scales), _mm512_broadcast_i64x4(load32(b.hmask))};
    }
    static float min_term(const Row&, const Weight&, const BlockQ8_K&) { return 0.0f; }
    // q + 4 * high bit is 0..7; products() takes 4 * a off for the signed value.
    static __m512i quants(const Row& row, __m512i bits, int h, int k) {
        const __m512i hb =
            _mm512_and_si512(_mm512_srlv_epi16(row.hmask, two_halves_i16(4 * h + k, 4 * h + k + 1)),
                             _mm512_set1_epi8(1));
        return _mm512_or_si512(
            _mm512_and_si512(_mm512_srlv_epi16(bits, two_halves_i16(2 * k, 2 * k + 2)),
                             _mm512_set1_epi8(3)),
            _mm512_slli_epi16(hb, 2));
    }
    static __m512i products(__m512i q, __m512i av) {
        return _mm512_sub_epi16(_mm512_maddubs_epi16(q, av),
                                _mm512_maddubs_epi16(_mm512_set1_epi8(4), av));
    }
};

template <class T, int NA>
void tile_q23_k(int64_t n, const void* vw, size_t ws, const void* va, size_t as, float* out) {
    using W = typename T::Weight;
    const char* w = static_cast<const char*>(vw);
    const char* a = static_cast<const char*>(va);
    __m512 acc[2][NA];  // weight rows 2h (low 8 lanes) and 2h + 1 (high 8)
    for (auto& r : acc)
        for (auto& c : r) c = _mm512_setzero_ps();
    float mins[4][NA] = {};
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ8_K* ab[NA];
        for (int j = 0; j < NA; ++j)
            ab[j] = reinterpret_cast<const BlockQ8_K*>(a + size_t(j) * as) + i;
        const W* wb[4];
        __m256i sums[4][NA];  // [r][j]: vec_dot's 8 integer lanes
        for (int r = 0; r < 4; ++r) {
            wb[r] = reinterpret_cast<const W*>(w + size_t(r) * ws) + i;
            const typename T::Row row = T::row(*wb[r]);
            if constexpr (T::kMins) {
                for (int j = 0; j < NA; ++j) mins[r][j] += T::min_term(row, *wb[r], *ab[j]);
            }
            __m512i sumi[NA];
            for (int j = 0; j < NA; ++j) sumi[j] = _mm512_setzero_si512();
            for (int h = 0; h < 2; ++h) {
                const __m512i bits = _mm512_broadcast_i64x4(load32(wb[r]->qs + 32 * h));
                for (int k = 0; k < 4; k += 2) {  // chunks k (low half) and k + 1
                    const __m512i q = T::quants(row, bits, h, k);
                    const __m512i scales = group_scales_x4(row.scales8, 8 * h + 2 * k);
                    for (int j = 0; j < NA; ++j) {
                        const __m512i av = _mm512_loadu_si512(ab[j]->qs + 128 * h + 32 * k);
                        sumi[j] = _mm512_dpwssd_epi32(sumi[j], T::products(q, av), scales);
                    }
                }
            }
            for (int j = 0; j < NA; ++j) sums[r][j] = fold_halves(sumi[j]);
        }
        for (int h = 0; h < 2; ++h) {
            for (int j = 0; j < NA; ++j) {
                const __m512i rows = _mm512_inserti64x4(_mm512_castsi256_si512(sums[2 * h][j]),
                                                        sums[2 * h + 1][j], 1);
                const __m512 d =
                    two_halves(ab[j]->d * f16(wb[2 * h]->d), ab[j]->d * f16(wb[2 * h + 1]->d));
                acc[h][j] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(rows), acc[h][j]);
            }
        }
    }
    for (int j = 0; j < NA; ++j) {
        for (int r = 0; r < 4; ++r) {
            const float sum = half_sum(acc[r / 2][j], r % 2);
            out[r * NA + j] = T::kMins ? sum - mins[r][j] : sum;
        }
    }
}

constexpr int kWide = 6;
constexpr int kQ0Acts = 8;

// A 32-element type's tile over NA prepared activation rows.
template <class T, int NA>
constexpr MatmulTileEntry q0_tile(GgmlType type) {
    return {type, tile_q0<T, NA>, NA, prepare_q0<T, NA>, prepared_q0_bytes<NA>};
}

// Decode: one activation row against 4 weight rows at a time, in vec_dot's
// order (two rows to a register, or for Q6_K two chunks), where vec_dot
// takes one row at a time at 8 lanes.
constexpr MatmulTileEntry kAvx512Gemv[] = {
    q0_tile<Q4_1Tile, 1>(GgmlType::q4_1),    q0_tile<Q5_0Tile, 1>(GgmlType::q5_0),
    q0_tile<Q5_1Tile, 1>(GgmlType::q5_1),    q0_tile<Q8_0Tile, 1>(GgmlType::q8_0),
    {GgmlType::q6_k, tile_q6_k<1, true>, 1}, {GgmlType::q4_k, gemv_q4_k, 1},
};

constexpr MatmulTileEntry kAvx512Tiles[] = {
    {GgmlType::q4_k, tile_q4_k_4x3},
    {GgmlType::q2_k, tile_q23_k<Q2_KRows, kWide>, kWide},
    {GgmlType::q3_k, tile_q23_k<Q3_KRows, kWide>, kWide},
    {GgmlType::q5_k, tile_q5_k<kWide>, kWide},
    {GgmlType::q6_k, tile_q6_k<kWide>, kWide},
    q0_tile<Q4_0Tile, kQ0Acts>(GgmlType::q4_0),
    q0_tile<Q4_1Tile, kQ0Acts>(GgmlType::q4_1),
    q0_tile<Q5_0Tile, kQ0Acts>(GgmlType::q5_0),
    q0_tile<Q5_1Tile, kQ0Acts>(GgmlType::q5_1),
    q0_tile<Q8_0Tile, kQ0Acts>(GgmlType::q8_0),
    q0_tile<IQ4_NLTile, kQ0Acts>(GgmlType::iq4_nl),
};
static_assert(kWide <= kMaxTileRows && kQ0Acts <= kMaxTileRows);

}  // namespace

std::span<const MatmulTileEntry> avx512_tile_table() {
    return kAvx512Tiles;
}

std::span<const MatmulTileEntry> avx512_gemv_table() {
    return kAvx512Gemv;
}

}  // namespace slim::cpu
