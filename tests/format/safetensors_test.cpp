// The safetensors reader: files built here in memory (valid ones, read back
// value by value, and one per malformation, each asserting which error it
// raises), the files the official `safetensors` package wrote into
// tests/reference/safetensors/ (tools/reference/make_safetensors_refs.py),
// against the values numpy decoded into the sidecar JSON, and sharded sets.
#include "format/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "format/error.h"
#include "test_paths.h"

namespace slim {
namespace {

namespace fs = std::filesystem;

// --- building files --------------------------------------------------------

// u64 little-endian length, the header text as given, then the data.
std::vector<uint8_t> make_file(std::string_view header, const std::vector<uint8_t>& data = {}) {
    std::vector<uint8_t> out;
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(n >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& values) {
    std::vector<uint8_t> out(values.size() * sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
    return out;
}

std::vector<uint8_t> zeros(size_t n) {
    return std::vector<uint8_t>(n, 0);
}

struct Entry {
    std::string name;
    std::string dtype;
    std::string shape;  // JSON text, e.g. "[2,3]"
    std::vector<uint8_t> data;
};

// A valid file: entries in order, data laid out densely, the header padded
// with spaces to a multiple of 8 as the official writer does.
std::vector<uint8_t> build(const std::vector<Entry>& entries, std::string metadata = "") {
    std::string header = "{";
    if (!metadata.empty()) header += "\"__metadata__\":" + metadata;
    std::vector<uint8_t> data;
    for (const Entry& e : entries) {
        if (header.size() > 1) header += ",";
        header += "\"" + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":" + e.shape +
                  ",\"data_offsets\":[" + std::to_string(data.size()) + "," +
                  std::to_string(data.size() + e.data.size()) + "]}";
        data.insert(data.end(), e.data.begin(), e.data.end());
    }
    header += "}";
    while (header.size() % 8 != 0) header += ' ';
    return make_file(header, data);
}

// Decoders written here, independent of the reader, for the in-memory files.
float f16_to_f32(uint16_t h) {
    int sign = h >> 15;
    int exp = (h >> 10) & 0x1f;
    int mant = h & 0x3ff;
    float v;
    if (exp == 0) {
        v = std::ldexp(float(mant), -24);
    } else if (exp == 31) {
        v = mant ? NAN : INFINITY;
    } else {
        v = std::ldexp(float(mant + 1024), exp - 25);
    }
    return sign ? -v : v;
}

float bf16_to_f32(uint16_t h) {
    return std::bit_cast<float>(uint32_t(h) << 16);
}

// The tensor's values as float32, decoded from its bytes by dtype.
std::vector<float> values_of(const SafetensorsTensor& t) {
    std::span<const uint8_t> d = t.data();
    std::vector<float> out;
    if (t.dtype == SafetensorsDtype::f32) {
        out.resize(d.size() / 4);
        if (!out.empty()) std::memcpy(out.data(), d.data(), d.size());
        return out;
    }
    for (size_t i = 0; i + 1 < d.size(); i += 2) {
        uint16_t h = uint16_t(d[i] | (d[i + 1] << 8));
        out.push_back(t.dtype == SafetensorsDtype::f16 ? f16_to_f32(h) : bf16_to_f32(h));
    }
    return out;
}

std::optional<Error> parse_error(const std::vector<uint8_t>& bytes) {
    try {
        SafetensorsFile::parse(bytes, "t.safetensors");
    } catch (const Error& e) {
        return e;
    }
    return std::nullopt;
}

// The file must raise `kind` at `field`, naming the file. (The macro puts
// the caller's line into failure messages.)
void check_parse_error(const std::vector<uint8_t>& bytes, ErrorKind kind,
                       const std::string& field) {
    std::optional<Error> e = parse_error(bytes);
    ASSERT_TRUE(e.has_value()) << "parsed without error";
    EXPECT_EQ(error_kind_name(e->kind()), std::string(error_kind_name(kind))) << e->what();
    EXPECT_EQ(e->field(), field) << e->what();
    EXPECT_EQ(e->file(), "t.safetensors");
}
#define EXPECT_PARSE_ERROR(...)         \
    do {                                \
        SCOPED_TRACE("from here");      \
        check_parse_error(__VA_ARGS__); \
    } while (0)

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
           ",\"data_offsets\":" + offsets + "}";
}

// --- valid files -------------------------------------------------------------

TEST(Safetensors, ReadsTensorsInHeaderOrderInPlace) {
    std::vector<float> f32 = {1.5f, -2.0f, 0.0f, 3.25f, -0.0f, 1e-40f};
    std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x0001, 0x7bff};  // 1, -2, 2^-24, 65504
    std::vector<uint16_t> bf16 = {0x3f80, 0xc020, 0x7f7f};         // 1, -2.5, ~3.39e38
    std::vector<uint8_t> file = build({{"z.first", "F32", "[2,3]", bytes_of(f32)},
                                       {"a.second", "F16", "[4]", bytes_of(f16)},
                                       {"m.third", "BF16", "[1,1,3]", bytes_of(bf16)}});
    SafetensorsFile f = SafetensorsFile::parse(file, "mem");

    ASSERT_EQ(f.tensors().size(), 3u);
    EXPECT_EQ(f.path(), "mem");
    EXPECT_EQ(f.file_size(), file.size());
    EXPECT_EQ(f.data_offset() % 8, 0u);
    const SafetensorsTensor& a = f.tensors()[0];
    EXPECT_EQ(a.name, "z.first");
    EXPECT_EQ(a.dtype, SafetensorsDtype::f32);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.n_elements, 6u);
    EXPECT_EQ(a.data_begin, 0u);
    EXPECT_EQ(a.data_end, 24u);
    EXPECT_EQ(a.file(), "mem");
    // In place: the span points into the caller's bytes.
    EXPECT_EQ(a.data().data(), file.data() + f.data_offset());
    std::vector<float> got = values_of(a);
    ASSERT_EQ(got.size(), f32.size());
    for (size_t i = 0; i < f32.size(); ++i) {
        EXPECT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(f32[i])) << i;
    }

