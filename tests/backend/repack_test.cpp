// The repacked Q4_0 / IQ4_NL layout (backend/cpu/repack.h): the layout
// round-trips, its scalar reference sums as the scalar vec_dot does, the
// AVX2 kernels give the reference's results bit for bit (random blocks,
// extreme quants, odd block and row counts, real rows of the Q4_0 test
// model), and the CPU backend's matmul and get_rows on a repacked weight give
// what they give on ggml's rows.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/repack.h"
#include "format/gguf.h"
#include "random_values.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"
#include "tensor/tensor_type.h"
#include "test_paths.h"

namespace slim {
namespace {

using cpu::BlockQ8_0R;
using cpu::Isa;

using test::normal_floats;

// n_rows rows of random Q4_0 / IQ4_NL blocks: random nibbles, scales of
// quantized random rows (so they are realistic f16 values).
std::vector<uint8_t> random_rows(GgmlType type, int64_t n_cols, int64_t n_rows, std::mt19937& rng) {
    std::vector<uint8_t> rows(tensor_row_bytes(type, n_cols) * size_t(n_rows));
    const std::vector<float> x = normal_floats(size_t(n_cols * n_rows), rng);
    for (int64_t r = 0; r < n_rows; ++r)
        quantize_row_ref(type, x.data() + r * n_cols,
                         rows.data() + tensor_row_bytes(type, n_cols) * size_t(r), n_cols);
    auto* blocks = reinterpret_cast<BlockQ4_0*>(rows.data());
    std::uniform_int_distribution<int> byte(0, 255);
    for (size_t i = 0; i < rows.size() / sizeof(BlockQ4_0); ++i)
        for (uint8_t& q : blocks[i].qs) q = uint8_t(byte(rng));
    return rows;
}

std::vector<uint8_t> repack(const std::vector<uint8_t>& rows, int64_t n_cols, int64_t n_rows) {
    std::vector<uint8_t> packed(cpu::repacked_bytes(n_cols, n_rows));
    cpu::repack_groups(rows.data(), n_cols, 0, n_rows / cpu::kRepackRows, packed.data());
    return packed;
}

// Activation rows, each in both forms: Q8_0 (for vec_dot) and BlockQ8_0R.
struct Acts {
    std::vector<BlockQ8_0> q8;
    std::vector<BlockQ8_0R> r;
};

Acts quantize_acts(const std::vector<float>& x, int64_t n_cols, const cpu::RepackedKernel& k) {
    Acts a;
    a.q8.resize(x.size() / 32);
    a.r.resize(x.size() / 32);
    for (size_t row = 0; row < x.size() / size_t(n_cols); ++row) {
        const size_t b = row * size_t(n_cols / 32);
        quantize_row_q8_0_ref(x.data() + row * size_t(n_cols), a.q8.data() + b, n_cols);
        k.quantize_act(x.data() + row * size_t(n_cols), a.r.data() + b, n_cols);
    }
    return a;
}

// out[j * n_rows + o] from a repacked kernel over all groups and n_act rows.
std::vector<float> run_gemm(const cpu::RepackedKernel& k, const std::vector<uint8_t>& packed,
                            int64_t n_cols, int64_t n_rows, const std::vector<BlockQ8_0R>& a,
                            int64_t n_act) {
    std::vector<float> y(size_t(n_rows * n_act), -1.0f);
    k.gemm(n_cols, packed.data(), cpu::repacked_group_bytes(n_cols), n_rows / cpu::kRepackRows,
           a.data(), size_t(n_cols / 32) * sizeof(BlockQ8_0R), n_act, y.data(), size_t(n_rows));
    return y;
}

const cpu::RepackedKernel& reference(GgmlType type) {
    return *cpu::isa_repacked_kernel(Isa::scalar, type);
}

class Repack : public ::testing::TestWithParam<GgmlType> {};

TEST_P(Repack, UnpackGivesTheRowsBack) {
    const GgmlType type = GetParam();
    std::mt19937 rng(1);
    for (int64_t n_cols : {32, 96, 640, 1504}) {
        const int64_t n_rows = 24;
        const std::vector<uint8_t> rows = random_rows(type, n_cols, n_rows, rng);
        const std::vector<uint8_t> packed = repack(rows, n_cols, n_rows);
        EXPECT_EQ(cpu::repacked_group_bytes(n_cols) % 64, 0u);
        const size_t rb = tensor_row_bytes(type, n_cols);
        std::vector<uint8_t> back(rb);
        for (int64_t r = 0; r < n_rows; ++r) {
            cpu::unpack_row(packed.data(), n_cols, r, back.data());
            EXPECT_EQ(std::memcmp(back.data(), rows.data() + rb * size_t(r), rb), 0)
                << "n_cols " << n_cols << " row " << r;
        }
    }
}

TEST_P(Repack, ShapesThatRepack) {
    const GgmlType type = GetParam();
    EXPECT_TRUE(cpu::repack_supported(type, 64, 16));
    EXPECT_FALSE(cpu::repack_supported(type, 64, 12));  // not whole groups of 8
    EXPECT_FALSE(cpu::repack_supported(type, 48, 16));  // not whole blocks
    EXPECT_FALSE(cpu::repack_supported(GgmlType::q8_0, 64, 16));
}

// The reference on repacked bytes against the scalar vec_dot on ggml's rows
// (the sums SLIM_ISA=scalar computes), and the AVX2 vec_dot (the order the
// decoder tests hold to llama.cpp's): bit for bit.
TEST_P(Repack, ReferenceEqualsVecDot) {
    const GgmlType type = GetParam();
    const cpu::MatmulKernel* scalar = cpu::scalar_matmul_kernel(type);
    const bool avx2 = cpu::isa_supported(Isa::avx2, cpu::cpu_features());
    std::mt19937 rng(2);
    for (int64_t n_cols : {32, 160, 1504}) {
        const int64_t n_rows = 16, n_act = 3;
        const std::vector<uint8_t> rows = random_rows(type, n_cols, n_rows, rng);
        const Acts a =
            quantize_acts(normal_floats(size_t(n_cols * n_act), rng), n_cols, reference(type));
        const std::vector<float> y =
            run_gemm(reference(type), repack(rows, n_cols, n_rows), n_cols, n_rows, a.r, n_act);
        const size_t rb = tensor_row_bytes(type, n_cols);
        for (int64_t j = 0; j < n_act; ++j) {
            const BlockQ8_0* aj = a.q8.data() + j * (n_cols / 32);
            for (int64_t o = 0; o < n_rows; ++o) {
                const uint8_t* w = rows.data() + rb * size_t(o);
                const float got = y[size_t(j * n_rows + o)];
                EXPECT_EQ(got, scalar->vec_dot(n_cols, w, aj)) << "n " << n_cols << " o " << o;
                if (avx2) {
                    EXPECT_EQ(got, cpu::isa_matmul_kernel(Isa::avx2, type)->vec_dot(n_cols, w, aj))
                        << "n " << n_cols << " o " << o;
                }
            }
        }
    }
}

struct RepackCase {
    Isa isa;
    GgmlType type;
};

// Each ISA's repacked kernels against the scalar reference, bit for bit.
class RepackIsa : public ::testing::TestWithParam<RepackCase> {
  protected:
    void SetUp() override {
        if (!cpu::isa_supported(GetParam().isa, cpu::cpu_features()))
            GTEST_SKIP() << "this CPU (or its OS) cannot run " << cpu::isa_name(GetParam().isa);
        kernel_ = cpu::isa_repacked_kernel(GetParam().isa, GetParam().type);
        ASSERT_NE(kernel_, nullptr);
    }
    GgmlType weight_type() const { return GetParam().type; }
    const cpu::RepackedKernel* kernel_ = nullptr;
};

TEST_P(RepackIsa, ActivationBytesEqualReference) {
    std::mt19937 rng(3);
    for (int trial = 0; trial < 20; ++trial) {
        const int64_t n = 32 * (1 + trial * 7);
        std::vector<float> x = normal_floats(size_t(n), rng);
        if (trial % 4 == 1) std::fill(x.begin(), x.begin() + 32, 0.0f);  // a zero block
        std::vector<BlockQ8_0R> got(size_t(n / 32)), want(size_t(n / 32));
        kernel_->quantize_act(x.data(), got.data(), n);
        reference(weight_type()).quantize_act(x.data(), want.data(), n);
        ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(BlockQ8_0R)), 0)
            << "trial " << trial;
    }
}

