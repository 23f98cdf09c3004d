#include <limits>

#include "format/gguf.h"

namespace slim {

const char* gguf_type_name(GgufType type) {
    switch (type) {
        case GgufType::u8:
            return "u8";
        case GgufType::i8:
            return "i8";
        case GgufType::u16:
            return "u16";
        case GgufType::i16:
            return "i16";
        case GgufType::u32:
            return "u32";
        case GgufType::i32:
            return "i32";
        case GgufType::f32:
            return "f32";
        case GgufType::boolean:
            return "bool";
        case GgufType::string:
            return "string";
        case GgufType::array:
            return "array";
        case GgufType::u64:
            return "u64";
        case GgufType::i64:
            return "i64";
        case GgufType::f64:
            return "f64";
    }
    return "unknown";
}

size_t gguf_scalar_size(GgufType type) {
    switch (type) {
        case GgufType::u8:
        case GgufType::i8:
        case GgufType::boolean:
            return 1;
        case GgufType::u16:
        case GgufType::i16:
            return 2;
        case GgufType::u32:
        case GgufType::i32:
        case GgufType::f32:
            return 4;
        case GgufType::u64:
        case GgufType::i64:
        case GgufType::f64:
            return 8;
        case GgufType::string:
        case GgufType::array:
            return 0;
    }
    return 0;
}

GgufValue GgufValue::from_raw(GgufType type, const uint8_t* bytes) {
    GgufValue v;
    v.type_ = type;
    std::memcpy(v.raw_, bytes, gguf_scalar_size(type));
    return v;
}

bool GgufValue::is_integer() const {
    switch (type_) {
        case GgufType::u8:
        case GgufType::i8:
        case GgufType::u16:
        case GgufType::i16:
        case GgufType::u32:
        case GgufType::i32:
        case GgufType::u64:
        case GgufType::i64:
            return true;
        default:
            return false;
    }
}

namespace {

template <class T>
T load(const uint8_t* raw) {
    T v;
    std::memcpy(&v, raw, sizeof(T));
    return v;
}

}  // namespace

std::optional<int64_t> GgufValue::as_i64() const {
    switch (type_) {
        case GgufType::u8:
            return load<uint8_t>(raw_);
        case GgufType::i8:
            return load<int8_t>(raw_);
        case GgufType::u16:
            return load<uint16_t>(raw_);
        case GgufType::i16:
            return load<int16_t>(raw_);
        case GgufType::u32:
            return load<uint32_t>(raw_);
        case GgufType::i32:
            return load<int32_t>(raw_);
        case GgufType::i64:
            return load<int64_t>(raw_);
        case GgufType::u64: {
            uint64_t v = load<uint64_t>(raw_);
            if (v > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
            return int64_t(v);
        }
        default:
            return std::nullopt;
    }
}

std::optional<uint64_t> GgufValue::as_u64() const {
    if (type_ == GgufType::u64) return load<uint64_t>(raw_);
    std::optional<int64_t> v = as_i64();
    if (!v || *v < 0) return std::nullopt;
    return uint64_t(*v);
}

std::optional<double> GgufValue::as_f64() const {
    if (type_ == GgufType::f32) return load<float>(raw_);
    if (type_ == GgufType::f64) return load<double>(raw_);
    if (type_ == GgufType::u64) return double(load<uint64_t>(raw_));
    if (std::optional<int64_t> v = as_i64()) return double(*v);
    return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
    if (type_ != GgufType::boolean) return std::nullopt;
    return raw_[0] != 0;
}

std::optional<std::string_view> GgufValue::as_string() const {
    if (type_ != GgufType::string) return std::nullopt;
    return str_;
}

}  // namespace slim