    const SafetensorsTensor& b = f.tensors()[1];
    EXPECT_EQ(b.name, "a.second");
    EXPECT_EQ(b.dtype, SafetensorsDtype::f16);
    EXPECT_EQ(b.data().data(), file.data() + f.data_offset() + 24);
    EXPECT_EQ(values_of(b), (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24), 65504.0f}));

    const SafetensorsTensor& c = f.tensors()[2];
    EXPECT_EQ(c.dtype, SafetensorsDtype::bf16);
    EXPECT_EQ(c.shape, (std::vector<int64_t>{1, 1, 3}));
    EXPECT_EQ(values_of(c), (std::vector<float>{1.0f, -2.5f, 0x1.fep127f}));

    EXPECT_EQ(f.find("a.second"), &b);
    EXPECT_EQ(f.find("m.third"), &c);
    EXPECT_EQ(f.find("missing"), nullptr);
    EXPECT_TRUE(f.metadata().empty());
}

TEST(Safetensors, ReadsMetadata) {
    std::vector<uint8_t> file =
        build({{"w", "F32", "[1]", zeros(4)}}, R"({"format":"pt","note":"caf\u00e9 \"q\""})");
    SafetensorsFile f = SafetensorsFile::parse(file);
    ASSERT_EQ(f.metadata().size(), 2u);
    EXPECT_EQ(f.metadata_value("format"), "pt");
    EXPECT_EQ(f.metadata_value("note"), "caf\xc3\xa9 \"q\"");
    EXPECT_EQ(f.metadata_value("absent"), std::nullopt);
    EXPECT_EQ(f.tensors().size(), 1u);
}

TEST(Safetensors, EmptyHeaderHasNoTensors) {
    std::vector<uint8_t> file = make_file("{}      ");
    SafetensorsFile f = SafetensorsFile::parse(file);
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_EQ(f.header_size(), 8u);
}

TEST(Safetensors, ScalarsAndEmptyTensors) {
    std::vector<uint8_t> file = build({{"empty", "F32", "[0,4]", {}},
                                       {"scalar", "F32", "[]", bytes_of(std::vector<float>{7})},
                                       {"empty2", "BF16", "[3,0]", {}}});
    SafetensorsFile f = SafetensorsFile::parse(file);
    ASSERT_EQ(f.tensors().size(), 3u);
    EXPECT_EQ(f.tensors()[0].n_elements, 0u);
    EXPECT_EQ(f.tensors()[0].data().size(), 0u);
    EXPECT_TRUE(f.tensors()[1].shape.empty());
    EXPECT_EQ(f.tensors()[1].n_elements, 1u);
    EXPECT_EQ(values_of(f.tensors()[1]), std::vector<float>{7});
    EXPECT_EQ(f.tensors()[2].n_bytes(), 0u);
}

