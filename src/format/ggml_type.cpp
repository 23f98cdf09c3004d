#include "format/ggml_type.h"

#include <array>
#include <cctype>

namespace slim {

namespace {

struct Entry {
    GgmlType type;
    GgmlTypeTraits traits;
};

// Block geometry from ggml's type_traits table. Note Q8_1: ggml's block is
// {f16 d, f16 s, int8 qs[32]} = 36 bytes; gguf-py 0.19 still lists 40 (two f32).
constexpr std::array kTypes = {
    Entry{GgmlType::f32, {"F32", 1, 4}},
    Entry{GgmlType::f16, {"F16", 1, 2}},
    Entry{GgmlType::q4_0, {"Q4_0", 32, 18}},
    Entry{GgmlType::q4_1, {"Q4_1", 32, 20}},
    Entry{GgmlType::q5_0, {"Q5_0", 32, 22}},
    Entry{GgmlType::q5_1, {"Q5_1", 32, 24}},
    Entry{GgmlType::q8_0, {"Q8_0", 32, 34}},
    Entry{GgmlType::q8_1, {"Q8_1", 32, 36}},
    Entry{GgmlType::q2_k, {"Q2_K", 256, 84}},
    Entry{GgmlType::q3_k, {"Q3_K", 256, 110}},
    Entry{GgmlType::q4_k, {"Q4_K", 256, 144}},
    Entry{GgmlType::q5_k, {"Q5_K", 256, 176}},
    Entry{GgmlType::q6_k, {"Q6_K", 256, 210}},
    Entry{GgmlType::q8_k, {"Q8_K", 256, 292}},
    Entry{GgmlType::iq2_xxs, {"IQ2_XXS", 256, 66}},
    Entry{GgmlType::iq2_xs, {"IQ2_XS", 256, 74}},
    Entry{GgmlType::iq3_xxs, {"IQ3_XXS", 256, 98}},
    Entry{GgmlType::iq1_s, {"IQ1_S", 256, 50}},
    Entry{GgmlType::iq4_nl, {"IQ4_NL", 32, 18}},
    Entry{GgmlType::iq3_s, {"IQ3_S", 256, 110}},
    Entry{GgmlType::iq2_s, {"IQ2_S", 256, 82}},
    Entry{GgmlType::iq4_xs, {"IQ4_XS", 256, 136}},
    Entry{GgmlType::i8, {"I8", 1, 1}},
    Entry{GgmlType::i16, {"I16", 1, 2}},
    Entry{GgmlType::i32, {"I32", 1, 4}},
    Entry{GgmlType::i64, {"I64", 1, 8}},
    Entry{GgmlType::f64, {"F64", 1, 8}},
    Entry{GgmlType::iq1_m, {"IQ1_M", 256, 56}},
    Entry{GgmlType::bf16, {"BF16", 1, 2}},
    Entry{GgmlType::tq1_0, {"TQ1_0", 256, 54}},
    Entry{GgmlType::tq2_0, {"TQ2_0", 256, 66}},
    Entry{GgmlType::mxfp4, {"MXFP4", 32, 17}},
    Entry{GgmlType::nvfp4, {"NVFP4", 64, 36}},
    Entry{GgmlType::q1_0, {"Q1_0", 128, 18}},
};

}  // namespace

std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id) {
    for (const Entry& e : kTypes) {
        if (static_cast<uint32_t>(e.type) == type_id) return e.traits;
    }
    return std::nullopt;
}

GgmlTypeTraits ggml_type_traits(GgmlType type) {
    // Every enumerator is in the table, so this cannot fail for a GgmlType.
    return *ggml_type_traits(static_cast<uint32_t>(type));
}

std::string_view ggml_type_name(GgmlType type) {
    return ggml_type_traits(type).name;
}

std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
    for (const Entry& e : kTypes) {
        if (e.traits.name.size() != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < name.size() && same; ++i) {
            same = std::toupper(static_cast<unsigned char>(name[i])) == e.traits.name[i];
        }
        if (same) return e.type;
    }
    return std::nullopt;
}

}  // namespace slim
