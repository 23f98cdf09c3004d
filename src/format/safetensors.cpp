// safetensors reader. The JSON header goes through nlohmann's SAX parser into
// a handler that knows the schema, rather than into an nlohmann::json tree:
// the handler sees duplicate keys (a tree keeps only the last), knows each
// value's byte offset for error messages, refuses deep nesting before it
// costs anything, and keeps only what it needs, so memory stays proportional
// to the tensors, not to whatever a hostile header holds.
#include "format/safetensors.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <unordered_set>

#include "format/error.h"
#include "format/mapped_file.h"

namespace slim {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the official reader's cap
constexpr uint64_t kMaxIndexBytes = 100'000'000;
constexpr int kMaxJsonDepth = 64;  // a header needs 3; deeper is refused, not followed
constexpr size_t kMaxNameInMessage = 120;
constexpr std::string_view kMetadataKey = "__metadata__";

struct DtypeInfo {
    SafetensorsDtype dtype;
    std::string_view name;
    uint32_t bits;
};

constexpr DtypeInfo kDtypes[] = {
    {SafetensorsDtype::boolean, "BOOL", 8},    {SafetensorsDtype::f4, "F4", 4},
    {SafetensorsDtype::f6_e2m3, "F6_E2M3", 6}, {SafetensorsDtype::f6_e3m2, "F6_E3M2", 6},
    {SafetensorsDtype::u8, "U8", 8},           {SafetensorsDtype::i8, "I8", 8},
    {SafetensorsDtype::f8_e5m2, "F8_E5M2", 8}, {SafetensorsDtype::f8_e5m2fnuz, "F8_E5M2FNUZ", 8},
    {SafetensorsDtype::f8_e4m3, "F8_E4M3", 8}, {SafetensorsDtype::f8_e4m3fnuz, "F8_E4M3FNUZ", 8},
    {SafetensorsDtype::f8_e8m0, "F8_E8M0", 8}, {SafetensorsDtype::i16, "I16", 16},
    {SafetensorsDtype::u16, "U16", 16},        {SafetensorsDtype::f16, "F16", 16},
    {SafetensorsDtype::bf16, "BF16", 16},      {SafetensorsDtype::i32, "I32", 32},
    {SafetensorsDtype::u32, "U32", 32},        {SafetensorsDtype::f32, "F32", 32},
    {SafetensorsDtype::c64, "C64", 64},        {SafetensorsDtype::f64, "F64", 64},
    {SafetensorsDtype::i64, "I64", 64},        {SafetensorsDtype::u64, "U64", 64},
};

const DtypeInfo& dtype_info(SafetensorsDtype dtype) {
    for (const DtypeInfo& d : kDtypes) {
        if (d.dtype == dtype) return d;
    }
    return kDtypes[0];  // unreachable: the table covers the enum
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
    return !__builtin_mul_overflow(a, b, out);
}

// A name as it may appear in a message: control bytes, quotes and backslashes
// escaped, and cut short (at a UTF-8 boundary) when long.
std::string printable(std::string_view s) {
    bool cut = false;
    if (s.size() > kMaxNameInMessage) {
        size_t n = kMaxNameInMessage;
        while (n > 0 && (uint8_t(s[n]) & 0xc0) == 0x80) --n;
        s = s.substr(0, n);
        cut = true;
    }
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        uint8_t c = uint8_t(ch);
        if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else if (ch == '\'' || ch == '\\') {
            out += '\\';
            out += ch;
        } else {
            out += ch;
        }
    }
    if (cut) out += "...";
    return out;
}

std::string tensor_field(std::string_view name) {
    return fmt::format("tensors['{}']", printable(name));
}

std::string shape_string(const std::vector<int64_t>& shape) {
    return fmt::format("[{}]", fmt::join(shape, ", "));
}

// ---------------------------------------------------------------------------
// JSON through nlohmann's SAX interface, with byte offsets.

// nlohmann reports positions only with syntax errors. Its lexer reads through
// this iterator, which records how far it has read, so each event can be
// given the byte offset of its token.
class TrackedIterator {
  public:
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = const char&;

    TrackedIterator() = default;
    TrackedIterator(const char* p, const char** read_to) : p_(p), read_to_(read_to) {}