TEST(Safetensors, AcceptsNullMetadataUnknownKeysGapsAndTrailingBytes) {
    // The official reader ignores unknown keys; gaps and trailing bytes are
    // refused there but leave nothing ambiguous, so slim reads them.
    std::string header = "{\"__metadata__\":null," +
                         entry("a", "F32", "[1]", "[4,8]").insert(5, R"("x":{"y":[[1],{}]},)") +
                         "," + entry("b", "F16", "[2]", "[12,16]") + "}";
    std::vector<uint8_t> data = zeros(20);
    data[7] = 0x40;  // a = 2.0f
    std::vector<uint8_t> file = make_file(header, data);
    SafetensorsFile f = SafetensorsFile::parse(file);
    ASSERT_EQ(f.tensors().size(), 2u);
    EXPECT_TRUE(f.metadata().empty());
    EXPECT_EQ(values_of(f.tensors()[0]), std::vector<float>{2.0f});
    EXPECT_EQ(f.tensors()[1].data_begin, 12u);
}

TEST(Safetensors, ListsOtherDtypesButRefusesTheirData) {
    std::vector<uint8_t> file = build({{"ids", "I64", "[2]", zeros(16)},
                                       {"mask", "BOOL", "[3]", zeros(3)},
                                       {"packed", "F4", "[4]", zeros(2)},
                                       {"f8", "F8_E4M3", "[2]", zeros(2)},
                                       {"d", "F64", "[1]", zeros(8)}});
    SafetensorsFile f = SafetensorsFile::parse(file, "t.safetensors");
    ASSERT_EQ(f.tensors().size(), 5u);
    EXPECT_EQ(f.tensors()[0].dtype, SafetensorsDtype::i64);
    EXPECT_EQ(f.tensors()[2].dtype, SafetensorsDtype::f4);
    EXPECT_EQ(f.tensors()[2].n_bytes(), 2u);
    for (const SafetensorsTensor& t : f.tensors()) {
        EXPECT_FALSE(t.is_convertible()) << t.name;
        try {
            t.data();
            ADD_FAILURE() << t.name << ": data() of an unsupported dtype returned";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::unsupported);
            EXPECT_EQ(e.field(), "tensors['" + t.name + "'].dtype");
            EXPECT_EQ(e.file(), "t.safetensors");
            EXPECT_EQ(e.found(), safetensors_dtype_name(t.dtype));
        }
    }
}

TEST(Safetensors, DtypeNames) {
    const char* names[] = {"BOOL",    "F4",          "F6_E2M3", "F6_E3M2",     "U8",      "I8",
                           "F8_E5M2", "F8_E5M2FNUZ", "F8_E4M3", "F8_E4M3FNUZ", "F8_E8M0", "I16",
                           "U16",     "F16",         "BF16",    "I32",         "U32",     "F32",
                           "C64",     "F64",         "I64",     "U64"};
    for (const char* name : names) {
        std::optional<SafetensorsDtype> d = safetensors_dtype_from_name(name);
        ASSERT_TRUE(d) << name;
        EXPECT_EQ(safetensors_dtype_name(*d), name);
    }
    EXPECT_EQ(safetensors_dtype_from_name("f32"), std::nullopt);
    EXPECT_EQ(safetensors_dtype_from_name("F8"), std::nullopt);
    EXPECT_EQ(safetensors_dtype_bits(SafetensorsDtype::bf16), 16u);
    EXPECT_EQ(safetensors_dtype_bits(SafetensorsDtype::f4), 4u);
    EXPECT_EQ(safetensors_dtype_bits(SafetensorsDtype::c64), 64u);
    EXPECT_TRUE(safetensors_dtype_is_convertible(SafetensorsDtype::f16));
    EXPECT_FALSE(safetensors_dtype_is_convertible(SafetensorsDtype::f64));
}

// --- malformed files: one per check ------------------------------------------

TEST(SafetensorsErrors, ShorterThanTheLength) {
    EXPECT_PARSE_ERROR(std::vector<uint8_t>{1, 0, 0}, ErrorKind::truncated, "header_length");
    EXPECT_PARSE_ERROR(std::vector<uint8_t>{}, ErrorKind::truncated, "header_length");
}

TEST(SafetensorsErrors, HeaderLengthOverTheCap) {
    std::vector<uint8_t> file = make_file("{}");
    file[3] = 0x10;  // 256 MiB + 2
    EXPECT_PARSE_ERROR(file, ErrorKind::too_large, "header_length");
    std::vector<uint8_t> huge(16, 0xff);
    EXPECT_PARSE_ERROR(huge, ErrorKind::too_large, "header_length");
}

TEST(SafetensorsErrors, HeaderLengthPastTheEnd) {
    std::vector<uint8_t> file = make_file("{}");
    file[0] = 3;
    EXPECT_PARSE_ERROR(file, ErrorKind::truncated, "header_length");
}

