// f16 and bf16 conversions: named edge cases (inf, NaN, subnormals, ties,
// overflow), then sweeps checked against exact arithmetic in double, which
// knows nothing of the bit tricks in fp16.h. (The same conversions are also
// checked against numpy through the F16/BF16 reference files.)
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "tensor/fp16.h"

namespace slim {
namespace {

float from_bits(uint32_t u) {
    return std::bit_cast<float>(u);
}

// The exact value of a non-NaN f16 bit pattern.
double half_value(uint16_t h) {
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (exp == 0x1f) return sign * std::numeric_limits<double>::infinity();
    if (exp == 0) return sign * std::ldexp(double(mant), -24);
    return sign * std::ldexp(double(1024 + mant), exp - 25);
}

// What round-to-nearest-even to f16 must give for a finite f, from the
// definition: the nearer of the two f16 neighbours, the even one on a tie,
// infinity from 65520 up (the midpoint between 65504 and the next step).
uint16_t nearest_half(float f) {
    const double v = std::fabs(double(f));
    const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    if (v >= 65520.0) return sign | 0x7c00;
    // Non-negative f16 patterns are ordered like their values: binary search.
    uint16_t lo = 0, hi = 0x7bff;
    while (lo < hi) {
        const uint16_t mid = uint16_t((lo + hi + 1) / 2);
        if (half_value(mid) <= v)
            lo = mid;
        else
            hi = uint16_t(mid - 1);
    }
    if (half_value(lo) == v || lo == 0x7bff) return sign | lo;
    const double below = v - half_value(lo);
    const double above = half_value(uint16_t(lo + 1)) - v;
    if (below < above) return sign | lo;
    if (above < below) return sign | uint16_t(lo + 1);
    return sign | ((lo & 1) ? uint16_t(lo + 1) : lo);
}

TEST(Fp16, NamedValues) {
    EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
    EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
    EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
    EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
    EXPECT_EQ(fp32_to_fp16(std::nextafter(65520.0f, 0.0f)), 0x7bff);
    EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // the tie rounds to even: infinity
    EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
    EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xfc00);
}

TEST(Fp16, NansBecomeGgmlsQuietNan) {
    EXPECT_EQ(fp32_to_fp16(from_bits(0x7fc00000)), 0x7e00);
    EXPECT_EQ(fp32_to_fp16(from_bits(0xffc00000)), 0xfe00);
    EXPECT_EQ(fp32_to_fp16(from_bits(0x7f800001)), 0x7e00);  // signalling, payload dropped
    EXPECT_EQ(fp32_to_fp16(from_bits(0x7fffffff)), 0x7e00);
    EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7e00)));
    EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7c01)));
    EXPECT_EQ(std::bit_cast<uint32_t>(fp16_to_fp32(0x7e00)), 0x7fc00000u);
    EXPECT_EQ(std::bit_cast<uint32_t>(fp16_to_fp32(0xfd55)), 0xffaaa000u);  // payload kept
}

TEST(Fp16, Subnormals) {
    EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
    EXPECT_EQ(fp16_to_fp32(0x83ff), -std::ldexp(1023.0f, -24));
    EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));
    EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);
    EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie: to even (zero)
    EXPECT_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
    EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);  // tie between 1 and 2: even
    EXPECT_EQ(fp32_to_fp16(std::ldexp(5.0f, -25)), 0x0002);  // tie between 2 and 3: even
    EXPECT_EQ(fp32_to_fp16(-std::ldexp(1.0f, -26)), 0x8000);
    // The largest subnormal and the smallest normal, and the tie between them.
    EXPECT_EQ(fp32_to_fp16(std::ldexp(1023.0f, -24)), 0x03ff);
    EXPECT_EQ(fp32_to_fp16(std::ldexp(2047.0f, -25)), 0x0400);
    EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);
    EXPECT_EQ(fp32_to_fp16(1e-30f), 0x0000);
}

