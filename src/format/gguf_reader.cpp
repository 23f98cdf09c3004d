// GGUF reader. Every count, length, offset and product read from the file is
// checked against the bytes that remain (or the file size) and for overflow
// before it is used, and before anything is allocated from it.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>

#include "format/error.h"
#include "format/gguf.h"
#include "format/mapped_file.h"

namespace slim {

namespace {

constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxArrayDepth = 16;  // nested arrays deeper than this are refused, not recursed

// Minimum encoded sizes, used to bound counts before allocating for them.
constexpr uint64_t kMinStringBytes = 8;                  // u64 length
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // key length, value type, one-byte value
constexpr uint64_t kMinArrayBytes = 4 + 8;               // element type, count
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // name length, n_dims, type, offset

// Keys whose value type the GGUF spec or llama.cpp fixes. A file that stores
// one of them with another type is malformed, not merely unusual.
struct KnownKey {
    std::string_view key;
    GgufType type;
    GgufType elem_type;  // for arrays
};
constexpr KnownKey kKnownKeys[] = {
    {"general.alignment", GgufType::u32, GgufType::u8},
    {"general.architecture", GgufType::string, GgufType::u8},
    {"general.name", GgufType::string, GgufType::u8},
    {"general.file_type", GgufType::u32, GgufType::u8},
    {"general.quantization_version", GgufType::u32, GgufType::u8},
    {"tokenizer.ggml.model", GgufType::string, GgufType::u8},
    {"tokenizer.ggml.pre", GgufType::string, GgufType::u8},
    {"tokenizer.ggml.tokens", GgufType::array, GgufType::string},
    {"tokenizer.ggml.scores", GgufType::array, GgufType::f32},
    {"tokenizer.ggml.token_type", GgufType::array, GgufType::i32},
    {"tokenizer.ggml.merges", GgufType::array, GgufType::string},
    {"tokenizer.chat_template", GgufType::string, GgufType::u8},
};

std::string type_description(GgufType type, GgufType elem) {
    if (type == GgufType::array) return fmt::format("array of {}", gguf_type_name(elem));
    return gguf_type_name(type);
}

class Cursor {
  public:
    Cursor(std::span<const uint8_t> bytes, const std::string& file) : bytes_(bytes), file_(file) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return bytes_.size() - pos_; }
    const uint8_t* here() const { return bytes_.data() + pos_; }