TEST_P(RepackIsa, GemmEqualsReferenceBitForBit) {
    const GgmlType type = weight_type();
    std::mt19937 rng(4);
    for (int64_t n_cols : {32, 96, 640, 2080}) {
        for (int64_t n_rows : {8, 24, 32}) {
            const std::vector<uint8_t> packed =
                repack(random_rows(type, n_cols, n_rows, rng), n_cols, n_rows);
            // 16 and more: AMX's tiles of 16 rows, with and without a rest.
            for (int64_t n_act : {1, 2, 3, 4, 5, 7, 9, 13, 16, 19, 32, 47}) {
                const Acts a = quantize_acts(normal_floats(size_t(n_cols * n_act), rng), n_cols,
                                             reference(type));
                const std::vector<float> got =
                    run_gemm(*kernel_, packed, n_cols, n_rows, a.r, n_act);
                const std::vector<float> want =
                    run_gemm(reference(type), packed, n_cols, n_rows, a.r, n_act);
                for (size_t i = 0; i < got.size(); ++i)
                    ASSERT_EQ(got[i], want[i]) << "n " << n_cols << " rows " << n_rows << " acts "
                                               << n_act << " out " << i;
            }
        }
    }
}

// The largest block sums: every quant at the top of its range against
// activations of +-127, where Q4_0's 16-bit partial sums are fullest.
TEST_P(RepackIsa, ExtremeQuants) {
    const GgmlType type = weight_type();
    const int64_t n_cols = 96, n_rows = 16, n_act = 21;
    for (uint8_t nibbles : {uint8_t(0x00), uint8_t(0xFF), uint8_t(0x0F)}) {
        std::mt19937 rng(5);
        std::vector<uint8_t> rows = random_rows(type, n_cols, n_rows, rng);
        auto* blocks = reinterpret_cast<BlockQ4_0*>(rows.data());
        for (size_t i = 0; i < rows.size() / sizeof(BlockQ4_0); ++i)
            std::memset(blocks[i].qs, nibbles, sizeof(blocks[i].qs));
        const std::vector<uint8_t> packed = repack(rows, n_cols, n_rows);
        for (float v : {1.0f, -1.0f}) {
            const std::vector<float> x(size_t(n_cols * n_act), v);
            const Acts a = quantize_acts(x, n_cols, reference(type));
            ASSERT_EQ(a.r[0].qs[0], v > 0 ? 127 : -127);
            EXPECT_EQ(run_gemm(*kernel_, packed, n_cols, n_rows, a.r, n_act),
                      run_gemm(reference(type), packed, n_cols, n_rows, a.r, n_act))
                << "nibbles " << int(nibbles) << " activations " << v;
        }
    }
}