    reference operator*() const { return *p_; }
    TrackedIterator& operator++() {
        *read_to_ = ++p_;
        return *this;
    }
    TrackedIterator operator++(int) {
        TrackedIterator old = *this;
        ++*this;
        return old;
    }
    bool operator==(const TrackedIterator& other) const { return p_ == other.p_; }

  private:
    const char* p_ = nullptr;
    const char** read_to_ = nullptr;
};

enum class JsonKind { null, boolean, negative, unsigned_integer, floating, string, object, array };

struct JsonValue {
    JsonKind kind = JsonKind::null;
    uint64_t at = 0;  // file offset of the value's first byte
    bool boolean = false;
    int64_t negative = 0;  // JsonKind::negative: a '-' integer (-0 included)
    uint64_t unsigned_integer = 0;
    std::string* text = nullptr;  // string contents, or a float's source text

    bool is_container() const { return kind == JsonKind::object || kind == JsonKind::array; }
};

// What a value was, for the `found` part of an error.
std::string describe(const JsonValue& v) {
    switch (v.kind) {
        case JsonKind::null:
            return "null";
        case JsonKind::boolean:
            return v.boolean ? "true" : "false";
        case JsonKind::negative:
            return std::to_string(v.negative);
        case JsonKind::unsigned_integer:
            return std::to_string(v.unsigned_integer);
        case JsonKind::floating:
            return *v.text;
        case JsonKind::string:
            return fmt::format("\"{}\"", printable(*v.text));
        case JsonKind::object:
            return "an object";
        case JsonKind::array:
            return "an array";
    }
    return "a JSON value";
}

// Turns SAX events into on_key / on_value / on_end calls with offsets, skips
// values the schema does not use (skip_next_value), and caps nesting.
class JsonHandler : public nlohmann::json_sax<nlohmann::json> {
  public:
    // `text` starts at byte `text_offset` of `file`; `what` names the text in
    // errors ("header", "index").
    JsonHandler(const std::string& file, std::span<const uint8_t> text, uint64_t text_offset,
                std::string what)
        : file_(file), text_(text), text_offset_(text_offset), what_(std::move(what)) {}

    void run() {
        const char* begin = reinterpret_cast<const char*>(text_.data());
        // nlohmann's lexer takes a NUL byte for the end of the input and
        // would accept whatever follows it. JSON has no place for one.
        const void* nul = text_.empty() ? nullptr : std::memchr(begin, 0, text_.size());
        if (nul) {
            throw Error(ErrorKind::bad_value, file_, what_,
                        text_offset_ + uint64_t(static_cast<const char*>(nul) - begin),
                        "valid JSON", "a NUL byte");
        }
        begin_ = read_to_ = prev_end_ = begin;
        nlohmann::json::sax_parse(TrackedIterator(begin, &read_to_),
                                  TrackedIterator(begin + text_.size(), nullptr), this);
    }

