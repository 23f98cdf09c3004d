// libFuzzer target for the GGUF reader.
//
// Any bytes must either parse or raise slim::Error; anything else (a sanitizer
// report, another exception, a hang) is a bug the fuzzer records. A file that
// parses is then read in full (every value, the first and last byte of every
// tensor) and must survive gguf_serialize + parse unchanged: same version,
// key/values and tensors. Tensor offsets may change, since the writer lays the
// data out densely in file order.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "format/error.h"
#include "format/gguf.h"

namespace {

using slim::GgufArray;
using slim::GgufFile;
using slim::GgufType;
using slim::GgufValue;

// Keeps the reads below from being optimised away.
volatile uint8_t g_sink;

// A broken invariant on a file the reader accepted: crash so libFuzzer keeps the input.
void require(bool ok) {
    if (!ok) __builtin_trap();
}

void touch(const uint8_t* p, size_t n) {
    if (n == 0) return;
    g_sink = g_sink ^ p[0] ^ p[n - 1];
}

void touch_string(std::string_view s) {
    touch(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

void touch_array(const GgufArray& a) {
    switch (a.elem_type) {
        case GgufType::string:
            require(a.strings.size() == a.count);
            for (std::string_view s : a.strings) touch_string(s);
            break;
        case GgufType::array:
            require(a.arrays.size() == a.count);
            for (const GgufArray& inner : a.arrays) touch_array(inner);
            break;
        default: {
            size_t size = slim::gguf_scalar_size(a.elem_type);
            require(size > 0);
            for (uint64_t i = 0; i < a.count; ++i) {
                GgufValue v = GgufValue::from_raw(a.elem_type, a.scalars + i * size);
                g_sink = g_sink ^ uint8_t(v.as_u64().value_or(0)) ^
                         uint8_t(v.as_i64().value_or(0)) ^ uint8_t(v.as_f64().value_or(0) != 0) ^
                         uint8_t(v.as_bool().value_or(false));
            }
        }
    }
}

void touch_value(const GgufValue& v) {
    g_sink = g_sink ^ uint8_t(v.as_u64().value_or(0)) ^ uint8_t(v.as_i64().value_or(0)) ^
             uint8_t(v.as_f64().value_or(0) != 0) ^ uint8_t(v.as_bool().value_or(false));
    if (auto s = v.as_string()) touch_string(*s);
    if (const GgufArray* a = v.as_array()) touch_array(*a);
}

bool same_array(const GgufArray& a, const GgufArray& b) {
    if (a.elem_type != b.elem_type || a.count != b.count) return false;
    switch (a.elem_type) {
        case GgufType::string:
            return a.strings == b.strings;
        case GgufType::array:
            for (uint64_t i = 0; i < a.count; ++i) {
                if (!same_array(a.arrays[i], b.arrays[i])) return false;
            }
            return true;
        default:
            return a.count == 0 || std::memcmp(a.scalars, b.scalars,
                                               a.count * slim::gguf_scalar_size(a.elem_type)) == 0;
    }
}

bool same_value(const GgufValue& a, const GgufValue& b) {
    if (a.type() != b.type()) return false;
    if (a.type() == GgufType::string) return a.as_string() == b.as_string();
    if (a.type() == GgufType::array) return same_array(*a.as_array(), *b.as_array());
    // Scalars compare by their bytes, so NaNs compare equal to themselves.
    return std::memcmp(a.raw(), b.raw(), slim::gguf_scalar_size(a.type())) == 0;
}

void check_file(const GgufFile& f) {
    for (const slim::GgufKv& kv : f.kvs()) {
        require(f.find(kv.key) == &kv.value);
        touch_string(kv.key);
        touch_value(kv.value);
    }
    for (const slim::GgufTensorInfo& t : f.tensors()) {
        require(f.find_tensor(t.name) == &t);
        require(t.offset % f.alignment() == 0);
        require(f.data_offset() + t.offset + t.n_bytes <= f.file_size());
        std::span<const uint8_t> data = f.tensor_data(t);
        require(data.size() == t.n_bytes);
        touch(data.data(), data.size());
    }
}

bool same_file(const GgufFile& a, const GgufFile& b) {
    if (a.version() != b.version() || a.alignment() != b.alignment()) return false;
    if (a.kvs().size() != b.kvs().size() || a.tensors().size() != b.tensors().size()) return false;
    for (size_t i = 0; i < a.kvs().size(); ++i) {
        const slim::GgufKv& x = a.kvs()[i];
        const slim::GgufKv& y = b.kvs()[i];
        if (x.key != y.key || !same_value(x.value, y.value)) return false;
    }
    for (size_t i = 0; i < a.tensors().size(); ++i) {
        const slim::GgufTensorInfo& x = a.tensors()[i];
        const slim::GgufTensorInfo& y = b.tensors()[i];
        if (x.name != y.name || x.type != y.type || x.n_dims != y.n_dims || x.ne != y.ne ||
            x.n_bytes != y.n_bytes) {
            return false;
        }
        std::span<const uint8_t> dx = a.tensor_data(x);
        std::span<const uint8_t> dy = b.tensor_data(y);
        if (!std::equal(dx.begin(), dx.end(), dy.begin(), dy.end())) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> bytes(data, size);
    std::optional<GgufFile> file;
    try {
        file.emplace(GgufFile::parse(bytes, "fuzz-input"));
    } catch (const slim::Error&) {
        return 0;
    }
    check_file(*file);

    // What the reader accepted, the writer must write and the reader read back.
    try {
        std::vector<uint8_t> written = slim::gguf_serialize(slim::gguf_contents(*file));
        GgufFile again = GgufFile::parse(written, "round-trip");
        check_file(again);
        require(same_file(*file, again));
        // Written output is canonical: writing it again changes nothing.
        require(slim::gguf_serialize(slim::gguf_contents(again)) == written);
    } catch (const slim::Error&) {
        __builtin_trap();
    }
    return 0;
}
