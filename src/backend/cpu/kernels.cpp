// Kernel dispatch: one table per ISA, the best one picked once at start-up.
#include "backend/cpu/kernels.h"

namespace slim::cpu {

const MatmulKernel* isa_matmul_kernel(Isa isa, GgmlType weight_type) {
    switch (isa) {
        case Isa::scalar:
            return scalar_matmul_kernel(weight_type);
        case Isa::avx2:
            return avx2_matmul_kernel(weight_type);
        case Isa::avx512:
        case Isa::amx:
            return nullptr;  // no tables yet: they fall back to AVX2
    }
    return nullptr;
}

const MatmulKernel* matmul_kernel(GgmlType weight_type) {
    const Isa active = active_isa();
    for (int level = int(active); level >= int(Isa::scalar); --level) {
        if (const MatmulKernel* k = isa_matmul_kernel(Isa(level), weight_type)) return k;
    }
    return nullptr;
}

}  // namespace slim::cpu
