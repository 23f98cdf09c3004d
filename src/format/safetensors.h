// safetensors reader (mmap'd, zero-copy), for the Hugging Face -> GGUF converter.
//
// Layout: u64 little-endian header length N, N bytes of JSON, then the data
// buffer. The JSON maps each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} (offsets relative to the data buffer) and may hold a
// "__metadata__" object of string -> string. Tensor data is little-endian and
// row-major: shape[0] is the outermost dimension, the reverse of ggml's ne[].
//
// Everything is checked before use: the header length (against the file and
// the official reader's 100 MB cap), JSON syntax, every entry's types, each
// name's uniqueness (nlohmann alone would keep the last of two equal keys
// silently, so the header is read through a SAX handler), shape products
// against overflow, data_offsets against the dtype and shape, the data buffer
// and each other. Unlike the official reader, gaps between tensors and bytes
// after the last one are accepted: they make no tensor ambiguous.
//
// Tensors, spans and names stay valid while the SafetensorsFile (or a copy of
// it) lives. Data spans are in place in the mapping and may be unaligned when
// a writer did not pad the header to 8 bytes: read them with memcpy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace slim {

class MappedFile;

// Every dtype the official `safetensors` package writes (0.8). Only f32, f16
// and bf16 can be read as data for conversion; the others are listed so that
// `slim convert` can name what it meets.
enum class SafetensorsDtype : uint8_t {
    boolean,
    f4,  // e2m1, two per byte
    f6_e2m3,
    f6_e3m2,
    u8,
    i8,
    f8_e5m2,
    f8_e5m2fnuz,
    f8_e4m3,
    f8_e4m3fnuz,
    f8_e8m0,
    i16,
    u16,
    f16,
    bf16,
    i32,
    u32,
    f32,
    c64,
    f64,
    i64,
    u64,
};

// The name as written in files: "F32", "BF16", "BOOL", "F8_E4M3", ...
std::string_view safetensors_dtype_name(SafetensorsDtype dtype);
uint32_t safetensors_dtype_bits(SafetensorsDtype dtype);
std::optional<SafetensorsDtype> safetensors_dtype_from_name(std::string_view name);
// F32, F16 and BF16: the dtypes whose data the converter reads.
bool safetensors_dtype_is_convertible(SafetensorsDtype dtype);

class SafetensorsTensor {
  public:
    std::string name;
    SafetensorsDtype dtype = SafetensorsDtype::f32;
    std::vector<int64_t> shape;  // outermost first; empty for a scalar
    uint64_t n_elements = 0;
    uint64_t data_begin = 0;  // data_offsets as in the header, relative to the data buffer
    uint64_t data_end = 0;
    uint64_t header_offset = 0;  // where the entry's name starts in the file

    uint64_t n_bytes() const { return data_end - data_begin; }
    bool is_convertible() const { return safetensors_dtype_is_convertible(dtype); }
    // The file (or parse() name) this tensor was read from.
    const std::string& file() const { return *file_; }
    // The tensor's bytes, in place in the mapping. Throws Error(unsupported)
    // for a dtype other than F32, F16 or BF16.
    std::span<const uint8_t> data() const;

  private:
    friend class SafetensorsFile;
    std::span<const uint8_t> bytes_;
    std::shared_ptr<const std::string> file_;
};

class SafetensorsFile {
  public:
    // Maps the file and parses it. Throws Error on any malformation.
    static SafetensorsFile open(const std::filesystem::path& path);
    // Parses bytes owned by the caller, who keeps them alive (tests, fuzzing).
    static SafetensorsFile parse(std::span<const uint8_t> bytes, std::string name = "<memory>");

    const std::string& path() const { return *name_; }
    uint64_t file_size() const { return bytes_.size(); }
    uint64_t header_size() const { return header_size_; }  // N, the JSON's length
    uint64_t data_offset() const { return 8 + header_size_; }

    // In the order the header lists them (the official writer's order).
    const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
    const SafetensorsTensor* find(std::string_view name) const;

    const std::map<std::string, std::string, std::less<>>& metadata() const { return metadata_; }
    std::optional<std::string_view> metadata_value(std::string_view key) const;

  private:
    SafetensorsFile() = default;
    void parse_all();

    struct NameHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    std::shared_ptr<const MappedFile> map_;
    std::shared_ptr<const std::string> name_;
    std::span<const uint8_t> bytes_;
    uint64_t header_size_ = 0;
    std::vector<SafetensorsTensor> tensors_;
    std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> index_;
    std::map<std::string, std::string, std::less<>> metadata_;
};

// A model's weights as one name -> tensor view: either the shards named by a
// `model.safetensors.index.json` ({"weight_map": {tensor: shard file}}) or a
// single file. The index must name every tensor of every shard it uses,
// exactly once, and each shard must hold the tensors mapped to it.
class SafetensorsSet {
  public:
    // `path` is a folder (holding model.safetensors.index.json, else
    // model.safetensors), an *.index.json file, or one .safetensors file.
    // Throws Error naming the index or shard at fault.
    static SafetensorsSet open(const std::filesystem::path& path);

    SafetensorsSet(SafetensorsSet&&) = default;
    SafetensorsSet& operator=(SafetensorsSet&&) = default;
    SafetensorsSet(const SafetensorsSet&) = delete;
    SafetensorsSet& operator=(const SafetensorsSet&) = delete;

    // Empty when the set is a single file without an index.
    const std::string& index_path() const { return index_path_; }
    // Shards sorted by file name (model-00001-of-00002, ...).
    const std::vector<SafetensorsFile>& files() const { return files_; }
    // Every tensor: shard by shard, each in header order.
    const std::vector<const SafetensorsTensor*>& tensors() const { return tensors_; }
    const SafetensorsTensor* find(std::string_view name) const;

  private:
    SafetensorsSet() = default;
    static SafetensorsSet open_index(const std::filesystem::path& index);
    void add_tensors();

    std::string index_path_;
    std::vector<SafetensorsFile> files_;
    std::vector<const SafetensorsTensor*> tensors_;
    std::unordered_map<std::string_view, const SafetensorsTensor*> index_;
};

}  // namespace slim