TEST(SafetensorsErrors, HeaderNotAnObject) {
    EXPECT_PARSE_ERROR(make_file("[1,2]"), ErrorKind::bad_magic, "header");
    EXPECT_PARSE_ERROR(make_file(" {}"), ErrorKind::bad_magic, "header");
    EXPECT_PARSE_ERROR(make_file(""), ErrorKind::bad_magic, "header");
}

TEST(SafetensorsErrors, JsonSyntaxWithOffset) {
    std::string header = R"({"a":{"dtype":"F32","shape":[1],,"data_offsets":[0,4]}})";
    std::optional<Error> e = parse_error(make_file(header, zeros(4)));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::bad_value);
    EXPECT_EQ(e->field(), "header");
    EXPECT_EQ(e->offset(), 8 + header.find(",,") + 1);  // the second comma
    EXPECT_EQ(e->expected(), "valid JSON");
    EXPECT_NE(e->found().find("syntax error"), std::string::npos) << e->found();
}

TEST(SafetensorsErrors, JsonEndsEarly) {
    std::string header = R"({"a":{"dtype":"F32","shape":[1])";
    std::optional<Error> e = parse_error(make_file(header, zeros(4)));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::truncated);
    EXPECT_EQ(e->field(), "header");
    EXPECT_EQ(e->offset(), 8 + header.size());
}

TEST(SafetensorsErrors, JsonInvalidUtf8AndControlBytes) {
    EXPECT_PARSE_ERROR(make_file("{\"\xc3(\":{}}"), ErrorKind::bad_value, "header");
    // nlohmann alone would stop at the NUL and accept the header.
    std::optional<Error> e = parse_error(make_file(std::string("{}\0x", 4)));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::bad_value);
    EXPECT_EQ(e->offset(), 8 + 2u);
    EXPECT_PARSE_ERROR(make_file("{} x"), ErrorKind::bad_value, "header");
}

TEST(SafetensorsErrors, EntryNotAnObject) {
    EXPECT_PARSE_ERROR(make_file(R"({"a":[1]})"), ErrorKind::bad_type, "tensors['a']");
    EXPECT_PARSE_ERROR(make_file(R"({"a":"F32"})"), ErrorKind::bad_type, "tensors['a']");
}

TEST(SafetensorsErrors, EntryMissingAKey) {
    EXPECT_PARSE_ERROR(make_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", zeros(4)),
                       ErrorKind::bad_value, "tensors['a']");
    EXPECT_PARSE_ERROR(make_file(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", zeros(4)),
                       ErrorKind::bad_value, "tensors['a']");
    std::optional<Error> e = parse_error(make_file(R"({"a":{"dtype":"F32","shape":[1]}})"));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->field(), "tensors['a']");
    EXPECT_EQ(e->found(), "no 'data_offsets'");
    EXPECT_EQ(e->offset(), 8 + 1u);  // the entry's name
}

TEST(SafetensorsErrors, DtypeNotAString) {
    EXPECT_PARSE_ERROR(make_file(R"({"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", zeros(4)),
                       ErrorKind::bad_type, "tensors['a'].dtype");
}

TEST(SafetensorsErrors, UnknownDtype) {
    std::string header = "{" + entry("a", "F12", "[1]", "[0,4]") + "}";
    std::optional<Error> e = parse_error(make_file(header, zeros(4)));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::unsupported);
    EXPECT_EQ(e->field(), "tensors['a'].dtype");
    EXPECT_EQ(e->found(), "\"F12\"");
    EXPECT_EQ(e->offset(), 8 + header.find("\"F12\""));
}

TEST(SafetensorsErrors, ShapeNotAnArray) {
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "4", "[0,16]") + "}", zeros(16)),
                       ErrorKind::bad_type, "tensors['a'].shape");
}

TEST(SafetensorsErrors, NegativeDimension) {
    std::string header = "{" + entry("a", "F32", "[2,-2]", "[0,16]") + "}";
    std::optional<Error> e = parse_error(make_file(header, zeros(16)));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::bad_value);
    EXPECT_EQ(e->field(), "tensors['a'].shape[1]");
    EXPECT_EQ(e->found(), "-2");
    EXPECT_EQ(e->offset(), 8 + header.find("-2"));
}

