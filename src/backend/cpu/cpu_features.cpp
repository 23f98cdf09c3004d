#include "backend/cpu/cpu_features.h"

#include <cpuid.h>

#include <cstdlib>
#include <string>

#include "format/error.h"

namespace slim::cpu {

namespace {

// XCR0 state components (Intel SDM vol. 1, 13.1).
constexpr uint64_t kXcr0Sse = 1u << 1;
constexpr uint64_t kXcr0Ymm = 1u << 2;
constexpr uint64_t kXcr0Opmask = 1u << 5;
constexpr uint64_t kXcr0ZmmHi256 = 1u << 6;
constexpr uint64_t kXcr0Hi16Zmm = 1u << 7;
constexpr uint64_t kXcr0TileCfg = 1u << 17;
constexpr uint64_t kXcr0TileData = 1u << 18;

// xgetbv as inline assembly: the _xgetbv intrinsic needs -mxsave on the
// whole file, which would let the compiler use XSAVE elsewhere in it.
uint64_t read_xcr0() {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (uint64_t(edx) << 32) | eax;
}

CpuFeatures detect() {
    CpuFeatures f;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    const bool osxsave = ecx & bit_OSXSAVE;
    const bool avx = ecx & bit_AVX;
    const bool fma = ecx & bit_FMA;
    const bool f16c = ecx & bit_F16C;
    if (!osxsave || !avx) return f;
    f.xcr0 = read_xcr0();
    const bool ymm_state = (f.xcr0 & (kXcr0Sse | kXcr0Ymm)) == (kXcr0Sse | kXcr0Ymm);
    const uint64_t zmm_bits = kXcr0Opmask | kXcr0ZmmHi256 | kXcr0Hi16Zmm;
    const bool zmm_state = ymm_state && (f.xcr0 & zmm_bits) == zmm_bits;
    const bool tile_state =
        (f.xcr0 & (kXcr0TileCfg | kXcr0TileData)) == (kXcr0TileCfg | kXcr0TileData);
    if (!ymm_state) return f;
    f.fma = fma;
    f.f16c = f16c;
    if (__get_cpuid_max(0, nullptr) < 7) return f;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    f.avx2 = ebx & bit_AVX2;
    f.avx512f = zmm_state && (ebx & bit_AVX512F);
    f.avx512bw = zmm_state && (ebx & bit_AVX512BW);
    f.avx512vl = zmm_state && (ebx & bit_AVX512VL);
    f.avx512vnni = zmm_state && (ecx & bit_AVX512VNNI);
    // AMX-TILE is EDX bit 24, AMX-INT8 bit 25 (named in newer <cpuid.h> only).
    f.amx_tile = tile_state && (edx & (1u << 24));
    f.amx_int8 = tile_state && (edx & (1u << 25));
    return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = detect();
    return features;
}

std::string_view isa_name(Isa isa) {
    switch (isa) {
        case Isa::scalar:
            return "scalar";
        case Isa::avx2:
            return "avx2";
        case Isa::avx512:
            return "avx512";
        case Isa::amx:
            return "amx";
    }
    return "?";
}

bool isa_supported(Isa isa, const CpuFeatures& f) {
    const bool avx2 = f.avx2 && f.fma && f.f16c;
    const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
    switch (isa) {
        case Isa::scalar:
            return true;
        case Isa::avx2:
            return avx2;
        case Isa::avx512:
            return avx512;
        case Isa::amx:
            return avx512 && f.amx_tile && f.amx_int8;
    }
    return false;
}

namespace {

Isa choose_isa() {
    const CpuFeatures& f = cpu_features();
    const char* forced = std::getenv("SLIM_ISA");
    if (forced && *forced) {
        for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512, Isa::amx}) {
            if (isa_name(isa) != forced) continue;
            if (!isa_supported(isa, f)) {
                throw Error(ErrorKind::invalid_argument, "", "SLIM_ISA", std::nullopt,
                            "an instruction set this CPU and OS support", forced);
            }
            return isa;
        }
        throw Error(ErrorKind::invalid_argument, "", "SLIM_ISA", std::nullopt,
                    "scalar, avx2, avx512 or amx", forced);
    }
    // The best level slim has kernels for: AMX tiles are not written yet.
    for (Isa isa : {Isa::avx512, Isa::avx2}) {
        if (isa_supported(isa, f)) return isa;
    }
    return Isa::scalar;
}

}  // namespace

Isa active_isa() {
    static const Isa isa = choose_isa();
    return isa;
}

}  // namespace slim::cpu
