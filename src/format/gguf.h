// GGUF v2/v3: reader (mmap'd, zero-copy) and writer (byte-identical round trip).
//
// Layout (little-endian): magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
// then n_kv key/value pairs, n_tensors tensor infos, padding to
// `general.alignment` (default 32), and the data section. Tensor offsets are
// relative to the data section and multiples of the alignment.
//
// Values and strings are views into the file's bytes: a GgufFile keeps its
// mapping alive, and nothing it hands out outlives it.
//
// Dimension order is ggml's: ne[0] is the innermost (contiguous) dimension, so
// a weight matrix with n_out rows of n_in inputs has ne = {n_in, n_out}.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "format/ggml_type.h"

namespace slim {

class MappedFile;

enum class GgufType : uint32_t {
    u8 = 0,
    i8 = 1,
    u16 = 2,
    i16 = 3,
    u32 = 4,
    i32 = 5,
    f32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    u64 = 10,
    i64 = 11,
    f64 = 12,
};

const char* gguf_type_name(GgufType type);
// Size in bytes of a scalar type; 0 for string and array.
size_t gguf_scalar_size(GgufType type);

// An array value. Scalar elements stay in the file's bytes (unaligned,
// little-endian) and are read through at<T>(); strings and nested arrays are
// decoded once at load.
struct GgufArray {
    GgufType elem_type = GgufType::u8;
    uint64_t count = 0;
    const uint8_t* scalars = nullptr;       // count * gguf_scalar_size(elem_type) bytes
    std::vector<std::string_view> strings;  // elem_type == string
    std::vector<GgufArray> arrays;          // elem_type == array

    // Element i of a scalar array, converted to T. The caller checks elem_type.
    template <class Raw>
    Raw raw_at(uint64_t i) const {
        Raw v;
        std::memcpy(&v, scalars + i * sizeof(Raw), sizeof(Raw));
        return v;
    }
};

class GgufValue {
  public:
    GgufValue() = default;
    static GgufValue make_u8(uint8_t v) { return scalar(GgufType::u8, v); }
    static GgufValue make_i8(int8_t v) { return scalar(GgufType::i8, v); }
    static GgufValue make_u16(uint16_t v) { return scalar(GgufType::u16, v); }
    static GgufValue make_i16(int16_t v) { return scalar(GgufType::i16, v); }
    static GgufValue make_u32(uint32_t v) { return scalar(GgufType::u32, v); }
    static GgufValue make_i32(int32_t v) { return scalar(GgufType::i32, v); }
    static GgufValue make_u64(uint64_t v) { return scalar(GgufType::u64, v); }
    static GgufValue make_i64(int64_t v) { return scalar(GgufType::i64, v); }
    static GgufValue make_f32(float v) { return scalar(GgufType::f32, v); }
    static GgufValue make_f64(double v) { return scalar(GgufType::f64, v); }
    static GgufValue make_bool(bool v) { return scalar(GgufType::boolean, uint8_t(v ? 1 : 0)); }
    // The string's bytes must outlive the value.
    static GgufValue make_string(std::string_view s) {
        GgufValue v;
        v.type_ = GgufType::string;
        v.str_ = s;
        return v;
    }
    static GgufValue make_array(GgufArray a) {
        GgufValue v;
        v.type_ = GgufType::array;
        v.arr_ = std::make_shared<GgufArray>(std::move(a));
        return v;
    }
    // A scalar from its little-endian bytes as stored in a file.
    static GgufValue from_raw(GgufType type, const uint8_t* bytes);

    GgufType type() const { return type_; }
    bool is_integer() const;
    bool is_float() const { return type_ == GgufType::f32 || type_ == GgufType::f64; }

    // Conversions; each returns nullopt when the value has another type or
    // does not fit the target.
    std::optional<uint64_t> as_u64() const;
    std::optional<int64_t> as_i64() const;
    std::optional<double> as_f64() const;  // integers and floats
    std::optional<bool> as_bool() const;
    std::optional<std::string_view> as_string() const;
    const GgufArray* as_array() const { return type_ == GgufType::array ? arr_.get() : nullptr; }