    // nlohmann's SAX interface.
    bool null() override { return value({JsonKind::null}); }
    bool boolean(bool b) override {
        JsonValue v{JsonKind::boolean};
        v.boolean = b;
        return value(v);
    }
    bool number_integer(number_integer_t n) override {
        JsonValue v{JsonKind::negative};
        v.negative = n;
        return value(v);
    }
    bool number_unsigned(number_unsigned_t n) override {
        JsonValue v{JsonKind::unsigned_integer};
        v.unsigned_integer = n;
        return value(v);
    }
    bool number_float(number_float_t, const string_t& s) override {
        std::string text = s;
        JsonValue v{JsonKind::floating};
        v.text = &text;
        return value(v);
    }
    bool string(string_t& s) override {
        JsonValue v{JsonKind::string};
        v.text = &s;
        return value(v);
    }
    bool binary(binary_t&) override { return true; }  // not produced by JSON input
    bool start_object(std::size_t) override { return value({JsonKind::object}); }
    bool end_object() override { return end(); }
    bool start_array(std::size_t) override { return value({JsonKind::array}); }
    bool end_array() override { return end(); }
    bool key(string_t& k) override {
        uint64_t at = token_start();
        if (skip_depth_ == 0) on_key(k, at);
        prev_end_ = read_to_;
        return true;
    }
    // `position` counts the bytes the lexer read, the bad one included; one
    // past the end means the text stopped early.
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::json::exception& ex) override {
        uint64_t size = text_.size();
        bool at_end = position > size;
        uint64_t at = text_offset_ + (position > 0 ? std::min<uint64_t>(position - 1, size) : 0);
        // what() reads "[json.exception.parse_error.101] parse error at line 1,
        // column 7: syntax error while parsing ..."; keep the part after the column.
        std::string detail = ex.what();
        if (size_t col = detail.find("column "); col != std::string::npos) {
            if (size_t colon = detail.find(": ", col); colon != std::string::npos) {
                detail = detail.substr(colon + 2);
            }
        }
        throw Error(at_end ? ErrorKind::truncated : ErrorKind::bad_value, file_, what_, at,
                    "valid JSON", detail);
    }

  protected:
    virtual void on_key(std::string& key, uint64_t at) = 0;
    // A scalar, or the start of an object or array.
    virtual void on_value(const JsonValue& v) = 0;
    // The end of an object or array that on_value saw start.
    virtual void on_end() = 0;

    // The value after the current key is ignored, with all it contains.
    void skip_next_value() { skip_next_ = true; }

    // A non-negative integer; an error naming the found value otherwise.
    uint64_t read_count(const JsonValue& v, const std::string& field, const char* expected) {
        if (v.kind == JsonKind::unsigned_integer) return v.unsigned_integer;
        if (v.kind == JsonKind::negative && v.negative == 0) return 0;
        throw Error(v.kind == JsonKind::negative ? ErrorKind::bad_value : ErrorKind::bad_type,
                    file_, field, v.at, expected, describe(v));
    }

    const std::string& file_;

  private:
    // The token of the current event starts after the previous event's end,
    // past whitespace and separators. (After a number the lexer has read one
    // byte more, always a separator, a bracket or whitespace.)
    uint64_t token_start() const {
        const char* p = prev_end_;
        while (p < read_to_ &&
               (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',' || *p == ':')) {
            ++p;
        }
        return text_offset_ + uint64_t(p - begin_);
    }

    bool value(JsonValue v) {
        v.at = token_start();
        if (v.is_container() && ++depth_ > kMaxJsonDepth) {
            throw Error(ErrorKind::too_large, file_, what_, v.at,
                        fmt::format("JSON nested at most {} deep", kMaxJsonDepth), "deeper");
        }
        if (skip_depth_ > 0) {
            if (v.is_container()) ++skip_depth_;
        } else if (skip_next_) {
            skip_next_ = false;
            if (v.is_container()) skip_depth_ = 1;
        } else {
            on_value(v);
        }
        prev_end_ = read_to_;
        return true;
    }

    bool end() {
        --depth_;
        if (skip_depth_ > 0) {
            --skip_depth_;
        } else {
            on_end();
        }
        prev_end_ = read_to_;
        return true;
    }

    std::span<const uint8_t> text_;
    uint64_t text_offset_;
    std::string what_;
    const char* begin_ = nullptr;
    const char* read_to_ = nullptr;   // how far the lexer has read
    const char* prev_end_ = nullptr;  // read_to_ after the previous event
    int depth_ = 0;
    int skip_depth_ = 0;  // > 0 inside a skipped object or array
    bool skip_next_ = false;
};

// One header entry as read, before the checks that need all of them.
struct RawTensor {
    std::string name;
    uint64_t at = 0;
    std::optional<SafetensorsDtype> dtype;
    bool has_shape = false;
    std::vector<int64_t> shape;
    uint64_t shape_at = 0;
    bool has_offsets = false;
    int n_offsets = 0;
    uint64_t offsets[2] = {0, 0};
    uint64_t offsets_at = 0;
};

class HeaderHandler final : public JsonHandler {
  public:
    using JsonHandler::JsonHandler;

    std::vector<RawTensor> tensors;
    std::map<std::string, std::string, std::less<>> metadata;

  private:
    enum class Ctx { start, root, entry, shape, offsets, metadata, done };
    enum class Next { none, entry, metadata, dtype, shape, offsets, metadata_value };

