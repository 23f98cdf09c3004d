// The CPU feature checks that decide which kernels may run: AMX in
// particular needs the kernel's permission and a probe, and must fail
// closed (no AMX, a clear reason) rather than crash.
#include "backend/cpu/cpu_features.h"

#include <gtest/gtest.h>

#include <cpuid.h>

#include <cstdlib>

#include "format/error.h"

namespace slim::cpu {
namespace {

bool cpuid_reports_amx() {
    unsigned eax, ebx, ecx, edx;
    if (__get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (edx & (1u << 24)) && (edx & (1u << 25));
}

TEST(CpuFeatures, AmxReadyOnlyWithPermissionAndProbe) {
    const CpuFeatures& f = cpu_features();
    if (f.amx_ready) {
        EXPECT_TRUE(f.amx_tile && f.amx_int8);
        EXPECT_TRUE(f.amx_refused.empty());
        // Permission was granted in cpu_features(): the probe runs again.
        EXPECT_TRUE(amx_probe_runs());
    } else if (f.amx_tile && f.amx_int8) {
        EXPECT_FALSE(f.amx_refused.empty()) << "AMX present but not ready needs a reason";
    } else {
        EXPECT_TRUE(f.amx_refused.empty());
    }
    EXPECT_EQ(isa_supported(Isa::amx, f), isa_supported(Isa::avx512, f) && f.amx_ready);
}

// On a CPU without AMX, ldtilecfg is an undefined opcode: the probe must
// catch the SIGILL and answer false. (With AMX and the permission it must
// answer true; that case is checked above.)
TEST(CpuFeatures, AmxProbeFailsClosedWithoutAmx) {
    if (cpuid_reports_amx()) GTEST_SKIP() << "this CPU has AMX";
    EXPECT_FALSE(amx_probe_runs());
    EXPECT_FALSE(amx_probe_runs()) << "the SIGILL handler must be reinstalled each time";
}

TEST(CpuFeatures, SupportedLevelsNest) {
    const CpuFeatures& f = cpu_features();
    EXPECT_TRUE(isa_supported(Isa::scalar, f));
    if (isa_supported(Isa::amx, f)) {
        EXPECT_TRUE(isa_supported(Isa::avx512, f));
    }
    if (isa_supported(Isa::avx512, f)) {
        EXPECT_TRUE(isa_supported(Isa::avx2, f));
    }
    // A feature the OS does not save (XCR0) does not count.
    if (!(f.xcr0 & (1u << 2))) {
        EXPECT_FALSE(isa_supported(Isa::avx2, f));
    }
}

}  // namespace
}  // namespace slim::cpu