// Rows of the Q4_0 test model: the first and last 16 of each matrix, repacked,
// against the AVX2 vec_dot on the file's bytes.
TEST_P(RepackIsa, RealModelRows) {
    const GgmlType type = weight_type();
    constexpr int64_t kRows = 16, kActs = 17;  // AMX's tile and one row past it
    const std::filesystem::path path = test::models_dir() / "gemma-3-270m-Q4_0.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing";
    const GgufFile file = GgufFile::open(path);
    const cpu::MatmulKernel* vec = cpu::isa_matmul_kernel(Isa::avx2, type);
    std::mt19937 rng(6);
    int checked = 0;
    for (const GgufTensorInfo& t : file.tensors()) {
        if (t.type != type || t.n_dims != 2 || !cpu::repack_supported(type, t.ne[0], t.ne[1]))
            continue;
        const int64_t n = t.ne[0];
        const size_t rb = tensor_row_bytes(type, n);
        const auto data = file.tensor_data(t);
        const Acts a = quantize_acts(normal_floats(size_t(n * kActs), rng), n, reference(type));
        for (int64_t first : {int64_t(0), t.ne[1] - kRows}) {
            const std::vector<uint8_t> rows(data.begin() + ptrdiff_t(rb * size_t(first)),
                                            data.begin() + ptrdiff_t(rb * size_t(first + kRows)));
            const std::vector<float> y =
                run_gemm(*kernel_, repack(rows, n, kRows), n, kRows, a.r, kActs);
            for (int64_t j = 0; j < kActs; ++j)
                for (int64_t o = 0; o < kRows; ++o)
                    ASSERT_EQ(
                        y[size_t(j * kRows + o)],
                        vec->vec_dot(n, rows.data() + rb * size_t(o), &a.q8[size_t(j * n / 32)]))
                        << t.name << " row " << first + o << " act " << j;
            ++checked;
        }
    }
    if (checked == 0) GTEST_SKIP() << "the model has no " << ggml_type_name(type) << " matrices";
}

