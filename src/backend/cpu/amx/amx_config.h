// Tile configuration for the AMX kernel files (compiled with -mamx-tile).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace slim::cpu {
namespace {

// ldtilecfg's 64-byte layout: palette, start row, 14 reserved bytes, 16
// u16 bytes-per-row, 16 u8 rows.
struct alignas(64) TileConfig {
    uint8_t palette = 1;
    uint8_t start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};

    TileConfig& tile(int t, int n_rows, int bytes_per_row) {
        rows[t] = uint8_t(n_rows);
        colsb[t] = uint16_t(bytes_per_row);
        return *this;
    }
};
static_assert(sizeof(TileConfig) == 64);

// Loads c unless it is this thread's configuration already: the kernels
// are called per tile of a matmul, and ldtilecfg costs more than a compare.
// (Not _tile_loadconfig: GCC 12's tells the compiler that it reads only the
// first 8 bytes, and the stores of the rest were optimised away.)
inline void use_tile_config(const TileConfig& c) {
    thread_local TileConfig loaded{.palette = 0};
    if (std::memcmp(&loaded, &c, sizeof c) == 0) return;
    __asm__ volatile("ldtilecfg %0" ::"m"(c));
    loaded = c;
}

}  // namespace
}  // namespace slim::cpu