TEST(SafetensorsErrors, NonIntegerDimension) {
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "[4.0]", "[0,16]") + "}", zeros(16)),
                       ErrorKind::bad_type, "tensors['a'].shape[0]");
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "[[4]]", "[0,16]") + "}", zeros(16)),
                       ErrorKind::bad_type, "tensors['a'].shape[0]");
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "[\"4\"]", "[0,16]") + "}", zeros(16)),
                       ErrorKind::bad_type, "tensors['a'].shape[0]");
}

TEST(SafetensorsErrors, DimensionOver2To63) {
    EXPECT_PARSE_ERROR(
        make_file("{" + entry("a", "F32", "[9223372036854775808]", "[0,16]") + "}", zeros(16)),
        ErrorKind::too_large, "tensors['a'].shape[0]");
}

TEST(SafetensorsErrors, ShapeProductOverflows) {
    EXPECT_PARSE_ERROR(
        make_file("{" + entry("a", "F32", "[4294967296,4294967296]", "[0,16]") + "}", zeros(16)),
        ErrorKind::too_large, "tensors['a'].shape");
    // Fits in elements, not in bits.
    EXPECT_PARSE_ERROR(
        make_file("{" + entry("a", "F64", "[4611686018427387904]", "[0,16]") + "}", zeros(16)),
        ErrorKind::too_large, "tensors['a'].shape");
}

TEST(SafetensorsErrors, SubByteDtypeNeedsWholeBytes) {
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F4", "[3]", "[0,2]") + "}", zeros(2)),
                       ErrorKind::bad_value, "tensors['a'].shape");
}

TEST(SafetensorsErrors, OffsetsNotTwo) {
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "[1]", "[0]") + "}", zeros(4)),
                       ErrorKind::bad_value, "tensors['a'].data_offsets");
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "[1]", "[0,4,8]") + "}", zeros(8)),
                       ErrorKind::bad_value, "tensors['a'].data_offsets");
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "[1]", "{}") + "}", zeros(4)),
                       ErrorKind::bad_type, "tensors['a'].data_offsets");
}

TEST(SafetensorsErrors, NegativeOffset) {
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "[1]", "[-4,0]") + "}", zeros(4)),
                       ErrorKind::bad_value, "tensors['a'].data_offsets[0]");
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "[1]", "[0,4e0]") + "}", zeros(4)),
                       ErrorKind::bad_type, "tensors['a'].data_offsets[1]");
}

TEST(SafetensorsErrors, BeginAfterEnd) {
    EXPECT_PARSE_ERROR(make_file("{" + entry("a", "F32", "[1]", "[8,4]") + "}", zeros(8)),
                       ErrorKind::bad_value, "tensors['a'].data_offsets");
}

TEST(SafetensorsErrors, EndPastTheDataBuffer) {
    std::string header = "{" + entry("a", "F32", "[4]", "[0,16]") + "}";
    std::optional<Error> e = parse_error(make_file(header, zeros(15)));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::out_of_range);
    EXPECT_EQ(e->field(), "tensors['a'].data_offsets");
    EXPECT_EQ(e->offset(), 8 + header.find("[0,16]"));
    EXPECT_EQ(e->found(), "[0, 16]");
    // Offsets near 2^64 must not wrap.
    EXPECT_PARSE_ERROR(
        make_file(
            "{" + entry("a", "F32", "[0]", "[18446744073709551615,18446744073709551615]") + "}",
            zeros(4)),
        ErrorKind::out_of_range, "tensors['a'].data_offsets");
}

TEST(SafetensorsErrors, SizeDisagreesWithShape) {
    std::optional<Error> e =
        parse_error(make_file("{" + entry("a", "BF16", "[2,3]", "[0,16]") + "}", zeros(16)));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::bad_value);
    EXPECT_EQ(e->field(), "tensors['a'].data_offsets");
    EXPECT_EQ(e->expected(), "end - begin = 12 bytes (BF16 [2, 3])");
}

TEST(SafetensorsErrors, Overlap) {
    std::string header =
        "{" + entry("a", "F32", "[3]", "[4,16]") + "," + entry("b", "F32", "[2]", "[0,8]") + "}";
    EXPECT_PARSE_ERROR(make_file(header, zeros(16)), ErrorKind::overlap,
                       "tensors['a'].data_offsets");
    // Empty tensors occupy nothing and may share an offset.
    header =
        "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("e", "F32", "[0]", "[2,2]") + "}";
    std::vector<uint8_t> file = make_file(header, zeros(4));
    EXPECT_EQ(SafetensorsFile::parse(file).tensors().size(), 2u);
}

TEST(SafetensorsErrors, DuplicateTensorName) {
    std::string header =
        "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("a", "F32", "[1]", "[4,8]") + "}";
    std::optional<Error> e = parse_error(make_file(header, zeros(8)));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::duplicate);
    EXPECT_EQ(e->field(), "tensors['a']");
    EXPECT_EQ(e->offset(), 8 + header.rfind("\"a\""));
}

