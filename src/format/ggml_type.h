// The tensor element types a GGUF file can name, with their block geometry.
//
// The numbering is ggml's (`enum ggml_type`) because it is part of the file
// format. Every type ggml has ever written into a GGUF is listed so that
// `slim info` can describe any file; which of them slim can compute with is
// the business of src/tensor/. Retired ids (4, 5, 31-33, 36-38) are not
// listed and are rejected by the reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace slim {

enum class GgmlType : uint32_t {
    f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    q5_0 = 6,
    q5_1 = 7,
    q8_0 = 8,
    q8_1 = 9,
    q2_k = 10,
    q3_k = 11,
    q4_k = 12,
    q5_k = 13,
    q6_k = 14,
    q8_k = 15,
    iq2_xxs = 16,
    iq2_xs = 17,
    iq3_xxs = 18,
    iq1_s = 19,
    iq4_nl = 20,
    iq3_s = 21,
    iq2_s = 22,
    iq4_xs = 23,
    i8 = 24,
    i16 = 25,
    i32 = 26,
    i64 = 27,
    f64 = 28,
    iq1_m = 29,
    bf16 = 30,
    tq1_0 = 34,
    tq2_0 = 35,
    mxfp4 = 39,
    nvfp4 = 40,
    q1_0 = 41,
};

struct GgmlTypeTraits {
    std::string_view name;  // ggml's name, upper case: "Q4_K"
    uint32_t block_size;    // elements per block
    uint32_t type_size;     // bytes per block
};

// Traits of a known type id, or nullopt for an id ggml never assigned or retired.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id);
GgmlTypeTraits ggml_type_traits(GgmlType type);
std::string_view ggml_type_name(GgmlType type);
// Parses a name such as "q4_k" or "Q4_K" (case-insensitive).
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

}  // namespace slim