    void on_key(std::string& key, uint64_t at) override {
        switch (ctx_) {
            case Ctx::root:
                if (!root_keys_.insert(key).second) {
                    throw Error(ErrorKind::duplicate, file_,
                                key == kMetadataKey ? std::string(kMetadataKey) : tensor_field(key),
                                at, "each name once", fmt::format("'{}' again", printable(key)));
                }
                if (key == kMetadataKey) {
                    next_ = Next::metadata;
                } else {
                    next_ = Next::entry;
                    RawTensor t;
                    t.name = std::move(key);
                    t.at = at;
                    tensors.push_back(std::move(t));
                }
                return;
            case Ctx::entry: {
                if (!entry_keys_.insert(key).second) {
                    throw Error(ErrorKind::duplicate, file_,
                                tensor_field(tensors.back().name) + "." + printable(key), at,
                                "each key once", fmt::format("'{}' again", printable(key)));
                }
                if (key == "dtype") {
                    next_ = Next::dtype;
                } else if (key == "shape") {
                    next_ = Next::shape;
                } else if (key == "data_offsets") {
                    next_ = Next::offsets;
                } else {
                    skip_next_value();  // the official reader ignores unknown keys too
                }
                return;
            }
            case Ctx::metadata:
                if (metadata.count(key)) {
                    throw Error(ErrorKind::duplicate, file_,
                                fmt::format("__metadata__['{}']", printable(key)), at,
                                "each key once", fmt::format("'{}' again", printable(key)));
                }
                metadata_key_ = std::move(key);
                next_ = Next::metadata_value;
                return;
            default:
                return;  // keys come only inside the objects above
        }
    }

    void on_value(const JsonValue& v) override {
        switch (ctx_) {
            case Ctx::start:
                if (v.kind != JsonKind::object) {
                    throw Error(ErrorKind::bad_type, file_, "header", v.at, "a JSON object",
                                describe(v));
                }
                ctx_ = Ctx::root;
                return;
            case Ctx::root:
                if (next_ == Next::metadata) {
                    if (v.kind == JsonKind::null) return;
                    if (v.kind != JsonKind::object) {
                        throw Error(ErrorKind::bad_type, file_, std::string(kMetadataKey), v.at,
                                    "an object of strings", describe(v));
                    }
                    ctx_ = Ctx::metadata;
                    return;
                }
                if (v.kind != JsonKind::object) {
                    throw Error(ErrorKind::bad_type, file_, tensor_field(tensors.back().name), v.at,
                                "an object with dtype, shape and data_offsets", describe(v));
                }
                entry_keys_.clear();
                ctx_ = Ctx::entry;
                return;
            case Ctx::entry:
                entry_value(tensors.back(), v);
                return;
            case Ctx::shape: {
                RawTensor& t = tensors.back();
                std::string field =
                    fmt::format("{}.shape[{}]", tensor_field(t.name), t.shape.size());
                uint64_t dim = read_count(v, field, "a dimension >= 0");
                if (dim > uint64_t(std::numeric_limits<int64_t>::max())) {
                    throw Error(ErrorKind::too_large, file_, field, v.at, "a dimension below 2^63",
                                std::to_string(dim));
                }
                t.shape.push_back(int64_t(dim));
                return;
            }
            case Ctx::offsets: {
                RawTensor& t = tensors.back();
                std::string field = tensor_field(t.name) + ".data_offsets";
                if (t.n_offsets == 2) {
                    throw Error(ErrorKind::bad_value, file_, field, t.offsets_at,
                                "two offsets [begin, end]", "more");
                }
                t.offsets[t.n_offsets] =
                    read_count(v, fmt::format("{}[{}]", field, t.n_offsets), "an offset >= 0");
                ++t.n_offsets;
                return;
            }
            case Ctx::metadata:
                if (v.kind != JsonKind::string) {
                    throw Error(ErrorKind::bad_type, file_,
                                fmt::format("__metadata__['{}']", printable(metadata_key_)), v.at,
                                "a string", describe(v));
                }
                metadata.emplace(std::move(metadata_key_), std::move(*v.text));
                return;
            case Ctx::done:
                return;  // nlohmann refuses anything after the root
        }
    }

