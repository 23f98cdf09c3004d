// Kernel dispatch: one table per ISA, the best one picked once at start-up.
#include "backend/cpu/kernels.h"

namespace slim::cpu {

namespace {

std::span<const MatmulKernelEntry> kernel_table(Isa isa) {
    switch (isa) {
        case Isa::scalar:
            return scalar_kernel_table();
        case Isa::avx2:
            return avx2_kernel_table();
        case Isa::avx512:
        case Isa::amx:
            return {};  // no tables yet: they fall back to AVX2
    }
    return {};
}

}  // namespace

const MatmulKernel* isa_matmul_kernel(Isa isa, GgmlType weight_type) {
    for (const MatmulKernelEntry& e : kernel_table(isa)) {
        if (e.weight == weight_type) return &e.kernel;
    }
    return nullptr;
}

const MatmulKernel* scalar_matmul_kernel(GgmlType weight_type) {
    return isa_matmul_kernel(Isa::scalar, weight_type);
}

const MatmulKernel* matmul_kernel(GgmlType weight_type) {
    return at_active_isa_or_below(Isa::scalar,
                                  [&](Isa isa) { return isa_matmul_kernel(isa, weight_type); });
}

const MatmulTileEntry* isa_matmul_tiles(Isa isa, GgmlType weight_type) {
    std::span<const MatmulTileEntry> tables[2];
    if (isa == Isa::avx2) {
        tables[0] = avx2_tile_table();
        tables[1] = avx2_k_tile_table();
    }
    if (isa == Isa::avx512) tables[0] = avx512_tile_table();
    if (isa == Isa::amx) tables[0] = amx_tile_table();
    for (std::span<const MatmulTileEntry> table : tables) {
        for (const MatmulTileEntry& e : table) {
            if (e.weight == weight_type) return &e;
        }
    }
    return nullptr;
}

const MatmulTileEntry* matmul_tiles(GgmlType weight_type) {
    return at_active_isa_or_below(Isa::avx2,
                                  [&](Isa isa) { return isa_matmul_tiles(isa, weight_type); });
}

const MatmulTileEntry* matmul_narrow_tiles(GgmlType weight_type) {
    if (active_isa() != Isa::amx || !isa_matmul_tiles(Isa::amx, weight_type)) return nullptr;
    for (Isa isa : {Isa::avx512, Isa::avx2}) {
        if (const MatmulTileEntry* e = isa_matmul_tiles(isa, weight_type)) return e;
    }
    return nullptr;
}

const MatmulTileEntry* isa_matmul_gemv(Isa isa, GgmlType weight_type) {
    if (isa != Isa::avx512) return nullptr;
    for (const MatmulTileEntry& e : avx512_gemv_table()) {
        if (e.weight == weight_type) return &e;
    }
    return nullptr;
}

const MatmulTileEntry* matmul_gemv(GgmlType weight_type) {
    return at_active_isa_or_below(Isa::avx2,
                                  [&](Isa isa) { return isa_matmul_gemv(isa, weight_type); });
}

const FloatKernels* isa_float_kernels(Isa isa) {
    switch (isa) {
        case Isa::scalar:
            return nullptr;
        case Isa::avx2:
            return &avx2_float_kernels();
        case Isa::avx512:
        case Isa::amx:
            return &avx512_float_kernels();
    }
    return nullptr;
}

const FloatKernels* float_kernels() {
    return isa_float_kernels(active_isa());
}

const AttentionKernel* isa_attention_kernel(Isa isa) {
    switch (isa) {
        case Isa::scalar:
            return &scalar_attention_kernel();
        case Isa::avx2:
            return &avx2_attention_kernel();
        case Isa::avx512:
        case Isa::amx:
            return nullptr;
    }
    return nullptr;
}

const AttentionKernel& attention_kernel() {
    // Never null: the scalar level has one.
    static const AttentionKernel& chosen =
        *at_active_isa_or_below(Isa::scalar, isa_attention_kernel);
    return chosen;
}

}  // namespace slim::cpu
