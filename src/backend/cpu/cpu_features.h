// Which x86 instruction sets this process may use, and which one the CPU
// kernels run with. A feature counts only when the CPU has it (cpuid) and the
// OS saves its registers across context switches (XCR0 via xgetbv): a CPU
// with AVX-512 under an OS or hypervisor that does not enable ZMM state
// faults on the first AVX-512 instruction.
//
// cpuid is read directly rather than through libcpuinfo: Debian 12's
// libcpuinfo (a 2022-06 snapshot) has no AMX fields, and the check is short.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace slim::cpu {

struct CpuFeatures {
    // Each flag is set only if the CPU reports it and XCR0 enables its state.
    bool avx2 = false;
    bool fma = false;
    bool f16c = false;
    bool avx512f = false;
    bool avx512bw = false;
    bool avx512vl = false;
    bool avx512vnni = false;
    bool amx_tile = false;
    bool amx_int8 = false;
    // AMX needs a third step: Linux keeps the tile data state off in each
    // process (XFD) until the process asks for it with arch_prctl; without
    // it, the first instruction that touches a tile dies with SIGILL. Set
    // only when the CPU has AMX-TILE and AMX-INT8, the kernel granted the
    // permission and a probe ran tile instructions without faulting.
    bool amx_ready = false;
    // Why amx_ready is false on a CPU that has AMX (empty otherwise).
    std::string amx_refused;
    uint64_t xcr0 = 0;  // 0 when the OS has not enabled xgetbv (no OSXSAVE)
};

// Detected once, on first call (which also asks the kernel for AMX tile
// data, on CPUs that have AMX).
const CpuFeatures& cpu_features();

// Runs one AMX tile configuration, zeroing, int8 product and release with SIGILL caught:
// true when they ran. False, and no crash, on a CPU or in a process without
// AMX tile data (for tests; cpu_features() calls it once, after the
// arch_prctl request).
bool amx_probe_runs();

// Kernel tables, weakest first. Each level includes the ones before it.
enum class Isa { scalar, avx2, avx512, amx };

std::string_view isa_name(Isa isa);

// Whether the CPU and OS can run a table's kernels.
bool isa_supported(Isa isa, const CpuFeatures& f);

// The ISA the CPU backend uses: SLIM_ISA=scalar|avx2|avx512|amx when set,
// else the best the CPU supports that slim has kernels for. Decided on the
// first call. Throws Error (invalid_argument) when SLIM_ISA names an unknown
// level or one this CPU cannot run.
Isa active_isa();

// The first non-null lookup(isa) from the active ISA down to `lowest`: how
// every kernel table falls back, one level at a time, for a type it lacks
// (as ggml's arch-fallback.h does).
template <class Lookup>
auto at_active_isa_or_below(Isa lowest, Lookup&& lookup) -> decltype(lookup(lowest)) {
    for (int level = int(active_isa()); level >= int(lowest); --level)
        if (auto found = lookup(Isa(level))) return found;
    return nullptr;
}

}  // namespace slim::cpu