    void entry_value(RawTensor& t, const JsonValue& v) {
        std::string field = tensor_field(t.name);
        switch (next_) {
            case Next::dtype: {
                if (v.kind != JsonKind::string) {
                    throw Error(ErrorKind::bad_type, file_, field + ".dtype", v.at,
                                "a dtype name string", describe(v));
                }
                t.dtype = safetensors_dtype_from_name(*v.text);
                if (!t.dtype) {
                    throw Error(ErrorKind::unsupported, file_, field + ".dtype", v.at,
                                "a safetensors dtype (F32, F16, BF16, I64, ...)", describe(v));
                }
                return;
            }
            case Next::shape:
                if (v.kind != JsonKind::array) {
                    throw Error(ErrorKind::bad_type, file_, field + ".shape", v.at,
                                "an array of dimensions", describe(v));
                }
                t.has_shape = true;
                t.shape_at = v.at;
                ctx_ = Ctx::shape;
                return;
            case Next::offsets:
                if (v.kind != JsonKind::array) {
                    throw Error(ErrorKind::bad_type, file_, field + ".data_offsets", v.at,
                                "an array [begin, end]", describe(v));
                }
                t.has_offsets = true;
                t.offsets_at = v.at;
                ctx_ = Ctx::offsets;
                return;
            default:
                return;  // unreachable: every entry key sets next_ or skips
        }
    }

    void on_end() override {
        switch (ctx_) {
            case Ctx::root:
                ctx_ = Ctx::done;
                return;
            case Ctx::entry: {
                const RawTensor& t = tensors.back();
                const char* missing = !t.dtype         ? "dtype"
                                      : !t.has_shape   ? "shape"
                                      : !t.has_offsets ? "data_offsets"
                                                       : nullptr;
                if (missing) {
                    throw Error(ErrorKind::bad_value, file_, tensor_field(t.name), t.at,
                                "keys dtype, shape and data_offsets",
                                fmt::format("no '{}'", missing));
                }
                ctx_ = Ctx::root;
                return;
            }
            case Ctx::shape:
                ctx_ = Ctx::entry;
                return;
            case Ctx::offsets: {
                const RawTensor& t = tensors.back();
                if (t.n_offsets != 2) {
                    throw Error(ErrorKind::bad_value, file_, tensor_field(t.name) + ".data_offsets",
                                t.offsets_at, "two offsets [begin, end]",
                                fmt::format("{}", t.n_offsets));
                }
                ctx_ = Ctx::entry;
                return;
            }
            case Ctx::metadata:
                ctx_ = Ctx::root;
                return;
            case Ctx::start:
            case Ctx::done:
                return;
        }
    }

    Ctx ctx_ = Ctx::start;
    Next next_ = Next::none;
    std::unordered_set<std::string> root_keys_;
    std::unordered_set<std::string> entry_keys_;
    std::string metadata_key_;
};

