// AVX2 tiles for the K-quants that llama.cpp multiplies in a batched order
// (Q4_K repacked, Q5_K and Q6_K tiled; kernels.h, BatchOrder): the contract
// of kernels.h's MatmulTileFn, each of the 12 sums bit for bit the
// vec_dot_batch's of avx2/vec_dot_avx2.cpp. Without them a prefill unpacks
// every weight block once per token; here once per 3 tokens, and each
// activation vector serves 4 weight rows.
//
// The integer parts are vec_dot's. The float steps, which fix the result,
// are scalar there and run here on 4 lanes at once, lane r for weight row r:
// a lane's multiply, add or fused multiply-add rounds exactly as the scalar
// one, so only the horizontal integer sums are shared (hsum4_i32, exact).
//
// This file alone is compiled with -mavx2 -mfma -mf16c (CMakeLists.txt).
#include <immintrin.h>

#include "backend/cpu/kernels.h"
#include "backend/cpu/x86_simd.h"
#include "tensor/blocks.h"

namespace slim::cpu {

namespace {

constexpr int NA = kTileActRows;

template <class Block>
const Block* block_at(const void* base, size_t stride, int row, int64_t i) {
    return reinterpret_cast<const Block*>(static_cast<const char*>(base) + stride * size_t(row)) +
           i;
}

// Q4_K in the repacked gemm's order (gemm_dot_q4_k_q8_k): per 64 elements,
// acc = fma(float(scaled integer sum), d * a.d, acc) and mins = fma(float(min
// sum), dmin * a.d, mins); the result acc - mins.
void tile_q4_k_4x3(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m128 acc[NA], mins[NA];
    for (int j = 0; j < NA; ++j) acc[j] = mins[j] = _mm_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ4_K* wb[4];
        __m256i scales[4];
        alignas(16) uint8_t sm8[4][16];  // bytes 0-7 scales, 8-15 mins
        for (int r = 0; r < 4; ++r) {
            wb[r] = block_at<BlockQ4_K>(w, ws, r, i);
            const __m128i packed = k4_scales_mins(wb[r]->scales);
            _mm_store_si128(reinterpret_cast<__m128i*>(sm8[r]), packed);
            const __m256i sm = _mm256_cvtepu8_epi16(packed);
            scales[r] = _mm256_permute2x128_si256(sm, sm, 0x00);
        }
        const __m128 wd = rows_f16([&](int r) { return wb[r]->d; });
        const __m128 wdmin = rows_f16([&](int r) { return wb[r]->dmin; });
        const BlockQ8_K* ab[NA];
        __m128 d[NA], dmin[NA];
        for (int j = 0; j < NA; ++j) {
            ab[j] = block_at<BlockQ8_K>(a, as, j, i);
            d[j] = _mm_mul_ps(wd, _mm_set1_ps(ab[j]->d));
            dmin[j] = _mm_mul_ps(wdmin, _mm_set1_ps(ab[j]->d));
        }
        for (int c = 0; c < 4; ++c) {  // sub-blocks 2c (low nibbles) and 2c + 1 (high)
            __m256i sums[NA][4];
            for (int r = 0; r < 4; ++r) {
                const __m256i bits = load32(wb[r]->qs + 32 * c);
                const __m256i lo = _mm256_and_si256(bits, m4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
                const __m256i s_lo = broadcast_i16(scales[r], 2 * c);
                const __m256i s_hi = broadcast_i16(scales[r], 2 * c + 1);
                for (int j = 0; j < NA; ++j) {
                    const __m256i p_lo = _mm256_maddubs_epi16(lo, load32(ab[j]->qs + 64 * c));
                    const __m256i p_hi = _mm256_maddubs_epi16(hi, load32(ab[j]->qs + 64 * c + 32));
                    sums[j][r] = _mm256_add_epi32(_mm256_madd_epi16(s_lo, p_lo),
                                                  _mm256_madd_epi16(s_hi, p_hi));
                }
            }
            const __m128i min_lo = _mm_setr_epi32(sm8[0][8 + 2 * c], sm8[1][8 + 2 * c],
                                                  sm8[2][8 + 2 * c], sm8[3][8 + 2 * c]);
            const __m128i min_hi = _mm_setr_epi32(sm8[0][9 + 2 * c], sm8[1][9 + 2 * c],
                                                  sm8[2][9 + 2 * c], sm8[3][9 + 2 * c]);
            for (int j = 0; j < NA; ++j) {
                acc[j] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_i32(sums[j])), d[j], acc[j]);
                const int16_t* bs = ab[j]->bsums + 4 * c;
                const __m128i min_sum =
                    _mm_add_epi32(_mm_mullo_epi32(min_lo, _mm_set1_epi32(bs[0] + bs[1])),
                                  _mm_mullo_epi32(min_hi, _mm_set1_epi32(bs[2] + bs[3])));
                mins[j] = _mm_fmadd_ps(_mm_cvtepi32_ps(min_sum), dmin[j], mins[j]);
            }
        }
    }
    for (int j = 0; j < NA; ++j) acc[j] = _mm_sub_ps(acc[j], mins[j]);
    store_row_lanes<NA>(acc, out);
}

