// Reads the reference files tools/reference/make_quant_refs.py writes under
// tests/reference/quants/ (format in that script's docstring): raw blocks of
// one ggml type and the float32 values they stand for.
#pragma once

#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "format/ggml_type.h"
#include "test_paths.h"

namespace slim::test {

// Every type src/tensor/ supports; each has a .dequant.bin reference.
inline constexpr GgmlType kSupportedTypes[] = {
    GgmlType::f32,    GgmlType::f16,    GgmlType::bf16, GgmlType::q4_0, GgmlType::q4_1,
    GgmlType::q5_0,   GgmlType::q5_1,   GgmlType::q8_0, GgmlType::q8_1, GgmlType::q2_k,
    GgmlType::q3_k,   GgmlType::q4_k,   GgmlType::q5_k, GgmlType::q6_k, GgmlType::q8_k,
    GgmlType::iq4_nl, GgmlType::iq4_xs,
};

// The types gguf.quants can quantize; each has a .quant.bin reference.
inline constexpr GgmlType kGgufQuantizableTypes[] = {
    GgmlType::f16,  GgmlType::bf16, GgmlType::q4_0, GgmlType::q4_1,
    GgmlType::q5_0, GgmlType::q5_1, GgmlType::q8_0,
};

// The types gguf.quants cannot quantize; each has a .ggml_quant.bin reference
// made by ggml's own quantize_row_*_ref (tools/reference/make_ggml_quant_refs.py).
inline constexpr GgmlType kGgmlOnlyQuantizableTypes[] = {
    GgmlType::q8_1, GgmlType::q2_k, GgmlType::q3_k,   GgmlType::q4_k,   GgmlType::q5_k,
    GgmlType::q6_k, GgmlType::q8_k, GgmlType::iq4_nl, GgmlType::iq4_xs,
};

// The header's kind field: what was computed from what.
enum class QuantRefKind : uint32_t { dequant = 0, quant = 1 };

// suffix: "dequant" (gguf.quants.dequantize), "quant" (gguf.quants.quantize)
// or "ggml_quant" (ggml's reference quantizers).
inline std::filesystem::path quant_ref_path(std::string_view type_name, std::string_view suffix) {
    std::string name(type_name);
    for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    return reference_dir() / "quants" / (name + "." + std::string(suffix) + ".bin");
}

struct QuantRef {
    uint32_t type_id = 0;
    QuantRefKind kind = QuantRefKind::dequant;
    std::vector<uint8_t> blocks;  // raw bytes in the type's layout
    std::vector<float> values;    // dequant: the decoded values; quant: the input
};

// Throws std::runtime_error naming the file when it is missing or malformed.
inline QuantRef read_quant_ref(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path.string() + ": cannot open");
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    constexpr size_t header_size = 4 + 4 + 4 + 4 + 8 + 8;
    if (bytes.size() < header_size || std::memcmp(bytes.data(), "SLQR", 4) != 0) {
        throw std::runtime_error(path.string() + ": not an SLQR reference file");
    }
    auto u32 = [&](size_t at) {
        uint32_t v;
        std::memcpy(&v, bytes.data() + at, 4);
        return v;
    };
    auto u64 = [&](size_t at) {
        uint64_t v;
        std::memcpy(&v, bytes.data() + at, 8);
        return v;
    };
    if (u32(4) != 1) throw std::runtime_error(path.string() + ": unknown version");
    QuantRef ref;
    ref.type_id = u32(8);
    ref.kind = QuantRefKind(u32(12));
    const uint64_t n_elements = u64(16);
    const uint64_t n_bytes = u64(24);
    if (bytes.size() != header_size + n_bytes + 4 * n_elements) {
        throw std::runtime_error(path.string() + ": size does not match its header");
    }
    ref.blocks.assign(bytes.begin() + header_size, bytes.begin() + header_size + n_bytes);
    ref.values.resize(n_elements);
    std::memcpy(ref.values.data(), bytes.data() + header_size + n_bytes, 4 * n_elements);
    return ref;
}

}  // namespace slim::test