    template <class T>
    T read(const std::string& field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, here(), sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    std::string_view read_string(const std::string& field) {
        uint64_t at = pos_;
        uint64_t len = read<uint64_t>(field + ".length");
        if (len > remaining()) {
            throw Error(ErrorKind::too_large, file_, field + ".length", at,
                        fmt::format("a length within the {} bytes left", remaining()),
                        std::to_string(len));
        }
        std::string_view s(reinterpret_cast<const char*>(here()), len);
        pos_ += len;
        return s;
    }

    // Reads a string without naming a field; false (and nothing consumed) when
    // it does not fit, so the caller can re-read it with read_string for the error.
    bool try_read_string(std::string_view* out) {
        uint64_t len;
        if (remaining() < sizeof(len)) return false;
        std::memcpy(&len, here(), sizeof(len));
        if (len > remaining() - sizeof(len)) return false;
        *out = std::string_view(reinterpret_cast<const char*>(here() + sizeof(len)), len);
        pos_ += sizeof(len) + len;
        return true;
    }

    void skip(uint64_t n, const std::string& field) {
        need(n, field);
        pos_ += n;
    }

    // A count of items each at least `min_item_bytes` long must fit what is left.
    void check_count(uint64_t count, uint64_t min_item_bytes, uint64_t at,
                     const std::string& field) {
        if (count > remaining() / min_item_bytes) {
            throw Error(ErrorKind::too_large, file_, field, at,
                        fmt::format("at most {} (the bytes left hold no more)",
                                    remaining() / min_item_bytes),
                        std::to_string(count));
        }
    }

  private:
    void need(uint64_t n, const std::string& field) {
        if (n > remaining()) {
            throw Error(ErrorKind::truncated, file_, field, pos_, fmt::format("{} more bytes", n),
                        fmt::format("end of file after {}", remaining()));
        }
    }

    std::span<const uint8_t> bytes_;
    uint64_t pos_ = 0;
    const std::string& file_;
};

GgufType read_value_type(Cursor& c, const std::string& file, const std::string& field) {
    uint64_t at = c.pos();
    uint32_t t = c.read<uint32_t>(field);
    if (t > static_cast<uint32_t>(GgufType::f64)) {
        throw Error(ErrorKind::bad_value, file, field, at, "a GGUF value type 0-12",
                    std::to_string(t));
    }
    return static_cast<GgufType>(t);
}

void check_bool(uint8_t b, const std::string& file, const std::string& field, uint64_t at) {
    if (b > 1) throw Error(ErrorKind::bad_value, file, field, at, "0 or 1", std::to_string(b));
}

GgufArray read_array(Cursor& c, const std::string& file, const std::string& field, int depth) {
    if (depth > kMaxArrayDepth) {
        throw Error(ErrorKind::too_large, file, field, c.pos(),
                    fmt::format("arrays nested at most {} deep", kMaxArrayDepth), "deeper");
    }
    GgufArray a;
    a.elem_type = read_value_type(c, file, field + ".type");
    uint64_t at = c.pos();
    a.count = c.read<uint64_t>(field + ".count");
    switch (a.elem_type) {
        case GgufType::string:
            c.check_count(a.count, kMinStringBytes, at, field + ".count");
            a.strings.reserve(a.count);
            for (uint64_t i = 0; i < a.count; ++i) {
                // The field path is only formatted on failure: vocabularies hold
                // hundreds of thousands of strings.
                std::string_view str;
                if (!c.try_read_string(&str)) c.read_string(fmt::format("{}[{}]", field, i));
                a.strings.push_back(str);
            }
            break;
        case GgufType::array:
            c.check_count(a.count, kMinArrayBytes, at, field + ".count");
            a.arrays.reserve(a.count);
            for (uint64_t i = 0; i < a.count; ++i) {
                a.arrays.push_back(read_array(c, file, fmt::format("{}[{}]", field, i), depth + 1));
            }
            break;
        default: {
            uint64_t size = gguf_scalar_size(a.elem_type);
            c.check_count(a.count, size, at, field + ".count");
            a.scalars = c.here();
            if (a.elem_type == GgufType::boolean) {
                for (uint64_t i = 0; i < a.count; ++i) {
                    if (a.scalars[i] > 1)
                        check_bool(a.scalars[i], file, fmt::format("{}[{}]", field, i),
                                   c.pos() + i);
                }
            }
            c.skip(a.count * size, field);
        }
    }
    return a;
}

GgufValue read_value(Cursor& c, GgufType type, const std::string& file, const std::string& field) {
    if (type == GgufType::string) return GgufValue::make_string(c.read_string(field));
    if (type == GgufType::array) return GgufValue::make_array(read_array(c, file, field, 1));
    uint64_t at = c.pos();
    const uint8_t* p = c.here();
    c.skip(gguf_scalar_size(type), field);
    if (type == GgufType::boolean) check_bool(*p, file, field, at);
    return GgufValue::from_raw(type, p);
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
    return !__builtin_mul_overflow(a, b, out);
}

}  // namespace

GgufFile GgufFile::open(const std::filesystem::path& path) {
    auto map = std::make_shared<const MappedFile>(path);
    GgufFile f;
    f.map_ = map;
    f.bytes_ = map->bytes();
    f.name_ = map->path();
    f.parse_all();
    return f;
}

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
    GgufFile f;
    f.bytes_ = bytes;
    f.name_ = std::move(name);
    f.parse_all();
    return f;
}