uint64_t load_u64_le(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

std::string_view safetensors_dtype_name(SafetensorsDtype dtype) {
    return dtype_info(dtype).name;
}

uint32_t safetensors_dtype_bits(SafetensorsDtype dtype) {
    return dtype_info(dtype).bits;
}

std::optional<SafetensorsDtype> safetensors_dtype_from_name(std::string_view name) {
    for (const DtypeInfo& d : kDtypes) {
        if (d.name == name) return d.dtype;
    }
    return std::nullopt;
}

bool safetensors_dtype_is_convertible(SafetensorsDtype dtype) {
    return dtype == SafetensorsDtype::f32 || dtype == SafetensorsDtype::f16 ||
           dtype == SafetensorsDtype::bf16;
}

std::span<const uint8_t> SafetensorsTensor::data() const {
    if (!is_convertible()) {
        throw Error(ErrorKind::unsupported, *file_, tensor_field(name) + ".dtype", header_offset,
                    "F32, F16 or BF16 to read its data",
                    std::string(safetensors_dtype_name(dtype)));
    }
    return bytes_;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
    auto map = std::make_shared<const MappedFile>(path);
    SafetensorsFile f;
    f.map_ = map;
    f.bytes_ = map->bytes();
    f.name_ = std::make_shared<const std::string>(map->path());
    f.parse_all();
    return f;
}

SafetensorsFile SafetensorsFile::parse(std::span<const uint8_t> bytes, std::string name) {
    SafetensorsFile f;
    f.bytes_ = bytes;
    f.name_ = std::make_shared<const std::string>(std::move(name));
    f.parse_all();
    return f;
}

void SafetensorsFile::parse_all() {
    const std::string& file = *name_;
    if (bytes_.size() < 8) {
        throw Error(ErrorKind::truncated, file, "header_length", 0, "8 bytes",
                    fmt::format("end of file after {}", bytes_.size()));
    }
    uint64_t n = load_u64_le(bytes_.data());
    if (n > kMaxHeaderBytes) {
        throw Error(ErrorKind::too_large, file, "header_length", 0,
                    fmt::format("at most {} bytes", kMaxHeaderBytes), std::to_string(n));
    }
    if (n > bytes_.size() - 8) {
        throw Error(ErrorKind::truncated, file, "header_length", 0,
                    fmt::format("a header within the {} bytes after the length", bytes_.size() - 8),
                    std::to_string(n));
    }
    if (n == 0 || bytes_[8] != '{') {
        throw Error(
            ErrorKind::bad_magic, file, "header", 8, "a JSON object starting with '{'",
            n == 0 ? std::string("an empty header") : fmt::format("byte 0x{:02x}", bytes_[8]));
    }
    header_size_ = n;

    HeaderHandler header(file, bytes_.subspan(8, n), 8, "header");
    header.run();
    metadata_ = std::move(header.metadata);

    uint64_t data_offset = 8 + n;
    uint64_t data_size = bytes_.size() - data_offset;
    tensors_.reserve(header.tensors.size());
    index_.reserve(header.tensors.size());
    std::vector<uint64_t> offsets_at;
    offsets_at.reserve(header.tensors.size());
    for (RawTensor& r : header.tensors) {
        std::string field = tensor_field(r.name);
        uint32_t bits = safetensors_dtype_bits(*r.dtype);
        uint64_t n_elements = 1;
        for (size_t d = 0; d < r.shape.size(); ++d) {
            if (!checked_mul(n_elements, uint64_t(r.shape[d]), &n_elements) ||
                n_elements > uint64_t(std::numeric_limits<int64_t>::max())) {
                throw Error(ErrorKind::too_large, file, field + ".shape", r.shape_at,
                            "an element count below 2^63",
                            fmt::format("a product that overflows at shape[{}]", d));
            }
        }
        uint64_t n_bits = 0;
        if (!checked_mul(n_elements, bits, &n_bits)) {
            throw Error(ErrorKind::too_large, file, field + ".shape", r.shape_at,
                        "a byte size below 2^61", fmt::format("{} elements", n_elements));
        }
        if (n_bits % 8 != 0) {
            throw Error(ErrorKind::bad_value, file, field + ".shape", r.shape_at,
                        fmt::format("a whole number of bytes at {} bits per {} element", bits,
                                    safetensors_dtype_name(*r.dtype)),
                        fmt::format("{} elements", n_elements));
        }
        uint64_t n_bytes = n_bits / 8;
        uint64_t begin = r.offsets[0];
        uint64_t end = r.offsets[1];
        std::string found = fmt::format("[{}, {}]", begin, end);
        if (begin > end) {
            throw Error(ErrorKind::bad_value, file, field + ".data_offsets", r.offsets_at,
                        "begin <= end", found);
        }
        if (end > data_size) {
            throw Error(ErrorKind::out_of_range, file, field + ".data_offsets", r.offsets_at,
                        fmt::format("end within the {}-byte data buffer", data_size), found);
        }
        if (end - begin != n_bytes) {
            throw Error(ErrorKind::bad_value, file, field + ".data_offsets", r.offsets_at,
                        fmt::format("end - begin = {} bytes ({} {})", n_bytes,
                                    safetensors_dtype_name(*r.dtype), shape_string(r.shape)),
                        fmt::format("{} bytes {}", end - begin, found));
        }

        SafetensorsTensor t;
        t.dtype = *r.dtype;
        t.shape = std::move(r.shape);
        t.n_elements = n_elements;
        t.data_begin = begin;
        t.data_end = end;
        t.header_offset = r.at;
        t.bytes_ = bytes_.subspan(data_offset + begin, n_bytes);
        t.file_ = name_;
        t.name = std::move(r.name);
        index_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
        offsets_at.push_back(r.offsets_at);
    }

    // Empty tensors occupy no bytes and may sit anywhere.
    std::vector<size_t> order;
    order.reserve(tensors_.size());
    for (size_t i = 0; i < tensors_.size(); ++i) {
        if (tensors_[i].n_bytes() > 0) order.push_back(i);
    }
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return tensors_[a].data_begin < tensors_[b].data_begin; });
    for (size_t k = 1; k < order.size(); ++k) {
        const SafetensorsTensor& prev = tensors_[order[k - 1]];
        const SafetensorsTensor& cur = tensors_[order[k]];
        if (prev.data_end > cur.data_begin) {
            throw Error(ErrorKind::overlap, file, tensor_field(cur.name) + ".data_offsets",
                        offsets_at[order[k]],
                        fmt::format("bytes disjoint from {} at [{}, {}]", tensor_field(prev.name),
                                    prev.data_begin, prev.data_end),
                        fmt::format("[{}, {}]", cur.data_begin, cur.data_end));
        }
    }
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::optional<std::string_view> SafetensorsFile::metadata_value(std::string_view key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end()) return std::nullopt;
    return std::string_view(it->second);
}

