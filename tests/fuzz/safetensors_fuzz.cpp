// libFuzzer target for the safetensors reader.
//
// Any bytes must either parse or raise slim::Error; anything else (a sanitizer
// report, another exception, a hang) is a bug the fuzzer records. A file that
// parses must keep the promises the reader makes: every tensor is found by
// its name, its bytes lie inside the data buffer and match its dtype and
// shape, no two tensors share a byte, and data() hands out the bytes (which
// are then read) for F32/F16/BF16 and refuses every other dtype.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "format/error.h"
#include "format/safetensors.h"

namespace {

using slim::SafetensorsFile;
using slim::SafetensorsTensor;

// Keeps the reads below from being optimised away.
volatile uint8_t g_sink;

// A broken invariant on a file the reader accepted: crash so libFuzzer keeps the input.
void require(bool ok) {
    if (!ok) __builtin_trap();
}

void check_tensor(const SafetensorsFile& f, const SafetensorsTensor& t) {
    require(f.find(t.name) == &t);
    require(t.data_begin <= t.data_end);
    require(t.data_end <= f.file_size() - f.data_offset());
    uint64_t n_elements = 1;
    for (int64_t d : t.shape) {
        require(d >= 0);
        n_elements *= uint64_t(d);  // the reader checked for overflow
    }
    require(n_elements == t.n_elements);
    require(t.n_elements * slim::safetensors_dtype_bits(t.dtype) == t.n_bytes() * 8);
    if (!t.is_convertible()) {
        try {
            (void)t.data();
            __builtin_trap();
        } catch (const slim::Error& e) {
            require(e.kind() == slim::ErrorKind::unsupported);
        }
        return;
    }
    std::span<const uint8_t> data = t.data();
    require(data.size() == t.n_bytes());
    if (!data.empty()) g_sink = g_sink ^ data.front() ^ data.back();
}

void check_file(const SafetensorsFile& f) {
    require(f.data_offset() <= f.file_size());
    std::vector<const SafetensorsTensor*> by_offset;
    for (const SafetensorsTensor& t : f.tensors()) {
        check_tensor(f, t);
        if (t.n_bytes() > 0) by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const auto* a, const auto* b) { return a->data_begin < b->data_begin; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        require(by_offset[i - 1]->data_end <= by_offset[i]->data_begin);
    }
    for (const auto& [key, value] : f.metadata()) {
        require(f.metadata_value(key) == value);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::optional<SafetensorsFile> file;
    try {
        file.emplace(SafetensorsFile::parse(std::span<const uint8_t>(data, size), "fuzz-input"));
    } catch (const slim::Error&) {
        return 0;
    }
    check_file(*file);
    return 0;
}