void GgufFile::parse_all() {
    const std::string& file = name_;
    Cursor c(bytes_, file);

    uint32_t magic = c.read<uint32_t>("header.magic");
    if (std::memcmp(&magic, "GGUF", 4) != 0) {
        std::string found;
        for (int i = 0; i < 4; ++i) {
            char ch = char((magic >> (8 * i)) & 0xff);
            found += (ch >= 0x20 && ch < 0x7f) ? std::string(1, ch)
                                               : fmt::format("\\x{:02x}", uint8_t(ch));
        }
        throw Error(ErrorKind::bad_magic, file, "header.magic", 0, "\"GGUF\"", "\"" + found + "\"");
    }
    version_ = c.read<uint32_t>("header.version");
    if (version_ != 2 && version_ != 3) {
        throw Error(ErrorKind::unsupported, file, "header.version", 4, "GGUF version 2 or 3",
                    std::to_string(version_));
    }
    uint64_t n_tensors_at = c.pos();
    uint64_t n_tensors = c.read<uint64_t>("header.n_tensors");
    uint64_t n_kv_at = c.pos();
    uint64_t n_kv = c.read<uint64_t>("header.n_kv");
    // Both sections follow, so together they must fit what is left.
    c.check_count(n_kv, kMinKvBytes, n_kv_at, "header.n_kv");
    c.check_count(n_tensors, kMinTensorInfoBytes, n_tensors_at, "header.n_tensors");

    kvs_.reserve(n_kv);
    kv_index_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
        std::string field = fmt::format("kv[{}]", i);
        uint64_t at = c.pos();
        std::string_view key = c.read_string(field + ".key");
        if (key.empty())
            throw Error(ErrorKind::bad_value, file, field + ".key", at, "a non-empty key", "\"\"");
        field = fmt::format("kv[{}] '{}'", i, key);
        GgufType type = read_value_type(c, file, field + ".type");
        GgufValue value = read_value(c, type, file, field + ".value");
        if (!kv_index_.emplace(key, kvs_.size()).second) {
            throw Error(ErrorKind::duplicate, file, field + ".key", at, "each key once",
                        fmt::format("'{}' again (first at kv[{}])", key, kv_index_[key]));
        }
        kvs_.push_back(GgufKv{key, std::move(value), at});
    }

    for (const KnownKey& known : kKnownKeys) {
        auto it = kv_index_.find(known.key);
        if (it == kv_index_.end()) continue;
        const GgufKv& kv = kvs_[it->second];
        const GgufArray* arr = kv.value.as_array();
        GgufType elem = arr ? arr->elem_type : GgufType::u8;
        if (kv.value.type() != known.type || (arr && elem != known.elem_type)) {
            throw Error(ErrorKind::bad_type, file,
                        fmt::format("kv[{}] '{}'", it->second, known.key), kv.file_offset,
                        type_description(known.type, known.elem_type),
                        type_description(kv.value.type(), elem));
        }
    }
    if (auto it = kv_index_.find("general.alignment"); it != kv_index_.end()) {
        const GgufKv& kv = kvs_[it->second];
        uint32_t a = uint32_t(*kv.value.as_u64());
        if (a == 0 || !std::has_single_bit(a)) {
            throw Error(ErrorKind::bad_value, file,
                        fmt::format("kv[{}] 'general.alignment'", it->second), kv.file_offset,
                        "a power of two", std::to_string(a));
        }
        alignment_ = a;
    } else {
        alignment_ = kDefaultAlignment;
    }

    tensors_.reserve(n_tensors);
    tensor_index_.reserve(n_tensors);
    std::vector<uint64_t> info_offsets;
    info_offsets.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
        std::string field = fmt::format("tensor[{}]", i);
        uint64_t at = c.pos();
        info_offsets.push_back(at);
        GgufTensorInfo t;
        t.name = c.read_string(field + ".name");
        if (t.name.empty())
            throw Error(ErrorKind::bad_value, file, field + ".name", at, "a non-empty name",
                        "\"\"");
        field = fmt::format("tensor[{}] '{}'", i, t.name);

        uint64_t dims_at = c.pos();
        t.n_dims = c.read<uint32_t>(field + ".n_dims");
        if (t.n_dims > kGgufMaxDims) {
            throw Error(ErrorKind::bad_value, file, field + ".n_dims", dims_at,
                        fmt::format("at most {}", kGgufMaxDims), std::to_string(t.n_dims));
        }
        uint64_t n_elements = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) {
            std::string dim_field = fmt::format("{}.ne[{}]", field, d);
            uint64_t dim_at = c.pos();
            int64_t ne = c.read<int64_t>(dim_field);
            if (ne <= 0) {
                throw Error(ErrorKind::bad_value, file, dim_field, dim_at, "a dimension > 0",
                            std::to_string(ne));
            }
            if (!checked_mul(n_elements, uint64_t(ne), &n_elements) ||
                n_elements > uint64_t(std::numeric_limits<int64_t>::max())) {
                throw Error(ErrorKind::too_large, file, dim_field, dim_at,
                            "an element count below 2^63", "a product that overflows");
            }
            t.ne[d] = ne;
        }

        uint64_t type_at = c.pos();
        uint32_t type_id = c.read<uint32_t>(field + ".type");
        std::optional<GgmlTypeTraits> traits = ggml_type_traits(type_id);
        if (!traits) {
            throw Error(ErrorKind::unsupported, file, field + ".type", type_at,
                        "a known ggml type id", std::to_string(type_id));
        }
        t.type = static_cast<GgmlType>(type_id);
        if (t.ne[0] % traits->block_size != 0) {
            throw Error(
                ErrorKind::bad_value, file, field + ".ne[0]", dims_at + 4,
                fmt::format("a multiple of {}'s block size {}", traits->name, traits->block_size),
                std::to_string(t.ne[0]));
        }
        uint64_t n_blocks = n_elements / traits->block_size;
        if (!checked_mul(n_blocks, traits->type_size, &t.n_bytes)) {
            throw Error(ErrorKind::too_large, file, field, at, "a byte size below 2^64",
                        "a product that overflows");
        }

        uint64_t offset_at = c.pos();
        t.offset = c.read<uint64_t>(field + ".offset");
        if (t.offset % alignment_ != 0) {
            throw Error(ErrorKind::misaligned, file, field + ".offset", offset_at,
                        fmt::format("a multiple of the alignment {}", alignment_),
                        std::to_string(t.offset));
        }
        if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
            throw Error(
                ErrorKind::duplicate, file, field + ".name", at, "each tensor name once",
                fmt::format("'{}' again (first at tensor[{}])", t.name, tensor_index_[t.name]));
        }
        tensors_.push_back(t);
    }

    uint64_t end_of_infos = c.pos();
    data_offset_ = (end_of_infos + alignment_ - 1) / alignment_ * alignment_;
    if (n_tensors == 0) return;
    if (data_offset_ > bytes_.size()) {
        throw Error(ErrorKind::truncated, file, "data", end_of_infos,
                    fmt::format("a data section starting at byte {}", data_offset_),
                    fmt::format("end of file at byte {}", bytes_.size()));
    }

    uint64_t data_size = bytes_.size() - data_offset_;
    for (size_t i = 0; i < tensors_.size(); ++i) {
        const GgufTensorInfo& t = tensors_[i];
        if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
            throw Error(ErrorKind::out_of_range, file,
                        fmt::format("tensor[{}] '{}'.offset", i, t.name), info_offsets[i],
                        fmt::format("offset + {} bytes within the {}-byte data section", t.n_bytes,
                                    data_size),
                        std::to_string(t.offset));
        }
    }
    std::vector<size_t> order(tensors_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
        const GgufTensorInfo& prev = tensors_[order[k - 1]];
        const GgufTensorInfo& cur = tensors_[order[k]];
        if (prev.offset + prev.n_bytes > cur.offset) {
            throw Error(ErrorKind::overlap, file,
                        fmt::format("tensor[{}] '{}'.offset", order[k], cur.name),
                        info_offsets[order[k]],
                        fmt::format("data disjoint from tensor[{}] '{}' ending at {}", order[k - 1],
                                    prev.name, prev.offset + prev.n_bytes),
                        std::to_string(cur.offset));
        }
    }
}