// ---------------------------------------------------------------------------
// Sharded sets.

namespace {

struct WeightMapEntry {
    std::string name;
    std::string shard;
    uint64_t at = 0;
};

std::string weight_map_field(std::string_view name) {
    return fmt::format("weight_map['{}']", printable(name));
}

// {"metadata": {...}, "weight_map": {tensor: shard file}}; other keys ignored.
class IndexHandler final : public JsonHandler {
  public:
    using JsonHandler::JsonHandler;

    bool has_weight_map = false;
    std::vector<WeightMapEntry> entries;  // in file order
    std::unordered_map<std::string, size_t> by_name;

  private:
    enum class Ctx { start, root, weight_map, done };

    void on_key(std::string& key, uint64_t at) override {
        if (ctx_ == Ctx::root) {
            if (!root_keys_.insert(key).second) {
                throw Error(ErrorKind::duplicate, file_, printable(key), at, "each key once",
                            fmt::format("'{}' again", printable(key)));
            }
            if (key != "weight_map") skip_next_value();
        } else if (ctx_ == Ctx::weight_map) {
            auto [it, fresh] = by_name.emplace(key, entries.size());
            if (!fresh) {
                throw Error(ErrorKind::duplicate, file_, weight_map_field(key), at,
                            "each tensor name once",
                            fmt::format("'{}' again (first mapped to {})", printable(key),
                                        printable(entries[it->second].shard)));
            }
            entries.push_back(WeightMapEntry{std::move(key), {}, at});
        }
    }

    void on_value(const JsonValue& v) override {
        switch (ctx_) {
            case Ctx::start:
                if (v.kind != JsonKind::object) {
                    throw Error(ErrorKind::bad_type, file_, "index", v.at, "a JSON object",
                                describe(v));
                }
                ctx_ = Ctx::root;
                return;
            case Ctx::root:  // only weight_map's value is not skipped
                if (v.kind != JsonKind::object) {
                    throw Error(ErrorKind::bad_type, file_, "weight_map", v.at,
                                "an object of tensor name -> shard file", describe(v));
                }
                has_weight_map = true;
                ctx_ = Ctx::weight_map;
                return;
            case Ctx::weight_map:
                if (v.kind != JsonKind::string) {
                    throw Error(ErrorKind::bad_type, file_, weight_map_field(entries.back().name),
                                v.at, "a shard file name", describe(v));
                }
                entries.back().shard = std::move(*v.text);
                return;
            case Ctx::done:
                return;
        }
    }

    void on_end() override {
        if (ctx_ == Ctx::weight_map) {
            ctx_ = Ctx::root;
        } else if (ctx_ == Ctx::root) {
            ctx_ = Ctx::done;
        }
    }

    Ctx ctx_ = Ctx::start;
    std::unordered_set<std::string> root_keys_;
};

bool is_plain_file_name(std::string_view s) {
    return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
           s.find('\\') == std::string_view::npos && s.find('\0') == std::string_view::npos;
}

}  // namespace