// Q5_K in the tiled order (tiled_dot_q5_k_q8_k): per block,
// acc = fma(fma(-dmin, float(min sum), float(sum) * d), a.d, acc).
void tile_q5_k_4x3(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i one = _mm256_set1_epi8(1);
    __m128 acc[NA];
    for (int j = 0; j < NA; ++j) acc[j] = _mm_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ8_K* ab[NA];
        for (int j = 0; j < NA; ++j) ab[j] = block_at<BlockQ8_K>(a, as, j, i);
        const BlockQ5_K* wb[4];
        __m256i sums[NA][4];
        alignas(16) int min_sums[NA][4];
        for (int r = 0; r < 4; ++r) {
            wb[r] = block_at<BlockQ5_K>(w, ws, r, i);
            const __m256i sm = _mm256_cvtepu8_epi16(k4_scales_mins(wb[r]->scales));
            for (int j = 0; j < NA; ++j) min_sums[j][r] = k4_mins_dot(sm, ab[j]->bsums);
            const __m256i scales = _mm256_permute2x128_si256(sm, sm, 0x00);
            const __m256i qh = load32(wb[r]->qh);
            __m256i sumi[NA];
            for (int j = 0; j < NA; ++j) sumi[j] = _mm256_setzero_si256();
            for (int c = 0; c < 4; ++c) {
                const __m256i bits = load32(wb[r]->qs + 32 * c);
                const __m256i h_lo =
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4);
                const __m256i h_hi =
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4);
                const __m256i q_lo = _mm256_or_si256(_mm256_and_si256(bits, m4), h_lo);
                const __m256i q_hi =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h_hi);
                const __m256i s_lo = broadcast_i16(scales, 2 * c);
                const __m256i s_hi = broadcast_i16(scales, 2 * c + 1);
                for (int j = 0; j < NA; ++j) {
                    const __m256i lo = _mm256_maddubs_epi16(q_lo, load32(ab[j]->qs + 64 * c));
                    const __m256i hi = _mm256_maddubs_epi16(q_hi, load32(ab[j]->qs + 64 * c + 32));
                    sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(s_lo, lo));
                    sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(s_hi, hi));
                }
            }
            for (int j = 0; j < NA; ++j) sums[j][r] = sumi[j];
        }
        tiled_q5_k_step<NA>(wb, ab, sums, min_sums, acc);
    }
    store_row_lanes<NA>(acc, out);
}

// Q6_K in the tiled order (tiled_dot_q6_k_q8_k): per block,
// acc = fma(float(sum - 32 * offset sum) * d, a.d, acc).
void tile_q6_k_4x3(int64_t n, const void* w, size_t ws, const void* a, size_t as, float* out) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m2 = _mm256_set1_epi8(3);
    __m128 acc[NA];
    for (int j = 0; j < NA; ++j) acc[j] = _mm_setzero_ps();
    for (int64_t i = 0; i < n / kQK_K; ++i) {
        const BlockQ8_K* ab[NA];
        for (int j = 0; j < NA; ++j) ab[j] = block_at<BlockQ8_K>(a, as, j, i);
        const BlockQ6_K* wb[4];
        __m256i sums[NA][4];
        for (int r = 0; r < 4; ++r) {
            wb[r] = block_at<BlockQ6_K>(w, ws, r, i);
            const __m128i scales8 =
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[r]->scales));
            const __m256i scales16 = _mm256_cvtepi8_epi16(scales8);
            __m256i sumi[NA];
            for (int j = 0; j < NA; ++j) {
                // vec_dot's offset of 32, taken off per lane from the activation sums.
                sumi[j] = _mm256_sub_epi32(
                    _mm256_setzero_si256(),
                    _mm256_slli_epi32(_mm256_madd_epi16(load32(ab[j]->bsums), scales16), 5));
            }
            for (int h = 0; h < 2; ++h) {
                const __m256i ql0 = load32(wb[r]->ql + 64 * h);
                const __m256i ql1 = load32(wb[r]->ql + 64 * h + 32);
                const __m256i qh = load32(wb[r]->qh + 32 * h);
                const __m256i q[4] = {_mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                                      _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                      _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4)};
                for (int k = 0; k < 4; ++k) {
                    const __m256i high =
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m2), 4);
                    const __m256i qk = _mm256_or_si256(q[k], high);
                    const __m256i sc = pair_scales_i8(scales8, 8 * h + 2 * k);
                    for (int j = 0; j < NA; ++j) {
                        const __m256i p =
                            _mm256_maddubs_epi16(qk, load32(ab[j]->qs + 128 * h + 32 * k));
                        sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(sc, p));
                    }
                }
            }
            for (int j = 0; j < NA; ++j) sums[j][r] = sumi[j];
        }
        tiled_q6_k_step<NA>(wb, ab, sums, acc);
    }
    store_row_lanes<NA>(acc, out);
}

constexpr MatmulTileEntry kAvx2KTiles[] = {
    {GgmlType::q4_k, tile_q4_k_4x3},
    {GgmlType::q5_k, tile_q5_k_4x3},
    {GgmlType::q6_k, tile_q6_k_4x3},
};

}  // namespace

std::span<const MatmulTileEntry> avx2_k_tile_table() {
    return kAvx2KTiles;
}

}  // namespace slim::cpu
