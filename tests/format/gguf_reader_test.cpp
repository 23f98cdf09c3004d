// The GGUF reader against the hand-made seeds in tests/fuzz/corpus/gguf/
// (written by tools/fuzz/make_gguf_seeds.py): each malformed seed must raise
// its own error (kind, field path and byte offset), the valid ones must read
// back what the generator wrote, and writing them back must give the same bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "format/error.h"
#include "format/gguf.h"
#include "test_paths.h"

namespace slim {
namespace {

std::filesystem::path seed_dir() {
    return test::source_dir() / "tests/fuzz/corpus/gguf";
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// --- malformed seeds -------------------------------------------------------

struct BadSeed {
    const char* file;
    ErrorKind kind;
    const char* field;
    uint64_t offset;
};

// The byte offsets follow from the layouts in make_gguf_seeds.py: a 24-byte
// header, strings as u64 length + bytes, a u32 type before each value.
const BadSeed kBadSeeds[] = {
    {"bad_magic.gguf", ErrorKind::bad_magic, "header.magic", 0},
    {"version_1.gguf", ErrorKind::unsupported, "header.version", 4},
    {"version_4.gguf", ErrorKind::unsupported, "header.version", 4},
    {"truncated_header.gguf", ErrorKind::truncated, "header.n_kv", 16},
    {"truncated_kv_key.gguf", ErrorKind::truncated, "kv[1].key.length", 66},
    {"truncated_kv_value.gguf", ErrorKind::truncated, "kv[0] 'some.key'.value", 44},
    {"truncated_tensor_info.gguf", ErrorKind::truncated, "tensor[0] 'w'.ne[1]", 45},
    {"truncated_before_data.gguf", ErrorKind::truncated, "data", 341},
    {"truncated_in_data.gguf", ErrorKind::out_of_range, "tensor[2] 'blk.0.ffn_up.weight'.offset",
     282},
    {"huge_n_tensors.gguf", ErrorKind::too_large, "header.n_tensors", 8},
    {"huge_n_kv.gguf", ErrorKind::too_large, "header.n_kv", 16},
    {"string_past_eof.gguf", ErrorKind::too_large, "kv[0] 'general.name'.value.length", 48},
    {"array_count_overflow.gguf", ErrorKind::too_large, "kv[0] 'a'.value.count", 41},
    {"n_dims_5.gguf", ErrorKind::bad_value, "tensor[0] 'w'.n_dims", 33},
    {"zero_dim.gguf", ErrorKind::bad_value, "tensor[0] 'w'.ne[1]", 45},
    {"negative_dim.gguf", ErrorKind::bad_value, "tensor[0] 'w'.ne[0]", 37},
    {"dims_product_overflow.gguf", ErrorKind::too_large, "tensor[0] 'w'.ne[1]", 45},
    {"bytes_overflow.gguf", ErrorKind::too_large, "tensor[0] 'w'", 24},
    {"unknown_type_4.gguf", ErrorKind::unsupported, "tensor[0] 'w'.type", 45},
    {"unknown_type_1000.gguf", ErrorKind::unsupported, "tensor[0] 'w'.type", 45},
    {"ne0_not_block_multiple.gguf", ErrorKind::bad_value, "tensor[0] 'w'.ne[0]", 37},
    {"empty_tensor_name.gguf", ErrorKind::bad_value, "tensor[0].name", 24},
    {"misaligned_offset.gguf", ErrorKind::misaligned, "tensor[1] 'b'.offset", 82},
    {"offset_past_eof.gguf", ErrorKind::out_of_range, "tensor[1] 'b'.offset", 57},
    {"overlapping_tensors.gguf", ErrorKind::overlap, "tensor[1] 'b'.offset", 57},
    {"duplicate_tensor_name.gguf", ErrorKind::duplicate, "tensor[1] 'a'.name", 57},
    {"duplicate_key.gguf", ErrorKind::duplicate, "kv[1] 'k'.key", 41},
    {"alignment_not_pow2.gguf", ErrorKind::bad_value, "kv[0] 'general.alignment'", 24},
    {"alignment_zero.gguf", ErrorKind::bad_value, "kv[0] 'general.alignment'", 24},
    {"alignment_u64.gguf", ErrorKind::bad_type, "kv[1] 'general.alignment'", 57},
    {"tokens_i32.gguf", ErrorKind::bad_type, "kv[0] 'tokenizer.ggml.tokens'", 24},
    {"unknown_value_type.gguf", ErrorKind::bad_value, "kv[0] 'k'.type", 33},
    {"unknown_array_elem_type.gguf", ErrorKind::bad_value, "kv[0] 'k'.value.type", 37},
    {"bool_2.gguf", ErrorKind::bad_value, "kv[0] 'k'.value", 37},
    {"bool_array_2.gguf", ErrorKind::bad_value, "kv[0] 'k'.value[2]", 51},
    // 16 levels are read; the 17th is refused before it is read.
    {"nested_too_deep.gguf", ErrorKind::too_large,
     "kv[0] 'k'.value[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]", 37 + 16 * 12},
    {"empty_key.gguf", ErrorKind::bad_value, "kv[0].key", 24},
};

// Names the seed in test listings instead of dumping the struct's bytes.
void PrintTo(const BadSeed& seed, std::ostream* os) {
    *os << seed.file;
}

class GgufBadSeed : public testing::TestWithParam<BadSeed> {};

void expect_error(const Error& e, const BadSeed& seed, const std::string& file) {
    EXPECT_EQ(error_kind_name(e.kind()), std::string(error_kind_name(seed.kind))) << e.what();
    EXPECT_EQ(e.field(), seed.field) << e.what();
    EXPECT_EQ(e.offset(), std::optional<uint64_t>(seed.offset)) << e.what();
    EXPECT_EQ(e.file(), file);
    EXPECT_FALSE(e.expected().empty());
    EXPECT_FALSE(e.found().empty());
}

TEST_P(GgufBadSeed, RaisesItsError) {
    const BadSeed& seed = GetParam();
    std::filesystem::path path = seed_dir() / seed.file;
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " (run tools/fuzz/make_gguf_seeds.py)";
    try {
        GgufFile::open(path);
        ADD_FAILURE() << seed.file << " parsed";
    } catch (const Error& e) {
        expect_error(e, seed, path.string());
    }
    // The same bytes from memory fail the same way.
    std::vector<uint8_t> bytes = read_bytes(path);
    try {
        GgufFile::parse(bytes, "mem");
        ADD_FAILURE() << seed.file << " parsed from memory";
    } catch (const Error& e) {
        expect_error(e, seed, "mem");
    }
}

std::string seed_test_name(const testing::TestParamInfo<BadSeed>& info) {
    std::string name = info.param.file;
    return name.substr(0, name.find('.'));
}

INSTANTIATE_TEST_SUITE_P(Corpus, GgufBadSeed, testing::ValuesIn(kBadSeeds), seed_test_name);

// A named seed added to the corpus gets a row above (files the fuzzer merges
// in are named by their hash, without an extension, and are not listed).
TEST(GgufSeeds, EveryNamedSeedIsChecked) {
    std::set<std::string> listed;
    for (const BadSeed& s : kBadSeeds) listed.insert(s.file);
    int n_valid = 0;
    for (const auto& entry : std::filesystem::directory_iterator(seed_dir())) {
        std::string name = entry.path().filename().string();
        if (entry.path().extension() != ".gguf") continue;
        if (name.starts_with("valid_")) {
            ++n_valid;
            continue;
        }
        EXPECT_TRUE(listed.count(name)) << name << " has no expected error in kBadSeeds";
        listed.erase(name);
    }
    EXPECT_TRUE(listed.empty()) << *listed.begin() << " is missing from the corpus";
    EXPECT_EQ(n_valid, 3);
}

// --- valid seeds -----------------------------------------------------------

// make_gguf_seeds.py's pattern(): byte i is (seed + 7 * i) mod 256.
std::vector<uint8_t> pattern(size_t n, int seed) {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = uint8_t((seed + 7 * i) % 256);
    return out;
}

// make_gguf_seeds.py's q_blocks(): an f16 scale of 1.0, then pattern bytes.
std::vector<uint8_t> q_blocks(int n_blocks, size_t block_bytes, int seed) {
    std::vector<uint8_t> out;
    for (int b = 0; b < n_blocks; ++b) {
        out.push_back(0x00);
        out.push_back(0x3c);
        std::vector<uint8_t> p = pattern(block_bytes - 2, seed + b);
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> out(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

std::vector<uint8_t> span_bytes(std::span<const uint8_t> s) {
    return {s.begin(), s.end()};
}

template <class T>
std::vector<T> scalars(const GgufArray& a) {
    std::vector<T> out;
    for (uint64_t i = 0; i < a.count; ++i) out.push_back(a.raw_at<T>(i));
    return out;
}

TEST(GgufReader, ValidSeedWithEveryValueType) {
    GgufFile f = GgufFile::open(seed_dir() / "valid_kv_all_types.gguf");
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.kvs().size(), 29u);
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.kvs()[0].key, "general.architecture");
    EXPECT_EQ(f.kvs()[0].file_offset, 24u);

    EXPECT_EQ(f.get_string("general.architecture"), "llama");
    EXPECT_EQ(f.get_string("general.name"), "slim seed \u00e9\u4e2d");
    auto typed = [&](const char* key, GgufType type) {
        const GgufValue* v = f.find(key);
        EXPECT_TRUE(v) << key;
        if (v) {
            EXPECT_EQ(v->type(), type) << key;
        }
        return v;
    };
    EXPECT_EQ(typed("t.u8", GgufType::u8)->as_u64(), 200u);
    EXPECT_EQ(typed("t.i8", GgufType::i8)->as_i64(), -100);
    EXPECT_EQ(typed("t.u16", GgufType::u16)->as_u64(), 60000u);
    EXPECT_EQ(typed("t.i16", GgufType::i16)->as_i64(), -30000);
    EXPECT_EQ(typed("t.u32", GgufType::u32)->as_u64(), 4000000000u);
    EXPECT_EQ(typed("t.i32", GgufType::i32)->as_i64(), -2000000000);
    EXPECT_EQ(typed("t.f32", GgufType::f32)->as_f64(), 1.5);
    EXPECT_EQ(typed("t.bool_true", GgufType::boolean)->as_bool(), true);
    EXPECT_EQ(typed("t.bool_false", GgufType::boolean)->as_bool(), false);
    EXPECT_EQ(typed("t.string_empty", GgufType::string)->as_string(), "");
    EXPECT_EQ(typed("t.u64", GgufType::u64)->as_u64(), 18000000000000000000u);
    EXPECT_EQ(typed("t.u64", GgufType::u64)->as_i64(), std::nullopt);
    EXPECT_EQ(typed("t.i64", GgufType::i64)->as_i64(), -9000000000000000000);
    EXPECT_EQ(typed("t.i64", GgufType::i64)->as_u64(), std::nullopt);
    EXPECT_EQ(typed("t.f64", GgufType::f64)->as_f64(), -2.25);
    EXPECT_EQ(f.get_u64("t.u16"), 60000u);
    EXPECT_EQ(f.get_bool("t.bool_true"), true);
    EXPECT_EQ(f.get_u64("no.such.key"), std::nullopt);

    EXPECT_EQ(scalars<uint8_t>(*f.get_array("t.arr_u8", GgufType::u8)),
              (std::vector<uint8_t>{1, 2, 255}));
    EXPECT_EQ(scalars<int16_t>(*f.get_array("t.arr_i16", GgufType::i16)),
              (std::vector<int16_t>{-1, 2, -3}));
    EXPECT_EQ(scalars<float>(*f.get_array("t.arr_f32", GgufType::f32)),
              (std::vector<float>{0.5f, -1.0f}));
    EXPECT_EQ(scalars<uint8_t>(*f.get_array("t.arr_bool", GgufType::boolean)),
              (std::vector<uint8_t>{1, 0, 1}));
    EXPECT_EQ(scalars<uint64_t>(*f.get_array("t.arr_u64", GgufType::u64)),
              (std::vector<uint64_t>{1, UINT64_MAX}));
    EXPECT_EQ(scalars<double>(*f.get_array("t.arr_f64", GgufType::f64)),
              (std::vector<double>{3.0}));
    EXPECT_EQ(f.get_array("t.arr_empty", GgufType::i32)->count, 0u);
    EXPECT_EQ(f.get_array("t.arr_str", GgufType::string)->strings,
              (std::vector<std::string_view>{"a", "", "\u00fcber"}));

    const GgufArray* nested = f.get_array("t.arr_nested", GgufType::array);
    ASSERT_EQ(nested->count, 3u);
    ASSERT_EQ(nested->arrays.size(), 3u);
    EXPECT_EQ(nested->arrays[0].elem_type, GgufType::i32);
    EXPECT_EQ(scalars<int32_t>(nested->arrays[0]), (std::vector<int32_t>{1, 2}));
    EXPECT_EQ(nested->arrays[1].count, 0u);
    EXPECT_EQ(scalars<int32_t>(nested->arrays[2]), (std::vector<int32_t>{-3}));

    const GgufArray* nested_str = f.get_array("t.arr_nested_str", GgufType::array);
    ASSERT_EQ(nested_str->arrays.size(), 2u);
    EXPECT_EQ(nested_str->arrays[0].strings, (std::vector<std::string_view>{"x", "yz"}));
    EXPECT_EQ(nested_str->arrays[1].elem_type, GgufType::string);
    EXPECT_EQ(nested_str->arrays[1].count, 0u);

    const GgufArray* nested3 = f.get_array("t.arr_nested3", GgufType::array);
    ASSERT_EQ(nested3->arrays.size(), 1u);
    ASSERT_EQ(nested3->arrays[0].elem_type, GgufType::array);
    ASSERT_EQ(nested3->arrays[0].arrays.size(), 1u);
    EXPECT_EQ(scalars<uint8_t>(nested3->arrays[0].arrays[0]), (std::vector<uint8_t>{7}));

    EXPECT_EQ(f.get_array("tokenizer.ggml.tokens", GgufType::string)->strings,
              (std::vector<std::string_view>{"<s>", "</s>", "a", "b"}));
    EXPECT_EQ(scalars<float>(*f.get_array("tokenizer.ggml.scores", GgufType::f32)),
              (std::vector<float>{0, 0, -1, -2}));
    EXPECT_EQ(scalars<int32_t>(*f.get_array("tokenizer.ggml.token_type", GgufType::i32)),
              (std::vector<int32_t>{3, 3, 1, 1}));
}

TEST(GgufReader, TypedGettersRefuseOtherTypes) {
    GgufFile f = GgufFile::open(seed_dir() / "valid_kv_all_types.gguf");
    try {
        f.get_u64("general.name");
        ADD_FAILURE() << "a string read as an integer";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::bad_type);
        EXPECT_EQ(e.field(), "general.name");
    }
    EXPECT_THROW(f.get_u64("t.i8"), Error);  // -100 is not a u64
    EXPECT_THROW(f.get_string("t.u8"), Error);
    EXPECT_THROW(f.get_array("t.arr_u8", GgufType::i32), Error);
    EXPECT_THROW(f.get_array("t.u8", GgufType::u8), Error);
}

TEST(GgufReader, ValidSeedWithTensors) {
    GgufFile f = GgufFile::open(seed_dir() / "valid_tensors.gguf");
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), 64u);
    EXPECT_EQ(f.data_offset(), 384u);  // 341 bytes of header, kvs and infos, padded to 64
    EXPECT_EQ(f.file_size(), 704u);
    EXPECT_EQ(f.get_u64("general.file_type"), 2u);
    ASSERT_EQ(f.tensors().size(), 3u);