SafetensorsSet SafetensorsSet::open(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        fs::path index = path / "model.safetensors.index.json";
        if (fs::exists(index, ec)) return open_index(index);
        fs::path single = path / "model.safetensors";
        if (!fs::exists(single, ec)) {
            throw Error(ErrorKind::io, path.string(), "open", std::nullopt,
                        "a folder with model.safetensors.index.json or model.safetensors",
                        "neither");
        }
        return open(single);
    }
    std::string name = path.filename().string();
    if (name.ends_with(".index.json")) return open_index(path);
    SafetensorsSet set;
    set.files_.push_back(SafetensorsFile::open(path));
    set.add_tensors();
    return set;
}

SafetensorsSet SafetensorsSet::open_index(const std::filesystem::path& index) {
    namespace fs = std::filesystem;
    SafetensorsSet set;
    MappedFile map(index);
    set.index_path_ = map.path();
    const std::string& file = set.index_path_;
    if (map.bytes().size() > kMaxIndexBytes) {
        throw Error(ErrorKind::too_large, file, "index", std::nullopt,
                    fmt::format("at most {} bytes", kMaxIndexBytes),
                    std::to_string(map.bytes().size()));
    }
    IndexHandler handler(file, map.bytes(), 0, "index");
    handler.run();
    if (!handler.has_weight_map) {
        throw Error(ErrorKind::bad_value, file, "weight_map", std::nullopt,
                    "an object of tensor name -> shard file", "no 'weight_map'");
    }

    // Each shard once, in file-name order; the first entry naming it stands
    // for it in errors.
    std::map<std::string, size_t> first_entry;
    for (size_t i = 0; i < handler.entries.size(); ++i) {
        const WeightMapEntry& e = handler.entries[i];
        if (!is_plain_file_name(e.shard)) {
            throw Error(ErrorKind::bad_value, file, weight_map_field(e.name), e.at,
                        "a file name in the index's folder",
                        fmt::format("\"{}\"", printable(e.shard)));
        }
        first_entry.emplace(e.shard, i);
    }
    fs::path dir = fs::path(index).parent_path();
    std::map<std::string, size_t> shard_ids;
    for (const auto& [shard, i] : first_entry) {
        fs::path p = dir / shard;
        std::error_code ec;
        if (!fs::is_regular_file(p, ec)) {
            const WeightMapEntry& e = handler.entries[i];
            throw Error(ErrorKind::io, file, weight_map_field(e.name), e.at,
                        "an existing shard file", fmt::format("no file {}", p.string()));
        }
        shard_ids.emplace(shard, set.files_.size());
        set.files_.push_back(SafetensorsFile::open(p));
    }

    for (const WeightMapEntry& e : handler.entries) {
        const SafetensorsFile& shard = set.files_[shard_ids.at(e.shard)];
        if (!shard.find(e.name)) {
            throw Error(ErrorKind::out_of_range, file, weight_map_field(e.name), e.at,
                        fmt::format("a tensor in {}", printable(e.shard)), "no such tensor there");
        }
    }
    for (const auto& [shard, id] : shard_ids) {
        for (const SafetensorsTensor& t : set.files_[id].tensors()) {
            auto it = handler.by_name.find(t.name);
            if (it == handler.by_name.end()) {
                throw Error(ErrorKind::bad_value, file, "weight_map", std::nullopt,
                            fmt::format("an entry for every tensor of {}", printable(shard)),
                            fmt::format("none for '{}'", printable(t.name)));
            }
            const std::string& mapped = handler.entries[it->second].shard;
            if (mapped != shard) {
                throw Error(ErrorKind::duplicate, t.file(), tensor_field(t.name), t.header_offset,
                            fmt::format("the tensor only in {}, where {} maps it",
                                        printable(mapped), index.filename().string()),
                            "a second copy here");
            }
        }
    }
    set.add_tensors();
    return set;
}

void SafetensorsSet::add_tensors() {
    for (const SafetensorsFile& f : files_) {
        for (const SafetensorsTensor& t : f.tensors()) {
            tensors_.push_back(&t);
            index_.emplace(t.name, &t);
        }
    }
}

const SafetensorsTensor* SafetensorsSet::find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
}

}  // namespace slim