TEST(SafetensorsErrors, DuplicateKeyInEntry) {
    EXPECT_PARSE_ERROR(
        make_file(R"({"a":{"dtype":"F32","shape":[1],"dtype":"F16","data_offsets":[0,4]}})",
                  zeros(4)),
        ErrorKind::duplicate, "tensors['a'].dtype");
}

TEST(SafetensorsErrors, MetadataProblems) {
    std::string ok = "," + entry("w", "F32", "[1]", "[0,4]") + "}";
    EXPECT_PARSE_ERROR(make_file(R"({"__metadata__":{"k":"1","k":"2"})" + ok, zeros(4)),
                       ErrorKind::duplicate, "__metadata__['k']");
    EXPECT_PARSE_ERROR(make_file(R"({"__metadata__":{},"__metadata__":{})" + ok, zeros(4)),
                       ErrorKind::duplicate, "__metadata__");
    EXPECT_PARSE_ERROR(make_file(R"({"__metadata__":["k"])" + ok, zeros(4)), ErrorKind::bad_type,
                       "__metadata__");
    EXPECT_PARSE_ERROR(make_file(R"({"__metadata__":{"k":1})" + ok, zeros(4)), ErrorKind::bad_type,
                       "__metadata__['k']");
    EXPECT_PARSE_ERROR(make_file(R"({"__metadata__":{"k":{"x":"y"}})" + ok, zeros(4)),
                       ErrorKind::bad_type, "__metadata__['k']");
}

TEST(SafetensorsErrors, DeepNestingRefused) {
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    std::string header =
        R"({"a":{"dtype":"F32","x":)" + deep + R"(,"shape":[1],"data_offsets":[0,4]}})";
    EXPECT_PARSE_ERROR(make_file(header, zeros(4)), ErrorKind::too_large, "header");
}

TEST(SafetensorsErrors, NamesInMessagesAreEscaped) {
    std::string header = "{" + entry("we'ird\\u0001", "F99", "[1]", "[0,4]") + "}";
    std::optional<Error> e = parse_error(make_file(header, zeros(4)));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->field(), "tensors['we\\'ird\\x01'].dtype");
}

// --- the committed seeds of the fuzz corpus ------------------------------------

std::vector<uint8_t> read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path corpus_dir() {
    return fs::path(SLIM_SOURCE_DIR) / "tests/fuzz/corpus/safetensors";
}

TEST(SafetensorsSeeds, EachMalformedSeedRaisesItsError) {
    struct Seed {
        const char* file;
        ErrorKind kind;
        const char* field;
    };
    const Seed seeds[] = {
        {"duplicate_name.safetensors", ErrorKind::duplicate, "tensors['a']"},
        {"overlap.safetensors", ErrorKind::overlap, "tensors['b'].data_offsets"},
        {"truncated_data.safetensors", ErrorKind::out_of_range, "tensors['a'].data_offsets"},
        {"bad_json.safetensors", ErrorKind::truncated, "header"},
        {"shape_overflow.safetensors", ErrorKind::too_large, "tensors['a'].shape"},
        {"header_too_long.safetensors", ErrorKind::too_large, "header_length"},
    };
    for (const Seed& s : seeds) {
        SCOPED_TRACE(s.file);
        EXPECT_PARSE_ERROR(read_bytes(corpus_dir() / s.file), s.kind, s.field);
    }
    for (const char* valid : {"small.safetensors", "empty.safetensors", "metadata_only.safetensors",
                              "other_dtypes.safetensors", "nested_unknown.safetensors"}) {
        EXPECT_NO_THROW(SafetensorsFile::open(corpus_dir() / valid)) << valid;
    }
}

// --- files the official package wrote ------------------------------------------

fs::path ref_dir() {
    return test::reference_dir() / "safetensors";
}

nlohmann::json read_json(const fs::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

// Exact: the sidecar holds each float32 value as a double.
void expect_values(const SafetensorsTensor& t, const nlohmann::json& expected) {
    std::vector<float> got = values_of(t);
    ASSERT_EQ(got.size(), expected.size()) << t.name;
    for (size_t i = 0; i < got.size(); ++i) {
        float want = float(expected[i].get<double>());
        EXPECT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want))
            << t.name << "[" << i << "]: " << got[i] << " vs " << want;
    }
}