    struct Expected {
        const char* name;
        GgmlType type;
        uint32_t n_dims;
        std::array<int64_t, 4> ne;
        uint64_t offset, n_bytes, n_elements;
        std::vector<uint8_t> data;
    };
    std::vector<float> embd;
    for (int i = 0; i < 12; ++i) embd.push_back(i * 0.25f - 1);
    const Expected expected[] = {
        {"tok_embd.weight", GgmlType::f32, 2, {4, 3, 1, 1}, 0, 48, 12, f32_bytes(embd)},
        {"blk.0.attn_q.weight", GgmlType::q4_0, 2, {64, 2, 1, 1}, 64, 72, 128, q_blocks(4, 18, 1)},
        {"blk.0.ffn_up.weight", GgmlType::q8_0, 2, {32, 3, 1, 1}, 192, 102, 96, q_blocks(3, 34, 5)},
    };
    for (size_t i = 0; i < 3; ++i) {
        const GgufTensorInfo& t = f.tensors()[i];
        const Expected& e = expected[i];
        SCOPED_TRACE(e.name);
        EXPECT_EQ(t.name, e.name);
        EXPECT_EQ(t.type, e.type);
        EXPECT_EQ(t.n_dims, e.n_dims);
        EXPECT_EQ(t.ne, e.ne);
        EXPECT_EQ(t.offset, e.offset);
        EXPECT_EQ(t.n_bytes, e.n_bytes);
        EXPECT_EQ(t.n_elements(), e.n_elements);
        EXPECT_EQ(span_bytes(f.tensor_data(t)), e.data);
        EXPECT_EQ(f.find_tensor(e.name), &t);
    }
    EXPECT_EQ(f.find_tensor("missing"), nullptr);
}

TEST(GgufReader, ValidSeedVersion2) {
    GgufFile f = GgufFile::open(seed_dir() / "valid_v2.gguf");
    EXPECT_EQ(f.version(), 2u);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.data_offset(), 192u);
    ASSERT_EQ(f.tensors().size(), 2u);
    const GgufTensorInfo& norm = f.tensors()[0];
    EXPECT_EQ(norm.type, GgmlType::f16);
    EXPECT_EQ(norm.n_dims, 1u);
    EXPECT_EQ(norm.ne, (std::array<int64_t, 4>{5, 1, 1, 1}));
    EXPECT_EQ(norm.offset, 0u);
    EXPECT_EQ(span_bytes(f.tensor_data(norm)), pattern(10, 3));
    const GgufTensorInfo& out = f.tensors()[1];
    EXPECT_EQ(out.type, GgmlType::f32);
    EXPECT_EQ(out.offset, 32u);
    EXPECT_EQ(span_bytes(f.tensor_data(out)), f32_bytes({1, 2, 3, 4}));
}

class GgufValidSeed : public testing::TestWithParam<const char*> {};

TEST_P(GgufValidSeed, WritesBackByteForByte) {
    std::filesystem::path path = seed_dir() / GetParam();
    GgufFile f = GgufFile::open(path);
    std::vector<uint8_t> written = gguf_serialize(gguf_contents(f));
    std::vector<uint8_t> original = read_bytes(path);
    ASSERT_FALSE(original.empty());
    EXPECT_EQ(written.size(), original.size());
    auto diff = std::mismatch(written.begin(), written.end(), original.begin(), original.end());
    EXPECT_TRUE(diff.first == written.end() && diff.second == original.end())
        << "first difference at byte " << (diff.first - written.begin());
}

std::string valid_seed_test_name(const testing::TestParamInfo<const char*>& info) {
    std::string name = info.param;
    return name.substr(0, name.find('.'));
}

INSTANTIATE_TEST_SUITE_P(Corpus, GgufValidSeed,
                         testing::Values("valid_kv_all_types.gguf", "valid_tensors.gguf",
                                         "valid_v2.gguf"),
                         valid_seed_test_name);

}  // namespace
}  // namespace slim