    // The stored scalar bytes (little-endian, gguf_scalar_size(type) of them).
    const uint8_t* raw() const { return raw_; }

  private:
    template <class T>
    static GgufValue scalar(GgufType type, T v) {
        static_assert(sizeof(T) <= 8);
        GgufValue out;
        out.type_ = type;
        std::memcpy(out.raw_, &v, sizeof(T));
        return out;
    }

    GgufType type_ = GgufType::u8;
    uint8_t raw_[8] = {};
    std::string_view str_;
    std::shared_ptr<const GgufArray> arr_;
};

struct GgufKv {
    std::string_view key;
    GgufValue value;
    uint64_t file_offset = 0;  // where the key/value pair starts in the file (0 when built)
};

inline constexpr int kGgufMaxDims = 4;

struct GgufTensorInfo {
    std::string_view name;
    GgmlType type = GgmlType::f32;
    uint32_t n_dims = 0;
    std::array<int64_t, kGgufMaxDims> ne = {1, 1, 1, 1};  // ne[0] innermost
    uint64_t offset = 0;                                  // from the start of the data section
    uint64_t n_bytes = 0;                                 // bytes of data
    uint64_t n_elements() const { return uint64_t(ne[0]) * ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
  public:
    // Maps the file and parses it. Throws Error on any malformation.
    static GgufFile open(const std::filesystem::path& path);
    // Parses bytes owned by the caller, who keeps them alive (tests, fuzzing).
    static GgufFile parse(std::span<const uint8_t> bytes, std::string name = "<memory>");

    const std::string& path() const { return name_; }
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t file_size() const { return bytes_.size(); }
    uint64_t data_offset() const { return data_offset_; }
    // Whether the bytes are a read-only mapping of the file (open), not the
    // caller's memory (parse).
    bool mapped() const { return map_ != nullptr; }

    const std::vector<GgufKv>& kvs() const { return kvs_; }
    const GgufValue* find(std::string_view key) const;
    // Typed getters: nullopt when the key is absent; Error(bad_type) when it
    // is present with a type that does not convert.
    std::optional<std::string_view> get_string(std::string_view key) const;
    std::optional<uint64_t> get_u64(std::string_view key) const;
    std::optional<int64_t> get_i64(std::string_view key) const;
    std::optional<double> get_f64(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
    const GgufArray* get_array(std::string_view key, GgufType elem_type) const;

    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(std::string_view name) const;
    // The tensor's bytes, in place in the mapping.
    std::span<const uint8_t> tensor_data(const GgufTensorInfo& t) const {
        return bytes_.subspan(data_offset_ + t.offset, t.n_bytes);
    }

  private:
    GgufFile() = default;
    void parse_all();

    std::shared_ptr<const MappedFile> map_;
    std::span<const uint8_t> bytes_;
    std::string name_;
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<GgufKv> kvs_;
    std::vector<GgufTensorInfo> tensors_;
    std::unordered_map<std::string_view, size_t> kv_index_;
    std::unordered_map<std::string_view, size_t> tensor_index_;
};

// What a writer needs to produce a file. Views must stay valid until write.
struct GgufTensorToWrite {
    std::string_view name;
    GgmlType type = GgmlType::f32;
    uint32_t n_dims = 0;
    std::array<int64_t, kGgufMaxDims> ne = {1, 1, 1, 1};
    std::span<const uint8_t> data;  // exactly the tensor's byte size
};

struct GgufContents {
    uint32_t version = 3;
    std::vector<std::pair<std::string_view, GgufValue>> kvs;  // in file order
    std::vector<GgufTensorToWrite> tensors;                   // in file order
};

// Everything in a read file, ready to write back unchanged.
GgufContents gguf_contents(const GgufFile& file);

// Writes `contents` to `path` through a temporary file in the same folder,
// renamed into place only when complete. Tensor data is laid out in order,
// each padded to `general.alignment` (32 when absent). Throws Error.
void gguf_write(const std::filesystem::path& path, const GgufContents& contents);
// The bytes gguf_write would write.
std::vector<uint8_t> gguf_serialize(const GgufContents& contents);

}  // namespace slim