// The backend's matmul on a repacked weight, for row counts around the
// kernel's 4 activation rows at a time and several thread counts (each
// thread whole groups), equals vec_dot on ggml's rows; get_rows reads the
// repacked copy back.
TEST_P(Repack, BackendMatmulAndGetRows) {
    const GgmlType type = GetParam();
    const int64_t n_in = 320, n_out = 40;
    std::mt19937 rng(7);
    const std::vector<uint8_t> wq = random_rows(type, n_in, n_out, rng);
    const size_t rb = tensor_row_bytes(type, n_in);
    const cpu::MatmulKernel* k = cpu::matmul_kernel(type);
    for (int threads : {1, 2, 3}) {
        auto be = make_cpu_backend({threads});
        const Tensor w = be->weight(type, n_in, n_out, wq.data(), WeightBytes::caller);
        EXPECT_EQ(w.layout,
                  cpu::repacked_kernel(type) ? TensorLayout::backend : TensorLayout::rows);
        for (int64_t n : {1, 2, 3, 4, 5, 8, 9, 50}) {
            const std::vector<float> xf = normal_floats(size_t(n * n_in), rng);
            Tensor x = be->alloc(GgmlType::f32, n_in, n);
            Tensor y = be->alloc(GgmlType::f32, n_out, n);
            be->upload(x, xf.data(), xf.size() * sizeof(float));
            be->matmul(y, w, x, n);
            std::vector<BlockQ8_0> a(size_t(n_in / 32));
            for (int64_t r = 0; r < n; ++r) {
                quantize_row_q8_0_ref(xf.data() + r * n_in, a.data(), n_in);
                for (int64_t o = 0; o < n_out; ++o)
                    ASSERT_EQ(y.row(r)[o], k->vec_dot(n_in, wq.data() + rb * size_t(o), a.data()))
                        << threads << " threads, n " << n << " row " << r << " out " << o;
            }
            be->free(x);
            be->free(y);
        }
        const std::vector<int32_t> ids = {0, 7, 8, 39, 17};
        Tensor rows = be->alloc(GgmlType::f32, n_in, int64_t(ids.size()));
        be->get_rows(rows, w, ids);
        std::vector<float> want(static_cast<size_t>(n_in));
        for (size_t i = 0; i < ids.size(); ++i) {
            dequantize_row(type, wq.data() + rb * size_t(ids[i]), want.data(), n_in);
            for (int64_t c = 0; c < n_in; ++c)
                ASSERT_EQ(rows.row(int64_t(i))[c], want[size_t(c)]) << "id " << ids[i];
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Types, Repack, ::testing::Values(GgmlType::q4_0, GgmlType::iq4_nl),
                         [](const auto& p) { return std::string(ggml_type_name(p.param)); });
INSTANTIATE_TEST_SUITE_P(Kernels, RepackIsa,
                         ::testing::Values(RepackCase{Isa::avx2, GgmlType::q4_0},
                                           RepackCase{Isa::avx2, GgmlType::iq4_nl},
                                           RepackCase{Isa::avx512, GgmlType::q4_0},
                                           RepackCase{Isa::avx512, GgmlType::iq4_nl},
                                           RepackCase{Isa::amx, GgmlType::q4_0},
                                           RepackCase{Isa::amx, GgmlType::iq4_nl}),
                         [](const auto& p) {
                             return std::string(cpu::isa_name(p.param.isa)) + "_" +
                                    std::string(ggml_type_name(p.param.type));
                         });

// A weight bound from the mapped model file, whose pages the backend drops
// after repacking: its products and the file's bytes are still intact.
TEST(RepackFile, ReleasedPagesReadBack) {
    const std::filesystem::path path = test::models_dir() / "gemma-3-270m-Q4_0.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing";
    const GgufFile file = GgufFile::open(path);
    const GgufTensorInfo* t = file.find_tensor("blk.0.ffn_down.weight");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->type, GgmlType::q4_0);
    const auto data = file.tensor_data(*t);
    const std::vector<uint8_t> before(data.begin(), data.end());
    auto be = make_cpu_backend({2});
    const Tensor w =
        be->weight(t->type, t->ne[0], t->ne[1], data.data(), WeightBytes::file_mapping);
    EXPECT_EQ(std::memcmp(before.data(), data.data(), before.size()), 0);
    std::mt19937 rng(8);
    const std::vector<float> xf = normal_floats(size_t(t->ne[0]), rng);
    Tensor x = be->alloc(GgmlType::f32, t->ne[0], 1);
    Tensor y = be->alloc(GgmlType::f32, t->ne[1], 1);
    be->upload(x, xf.data(), xf.size() * sizeof(float));
    be->matmul(y, w, x, 1);
    std::vector<BlockQ8_0> a(size_t(t->ne[0] / 32));
    quantize_row_q8_0_ref(xf.data(), a.data(), t->ne[0]);
    const size_t rb = tensor_row_bytes(t->type, t->ne[0]);
    const cpu::MatmulKernel* k = cpu::matmul_kernel(t->type);
    for (int64_t o = 0; o < t->ne[1]; ++o)
        ASSERT_EQ(y.row(0)[o], k->vec_dot(t->ne[0], before.data() + rb * size_t(o), a.data()))
            << "out " << o;
}

}  // namespace
}  // namespace slim