TEST(SafetensorsReference, SmallFileMatchesSidecar) {
    nlohmann::json want = read_json(ref_dir() / "small.json");
    SafetensorsFile f = SafetensorsFile::open(ref_dir() / "small.safetensors");
    EXPECT_EQ(f.header_size(), want["header_size"].get<uint64_t>());
    ASSERT_EQ(f.metadata().size(), want["metadata"].size());
    for (auto& [k, v] : want["metadata"].items())
        EXPECT_EQ(f.metadata_value(k), v.get<std::string>());

    ASSERT_EQ(f.tensors().size(), want["tensors"].size());
    for (size_t i = 0; i < f.tensors().size(); ++i) {
        const SafetensorsTensor& t = f.tensors()[i];
        const nlohmann::json& w = want["tensors"][i];
        SCOPED_TRACE(t.name);
        EXPECT_EQ(t.name, w["name"].get<std::string>());
        EXPECT_EQ(safetensors_dtype_name(t.dtype), w["dtype"].get<std::string>());
        EXPECT_EQ(t.shape, w["shape"].get<std::vector<int64_t>>());
        EXPECT_EQ(t.data_begin, w["data_offsets"][0].get<uint64_t>());
        EXPECT_EQ(t.data_end, w["data_offsets"][1].get<uint64_t>());
        EXPECT_EQ(f.find(t.name), &t);
        if (w["values"].is_null()) {
            EXPECT_THROW(t.data(), Error);
        } else {
            expect_values(t, w["values"]);
        }
    }
}

TEST(SafetensorsReference, ShardedSet) {
    nlohmann::json want = read_json(ref_dir() / "sharded.json");
    for (fs::path p : {ref_dir() / "sharded", ref_dir() / "sharded/model.safetensors.index.json"}) {
        SCOPED_TRACE(p.string());
        SafetensorsSet set = SafetensorsSet::open(p);
        EXPECT_EQ(fs::path(set.index_path()).filename(), "model.safetensors.index.json");
        ASSERT_EQ(set.files().size(), 2u);
        EXPECT_EQ(fs::path(set.files()[0].path()).filename(), "model-00001-of-00002.safetensors");
        ASSERT_EQ(set.tensors().size(), want.size());
        for (auto& [name, w] : want.items()) {
            const SafetensorsTensor* t = set.find(name);
            ASSERT_NE(t, nullptr) << name;
            EXPECT_EQ(fs::path(t->file()).filename(), w["shard"].get<std::string>());
            expect_values(*t, w["values"]);
        }
        EXPECT_EQ(set.find("nope"), nullptr);
        // Moving the set keeps its views valid.
        SafetensorsSet moved = std::move(set);
        EXPECT_EQ(moved.find("lm_head.weight")->name, "lm_head.weight");
    }
}

// --- sets built in a scratch folder --------------------------------------------

class ScratchDir {
  public:
    ScratchDir() {
        const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
        path_ = fs::temp_directory_path() /
                ("slim_safetensors_" + std::string(info->name()) + "_" + std::to_string(getpid()));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }
    void write(const std::string& name, const std::vector<uint8_t>& bytes) const {
        std::ofstream out(path_ / name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ / name) << text;
    }

  private:
    fs::path path_;
};

// Two shards, "a" in s1 and "b" in s2, and an index with `weight_map`.
void write_shards(const ScratchDir& dir, const std::string& weight_map) {
    dir.write("s1.safetensors", build({{"a", "F32", "[1]", zeros(4)}}));
    dir.write("s2.safetensors", build({{"b", "F16", "[2]", zeros(4)}}));
    dir.write("model.safetensors.index.json",
              R"({"metadata":{"total_size":8},"weight_map":)" + weight_map + "}");
}

std::optional<Error> open_error(const fs::path& path) {
    try {
        SafetensorsSet::open(path);
    } catch (const Error& e) {
        return e;
    }
    return std::nullopt;
}

// Opening `path` must raise `kind` in the file named `file_name` at `field`.
void check_set_error(const fs::path& path, ErrorKind kind, const std::string& file_name,
                     const std::string& field) {
    std::optional<Error> e = open_error(path);
    ASSERT_TRUE(e.has_value()) << "opened without error";
    EXPECT_EQ(error_kind_name(e->kind()), std::string(error_kind_name(kind))) << e->what();
    EXPECT_EQ(fs::path(e->file()).filename(), file_name) << e->what();
    EXPECT_EQ(e->field(), field) << e->what();
}
#define EXPECT_SET_ERROR(...)         \
    do {                              \
        SCOPED_TRACE("from here");    \
        check_set_error(__VA_ARGS__); \
    } while (0)

