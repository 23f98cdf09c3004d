#include "backend/cpu/cpu_features.h"

#include <asm/prctl.h>
#include <cpuid.h>
#include <fmt/format.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// Linux's names for the AMX permission requests (asm/prctl.h has them only
// from 5.16's headers on) and the state component they are about.
#ifndef ARCH_GET_XCOMP_PERM
#define ARCH_GET_XCOMP_PERM 0x1022
#endif
#ifndef ARCH_REQ_XCOMP_PERM
#define ARCH_REQ_XCOMP_PERM 0x1023
#endif
constexpr unsigned long kXfeatureTileData = 18;

// Asks the kernel to let this process use AMX tile data; empty on success,
// else why not.
std::string request_amx_permission() {
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, kXfeatureTileData) != 0) {
        return fmt::format("the kernel refused AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM: {})",
                           std::strerror(errno));
    }
    unsigned long granted = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &granted) != 0 ||
        !(granted & (1ul << kXfeatureTileData))) {
        return "the kernel did not grant AMX tile data (arch_prctl ARCH_GET_XCOMP_PERM)";
    }
    return {};
}

sigjmp_buf probe_jump;
void probe_on_sigill(int) {
    siglongjmp(probe_jump, 1);
}

}  // namespace

// A hypervisor can report AMX in cpuid and XCR0 and still trap the tile
// instructions, hence the probe. The mnemonics are assembled as they are (binutils >= 2.36),
// so this file needs no -mamx-tile. Called once, before any thread of
// slim's starts.
bool amx_probe_runs() {
    struct sigaction on_sigill {
    }, previous{};
    on_sigill.sa_handler = probe_on_sigill;
    sigemptyset(&on_sigill.sa_mask);
    if (sigaction(SIGILL, &on_sigill, &previous) != 0) return false;
    bool ran = false;
    if (sigsetjmp(probe_jump, 1) == 0) {
        // Palette 1, tiles 0-2 one row of 4 bytes each (ldtilecfg's 64-byte
        // layout: palette, start row, 14 reserved, 16 x u16 bytes per row,
        // 16 x u8 rows), and one product of the kind the kernels run.
        alignas(64) unsigned char config[64] = {};
        config[0] = 1;
        for (int t = 0; t < 3; ++t) {
            config[16 + 2 * t] = 4;
            config[48 + t] = 1;
        }
        __asm__ volatile(
            "ldtilecfg %0\n\t"
            "tilezero %%tmm0\n\t"
            "tilezero %%tmm1\n\t"
            "tilezero %%tmm2\n\t"
            "tdpbssd %%tmm2, %%tmm1, %%tmm0\n\t"
            "tilerelease" ::"m"(config));
        ran = true;
    }
    sigaction(SIGILL, &previous, nullptr);
    return ran;
}

namespace {

// Sets amx_ready (or says why not) for a CPU whose cpuid and XCR0 report AMX.
void enable_amx(CpuFeatures& f) {
    if (!(f.amx_tile && f.amx_int8)) return;
    f.amx_refused = request_amx_permission();
    if (!f.amx_refused.empty()) return;
    if (!amx_probe_runs()) {
        f.amx_refused = "a probe of the tile instructions raised SIGILL";
        return;
    }
    f.amx_ready = true;
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
    enable_amx(f);
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
            return avx512 && f.amx_ready;
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
                const std::string found = isa == Isa::amx && !f.amx_refused.empty()
                                              ? fmt::format("{} ({})", forced, f.amx_refused)
                                              : std::string(forced);
                throw Error(ErrorKind::invalid_argument, "", "SLIM_ISA", std::nullopt,
                            "an instruction set this CPU and OS support", found);
            }
            return isa;
        }
        throw Error(ErrorKind::invalid_argument, "", "SLIM_ISA", std::nullopt,
                    "scalar, avx2, avx512 or amx", forced);
    }
    Isa best = Isa::scalar;
    for (Isa isa : {Isa::amx, Isa::avx512, Isa::avx2}) {
        if (isa_supported(isa, f)) {
            best = isa;
            break;
        }
    }
    if (!f.amx_refused.empty())
        std::fprintf(stderr, "slim: not using AMX: %s; using %s\n", f.amx_refused.c_str(),
                     std::string(isa_name(best)).c_str());
    return best;
}

}  // namespace

Isa active_isa() {
    static const Isa isa = choose_isa();
    return isa;
}

}  // namespace slim::cpu