TEST(Fp16, NormalTies) {
    EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // 1 + half ulp: even
    EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // odd below: up
    EXPECT_EQ(fp32_to_fp16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
    EXPECT_EQ(fp32_to_fp16(2047.5f), 0x6800);  // 2047.5 -> tie between 2047 and 2048: 2048 even
    EXPECT_EQ(fp32_to_fp16(-(2.0f - std::ldexp(1.0f, -11))), 0xc000);  // mantissa carry
}

// Every f16 widens to its exact value and narrows back to itself.
TEST(Fp16, AllHalvesRoundTrip) {
    for (uint32_t u = 0; u <= 0xffff; ++u) {
        const auto h = uint16_t(u);
        const float f = fp16_to_fp32(h);
        if (((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff)) {
            ASSERT_TRUE(std::isnan(f)) << std::hex << h;
            continue;
        }
        ASSERT_EQ(double(f), half_value(h)) << std::hex << h;
        ASSERT_EQ(fp32_to_fp16(f), h) << std::hex << h;
    }
}

// Every midpoint between neighbouring halves, and the floats either side.
TEST(Fp16, AllMidpointsRoundToNearestEven) {
    for (uint16_t h = 0; h < 0x7bff; ++h) {
        const auto mid = float((half_value(h) + half_value(uint16_t(h + 1))) / 2);  // exact
        for (float f : {std::nextafter(mid, 0.0f), mid, std::nextafter(mid, 1e9f)}) {
            ASSERT_EQ(fp32_to_fp16(f), nearest_half(f)) << f;
            ASSERT_EQ(fp32_to_fp16(-f), nearest_half(-f)) << -f;
        }
    }
}

// A strided sweep of all finite float bit patterns.
TEST(Fp16, SweepMatchesExactRounding) {
    for (uint64_t u = 0; u < (1ull << 32); u += 4099) {
        const float f = from_bits(uint32_t(u));
        if (!std::isfinite(f)) continue;
        ASSERT_EQ(fp32_to_fp16(f), nearest_half(f)) << std::hexfloat << f;
    }
}

TEST(Bf16, NamedValues) {
    EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
    EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808000)), 0x3f80);  // tie, even below: down
    EXPECT_EQ(fp32_to_bf16(from_bits(0x3f818000)), 0x3f82);  // tie, odd below: up
    EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808001)), 0x3f81);
    EXPECT_EQ(fp32_to_bf16(from_bits(0x7f7fffff)), 0x7f80);  // FLT_MAX rounds to infinity
    EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
    EXPECT_EQ(fp32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
    EXPECT_EQ(fp32_to_bf16(from_bits(0x00008000)), 0x0000);  // subnormal tie: kept, to even
    EXPECT_EQ(fp32_to_bf16(from_bits(0x00018000)), 0x0002);
    EXPECT_EQ(fp32_to_bf16(from_bits(0x7fc00000)), 0x7fc0);
    EXPECT_EQ(fp32_to_bf16(from_bits(0x7f800001)), 0x7fc0);  // signalling NaN made quiet
    EXPECT_EQ(fp32_to_bf16(from_bits(0xffa12345)), 0xffe1);
    EXPECT_EQ(std::bit_cast<uint32_t>(bf16_to_fp32(0x7f81)), 0x7f810000u);
    EXPECT_EQ(bf16_to_fp32(0x0001), from_bits(0x00010000));
}

// The magnitude of a bf16 pattern with an unbounded exponent: the step past
// the largest finite value is 2^128, as IEEE rounding assumes before it
// overflows to infinity.
double bf16_magnitude(uint16_t b) {
    const int exp = (b >> 7) & 0xff;
    const int mant = b & 0x7f;
    if (exp == 0) return std::ldexp(double(mant), -133);
    return std::ldexp(double(128 + mant), exp - 134);
}

TEST(Bf16, SweepMatchesExactRounding) {
    for (uint64_t u = 0; u < (1ull << 32); u += 257) {
        const float f = from_bits(uint32_t(u));
        if (std::isnan(f)) continue;
        // The bf16 below f in magnitude (truncation) and the one above; the
        // nearer wins, the even one on a tie.
        const auto down = uint16_t(u >> 16);
        const double v = std::fabs(double(f));
        uint16_t want = down;
        if ((u & 0xffff) != 0 && std::isfinite(f)) {
            const double d_lo = v - bf16_magnitude(down);
            const double d_hi = bf16_magnitude(uint16_t(down + 1)) - v;
            if (d_hi < d_lo || (d_hi == d_lo && (down & 1))) want = uint16_t(down + 1);
        }
        ASSERT_EQ(fp32_to_bf16(f), want) << std::hex << u;
    }
}

}  // namespace
}  // namespace slim