constexpr const char* kIndex = "model.safetensors.index.json";

TEST(SafetensorsSet, ShardsFromAnIndex) {
    ScratchDir dir;
    write_shards(dir, R"({"b":"s2.safetensors","a":"s1.safetensors"})");
    SafetensorsSet set = SafetensorsSet::open(dir.path());
    ASSERT_EQ(set.tensors().size(), 2u);
    EXPECT_EQ(set.tensors()[0]->name, "a");  // shard order, not weight_map order
    EXPECT_EQ(set.find("b")->dtype, SafetensorsDtype::f16);
}

TEST(SafetensorsSet, SingleFileAndFolder) {
    ScratchDir dir;
    dir.write("model.safetensors", build({{"x", "BF16", "[3]", zeros(6)}}));
    for (fs::path p : {dir.path(), dir.path() / "model.safetensors"}) {
        SafetensorsSet set = SafetensorsSet::open(p);
        EXPECT_TRUE(set.index_path().empty());
        ASSERT_EQ(set.files().size(), 1u);
        ASSERT_EQ(set.tensors().size(), 1u);
        EXPECT_EQ(set.find("x")->n_elements, 3u);
    }
}

TEST(SafetensorsSet, FolderWithNeither) {
    ScratchDir dir;
    std::optional<Error> e = open_error(dir.path());
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), ErrorKind::io);
}

TEST(SafetensorsSet, MissingShard) {
    ScratchDir dir;
    write_shards(dir, R"({"a":"s1.safetensors","b":"s3.safetensors"})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::io, kIndex, "weight_map['b']");
}

TEST(SafetensorsSet, NameMappedTwice) {
    ScratchDir dir;
    write_shards(dir, R"({"a":"s1.safetensors","b":"s2.safetensors","a":"s2.safetensors"})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::duplicate, kIndex, "weight_map['a']");
}

TEST(SafetensorsSet, MappedTensorNotInItsShard) {
    ScratchDir dir;
    write_shards(dir, R"({"a":"s2.safetensors","b":"s2.safetensors"})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::out_of_range, kIndex, "weight_map['a']");
}

TEST(SafetensorsSet, ShardTensorMissingFromWeightMap) {
    ScratchDir dir;
    dir.write("s1.safetensors",
              build({{"a", "F32", "[1]", zeros(4)}, {"extra", "F32", "[1]", zeros(4)}}));
    dir.write(kIndex, R"({"weight_map":{"a":"s1.safetensors"}})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::bad_value, kIndex, "weight_map");
}

TEST(SafetensorsSet, TensorInTwoShards) {
    ScratchDir dir;
    dir.write("s1.safetensors", build({{"a", "F32", "[1]", zeros(4)}}));
    dir.write("s2.safetensors",
              build({{"a", "F32", "[1]", zeros(4)}, {"b", "F32", "[1]", zeros(4)}}));
    dir.write(kIndex, R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::duplicate, "s2.safetensors", "tensors['a']");
}

TEST(SafetensorsSet, ShardOutsideTheFolder) {
    ScratchDir dir;
    write_shards(dir, R"({"a":"../s1.safetensors","b":"s2.safetensors"})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::bad_value, kIndex, "weight_map['a']");
}

TEST(SafetensorsSet, IndexShapeProblems) {
    ScratchDir dir;
    dir.write(kIndex, R"({"metadata":{"total_size":8}})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::bad_value, kIndex, "weight_map");
    dir.write(kIndex, R"({"weight_map":{"a":1}})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::bad_type, kIndex, "weight_map['a']");
    dir.write(kIndex, R"({"weight_map":["a"]})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::bad_type, kIndex, "weight_map");
    dir.write(kIndex, R"({"weight_map":{}, "weight_map":{}})");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::duplicate, kIndex, "weight_map");
    dir.write(kIndex, R"({"weight_map":{"a":"s1.safetensors")");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::truncated, kIndex, "index");
    dir.write(kIndex, "");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::truncated, kIndex, "index");
    dir.write(kIndex, "[]");
    EXPECT_SET_ERROR(dir.path(), ErrorKind::bad_type, kIndex, "index");
}

TEST(SafetensorsSet, ErrorsInAShardNameTheShard) {
    ScratchDir dir;
    write_shards(dir, R"({"a":"s1.safetensors","b":"s2.safetensors"})");
    dir.write("s2.safetensors", make_file("{\"b\":{}}"));
    EXPECT_SET_ERROR(dir.path(), ErrorKind::bad_value, "s2.safetensors", "tensors['b']");
}

}  // namespace
}  // namespace slim
