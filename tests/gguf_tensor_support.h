// A GGUF tensor's values as float32, for tests that compare weights.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "format/gguf.h"
#include "tensor/tensor_type.h"

namespace slim::test {

inline std::vector<float> dequantized(const GgufFile& f, const GgufTensorInfo& t) {
    std::vector<float> v(t.n_elements());
    const int64_t row = t.ne[0];
    const size_t row_bytes = tensor_row_bytes(t.type, row);
    std::span<const uint8_t> data = f.tensor_data(t);
    for (uint64_t r = 0; r < t.n_elements() / uint64_t(row); ++r) {
        dequantize_row(t.type, data.data() + r * row_bytes, v.data() + r * row, row);
    }
    return v;
}

}  // namespace slim::test