const GgufValue* GgufFile::find(std::string_view key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

namespace {

[[noreturn]] void throw_key_type(const std::string& file, std::string_view key,
                                 const char* expected, const GgufValue& v) {
    throw Error(ErrorKind::bad_type, file, std::string(key), std::nullopt, expected,
                gguf_type_name(v.type()));
}

}  // namespace

std::optional<std::string_view> GgufFile::get_string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (auto s = v->as_string()) return s;
    throw_key_type(name_, key, "string", *v);
}

std::optional<uint64_t> GgufFile::get_u64(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (auto x = v->as_u64()) return x;
    throw_key_type(name_, key, "a non-negative integer", *v);
}

std::optional<int64_t> GgufFile::get_i64(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (auto x = v->as_i64()) return x;
    throw_key_type(name_, key, "an integer", *v);
}

std::optional<double> GgufFile::get_f64(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (auto x = v->as_f64()) return x;
    throw_key_type(name_, key, "a number", *v);
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return std::nullopt;
    if (auto x = v->as_bool()) return x;
    throw_key_type(name_, key, "bool", *v);
}

const GgufArray* GgufFile::get_array(std::string_view key, GgufType elem_type) const {
    const GgufValue* v = find(key);
    if (!v) return nullptr;
    const GgufArray* a = v->as_array();
    if (!a || a->elem_type != elem_type) {
        throw Error(ErrorKind::bad_type, name_, std::string(key), std::nullopt,
                    type_description(GgufType::array, elem_type),
                    type_description(v->type(), a ? a->elem_type : GgufType::u8));
    }
    return a;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace slim
