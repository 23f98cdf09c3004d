// The repacked Q4_0 / IQ4_NL / Q4_1 / Q5_0 / Q8_0 layouts (backend/cpu/repack.h): the
// layout round-trips, its scalar reference sums as vec_dot does, each ISA's
// kernels give the reference's results bit for bit (random blocks, extreme
// quants, odd block and row counts, real rows of the test models), and the
// CPU backend's matmul and get_rows on a repacked weight give what they give
// on ggml's rows.
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

using cpu::Isa;

using test::normal_floats;

// Where a block's quant bytes start: after the f16 d (and Q4_1's f16 m);
// Q5_0's 4 bytes of fifth bits count as quant bytes.
size_t quant_offset(GgmlType type) {
    return type == GgmlType::q4_1 ? 4 : 2;
}

// n_rows rows of random blocks: random quant bytes (every byte after the
// scales: nibbles, Q5_0's fifth bits, Q8_0's int8), scales of quantized random rows (so they are
// realistic f16 values).
std::vector<uint8_t> random_rows(GgmlType type, int64_t n_cols, int64_t n_rows, std::mt19937& rng) {
    const size_t rb = tensor_row_bytes(type, n_cols);
    std::vector<uint8_t> rows(rb * size_t(n_rows));
    const std::vector<float> x = normal_floats(size_t(n_cols * n_rows), rng);
    for (int64_t r = 0; r < n_rows; ++r)
        quantize_row_ref(type, x.data() + r * n_cols, rows.data() + rb * size_t(r), n_cols);
    std::uniform_int_distribution<int> byte(0, 255);
    const size_t block_bytes = rb / size_t(n_cols / 32), first = quant_offset(type);
    for (size_t b = 0; b < rows.size(); b += block_bytes)
        for (size_t k = first; k < block_bytes; ++k) rows[b + k] = uint8_t(byte(rng));
    return rows;
}

std::vector<uint8_t> repack(GgmlType type, const std::vector<uint8_t>& rows, int64_t n_cols,
                            int64_t n_rows) {
    std::vector<uint8_t> packed(cpu::repacked_bytes(type, n_cols, n_rows));
    cpu::repack_groups(type, rows.data(), n_cols, 0, n_rows / cpu::repack_rows(type),
                       packed.data());
    return packed;
}

// Activation rows, each in both forms: vec_dot's (Q8_0, or Q8_1 for Q4_1)
// and the repacked kernel's blocks (bytes).
struct Acts {
    // For vec_dot: quantized as the reference kernel quantizes (ggml's
    // reference quantizer for Q4_0/IQ4_NL, the scalar kernel's for the
    // lane-major types), so both sides multiply the same quants.
    std::vector<uint8_t> vd;
    size_t vd_row = 0;
    std::vector<uint8_t> r;
    const void* vec_dot_row(int64_t j) const { return vd.data() + vd_row * size_t(j); }
};

Acts quantize_acts(const std::vector<float>& x, int64_t n_cols, const cpu::RepackedKernel& k) {
    const cpu::MatmulKernel* vec = cpu::scalar_matmul_kernel(k.weight);
    Acts a;
    a.vd_row = tensor_row_bytes(vec->act_type, n_cols);
    a.vd.resize(x.size() / size_t(n_cols) * a.vd_row);
    a.r.resize(x.size() / 32 * k.act_block_bytes);
    for (size_t row = 0; row < x.size() / size_t(n_cols); ++row) {
        const size_t b = row * size_t(n_cols / 32);
        if (cpu::repack_rows(k.weight) == cpu::kRepackRows) {
            quantize_row_q8_0_ref(x.data() + row * size_t(n_cols),
                                  reinterpret_cast<BlockQ8_0*>(a.vd.data() + row * a.vd_row),
                                  n_cols);
        } else {
            vec->quantize_act(x.data() + row * size_t(n_cols), a.vd.data() + row * a.vd_row,
                              n_cols);
        }
        k.quantize_act(x.data() + row * size_t(n_cols), a.r.data() + b * k.act_block_bytes, n_cols);
    }
    return a;
}

// out[j * n_rows + o] from a repacked kernel over all groups and n_act rows.
std::vector<float> run_gemm(const cpu::RepackedKernel& k, const std::vector<uint8_t>& packed,
                            int64_t n_cols, int64_t n_rows, const std::vector<uint8_t>& a,
                            int64_t n_act) {
    std::vector<float> y(size_t(n_rows * n_act), -1.0f);
    k.gemm(n_cols, packed.data(), cpu::repacked_group_bytes(k.weight, n_cols),
           n_rows / cpu::repack_rows(k.weight), a.data(), size_t(n_cols / 32) * k.act_block_bytes,
           n_act, y.data(), size_t(n_rows));
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
        const int64_t n_rows = 48;
        const std::vector<uint8_t> rows = random_rows(type, n_cols, n_rows, rng);
        const std::vector<uint8_t> packed = repack(type, rows, n_cols, n_rows);
        EXPECT_EQ(cpu::repacked_group_bytes(type, n_cols) % 64, 0u);
        const size_t rb = tensor_row_bytes(type, n_cols);
        std::vector<uint8_t> back(rb);
        for (int64_t r = 0; r < n_rows; ++r) {
            cpu::unpack_row(type, packed.data(), n_cols, r, back.data());
            EXPECT_EQ(std::memcmp(back.data(), rows.data() + rb * size_t(r), rb), 0)
                << "n_cols " << n_cols << " row " << r;
        }
    }
}

TEST_P(Repack, ShapesThatRepack) {
    const GgmlType type = GetParam();
    const int rows = cpu::repack_rows(type);
    EXPECT_EQ(rows, type == GgmlType::q4_0 || type == GgmlType::iq4_nl ? 8 : 16);
    EXPECT_TRUE(cpu::repack_supported(type, 64, 2 * rows));
    EXPECT_FALSE(cpu::repack_supported(type, 64, rows + 4));  // not whole groups
    EXPECT_FALSE(cpu::repack_supported(type, 48, 2 * rows));  // not whole blocks
    EXPECT_FALSE(cpu::repack_supported(GgmlType::q5_1, 64, 16));
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
        const std::vector<float> y = run_gemm(reference(type), repack(type, rows, n_cols, n_rows),
                                              n_cols, n_rows, a.r, n_act);
        const size_t rb = tensor_row_bytes(type, n_cols);
        for (int64_t j = 0; j < n_act; ++j) {
            const void* aj = a.vec_dot_row(j);
            for (int64_t o = 0; o < n_rows; ++o) {
                const uint8_t* w = rows.data() + rb * size_t(o);
                const float got = y[size_t(j * n_rows + o)];
                // The lane-major types' order is the AVX2 vec_dot's 8 lanes,
                // not the scalar vec_dot's one chain.
                if (cpu::repack_rows(type) == cpu::kRepackRows) {
                    EXPECT_EQ(got, scalar->vec_dot(n_cols, w, aj)) << "n " << n_cols << " o " << o;
                }
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
        const size_t bytes = size_t(n / 32) * kernel_->act_block_bytes;
        ASSERT_EQ(kernel_->act_block_bytes, reference(weight_type()).act_block_bytes);
        std::vector<uint8_t> got(bytes), want(bytes);
        kernel_->quantize_act(x.data(), got.data(), n);
        reference(weight_type()).quantize_act(x.data(), want.data(), n);
        ASSERT_EQ(got, want) << "trial " << trial;
    }
}

TEST_P(RepackIsa, GemmEqualsReferenceBitForBit) {
    const GgmlType type = weight_type();
    std::mt19937 rng(4);
    for (int64_t n_cols : {32, 96, 640, 2080}) {
        for (int64_t n_rows : {16, 48, 64}) {
            const std::vector<uint8_t> packed =
                repack(type, random_rows(type, n_cols, n_rows, rng), n_cols, n_rows);
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

// The largest block sums: every quant byte at the ends of its range (nibbles
// 0 and 15, Q8_0's -128 and 127) against activations of +-127, where Q4_0's
// 16-bit partial sums are fullest.
TEST_P(RepackIsa, ExtremeQuants) {
    const GgmlType type = weight_type();
    const int64_t n_cols = 96, n_rows = 16, n_act = 21;
    const size_t block_bytes = tensor_row_bytes(type, n_cols) / size_t(n_cols / 32);
    for (uint8_t quant_byte : {uint8_t(0x00), uint8_t(0xFF), uint8_t(0x0F), uint8_t(0x80)}) {
        std::mt19937 rng(5);
        std::vector<uint8_t> rows = random_rows(type, n_cols, n_rows, rng);
        const size_t first = quant_offset(type);
        for (size_t b = 0; b < rows.size(); b += block_bytes)
            std::memset(rows.data() + b + first, quant_byte, block_bytes - first);
        const std::vector<uint8_t> packed = repack(type, rows, n_cols, n_rows);
        for (float v : {1.0f, -1.0f}) {
            const std::vector<float> x(size_t(n_cols * n_act), v);
            const Acts a = quantize_acts(x, n_cols, reference(type));
            // The first quant of the first block (Q8_1 has its s before the quants).
            const size_t qs_at =
                cpu::scalar_matmul_kernel(type)->act_type == GgmlType::q8_1 ? 4 : 2;
            ASSERT_EQ(int8_t(a.vd[qs_at]), v > 0 ? 127 : -127);
            EXPECT_EQ(run_gemm(*kernel_, packed, n_cols, n_rows, a.r, n_act),
                      run_gemm(reference(type), packed, n_cols, n_rows, a.r, n_act))
                << "quant bytes " << int(quant_byte) << " activations " << v;
        }
    }
}

// Rows of the test models (the Q4_0 one, SmolLM2 for Q4_1, Gemma 3 Q4_K_M for its Q5_0 and Q8_0
// matrices): the first and last 16 of each matrix, repacked, against the AVX2 vec_dot on the file's
// bytes.
TEST_P(RepackIsa, RealModelRows) {
    const GgmlType type = weight_type();
    constexpr int64_t kRows = 16, kActs = 17;  // AMX's tile and one row past it
    const std::filesystem::path path =
        test::models_dir() / (type == GgmlType::q4_0   ? "gemma-3-270m-Q4_0.gguf"
                              : type == GgmlType::q4_1 ? "SmolLM2-135M-Instruct-Q4_1.gguf"
                                                       : "gemma-3-270m-Q4_K_M.gguf");
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
                run_gemm(*kernel_, repack(type, rows, n, kRows), n, kRows, a.r, kActs);
            for (int64_t j = 0; j < kActs; ++j)
                for (int64_t o = 0; o < kRows; ++o)
                    ASSERT_EQ(y[size_t(j * kRows + o)],
                              vec->vec_dot(n, rows.data() + rb * size_t(o), a.vec_dot_row(j)))
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
    const int64_t n_in = 320, n_out = 48;
    std::mt19937 rng(7);
    const std::vector<uint8_t> wq = random_rows(type, n_in, n_out, rng);
    const size_t rb = tensor_row_bytes(type, n_in);
    const cpu::MatmulKernel* k = cpu::matmul_kernel(type);
    for (int threads : {1, 2, 3}) {
        auto be = make_cpu_backend({threads});
        const Tensor w =
            be->weight(type, n_in, n_out, wq.data(), WeightBytes::caller, WeightUse::matmul);
        EXPECT_EQ(w.layout,
                  cpu::repacked_kernel(type) ? TensorLayout::backend : TensorLayout::rows);
        for (int64_t n : {1, 2, 3, 4, 5, 8, 9, 50}) {
            const std::vector<float> xf = normal_floats(size_t(n * n_in), rng);
            Tensor x = be->alloc(GgmlType::f32, n_in, n);
            Tensor y = be->alloc(GgmlType::f32, n_out, n);
            be->upload(x, xf.data(), xf.size() * sizeof(float));
            be->matmul(y, w, x, n);
            std::vector<uint8_t> a(tensor_row_bytes(k->act_type, n_in));
            for (int64_t r = 0; r < n; ++r) {
                k->quantize_act(xf.data() + r * n_in, a.data(), n_in);
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

INSTANTIATE_TEST_SUITE_P(Types, Repack,
                         ::testing::Values(GgmlType::q4_0, GgmlType::iq4_nl, GgmlType::q4_1,
                                           GgmlType::q5_0, GgmlType::q8_0),
                         [](const auto& p) { return std::string(ggml_type_name(p.param)); });
INSTANTIATE_TEST_SUITE_P(Kernels, RepackIsa,
                         ::testing::Values(RepackCase{Isa::avx2, GgmlType::q4_0},
                                           RepackCase{Isa::avx2, GgmlType::iq4_nl},
                                           RepackCase{Isa::avx512, GgmlType::q4_0},
                                           RepackCase{Isa::avx512, GgmlType::iq4_nl},
                                           RepackCase{Isa::avx512, GgmlType::q4_1},
                                           RepackCase{Isa::avx512, GgmlType::q5_0},
                                           RepackCase{Isa::avx512, GgmlType::q8_0},
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
    const Tensor w = be->weight(t->type, t->ne[0], t->ne[1], data.data(), WeightBytes::file_mapping,
                                WeightUse::matmul);
    EXPECT_EQ(std::memcmp(before.data(), data.data(), before.size()), 0);
    std::mt19937 rng(8);
    const std::vector<float> xf = normal_floats(size_t(t->ne[0]), rng);
    Tensor x = be->alloc(GgmlType::f32, t->ne[0], 1);
    Tensor y = be->alloc(GgmlType::f32, t->ne[1], 1);
    be->upload(x, xf.data(), xf.size() * sizeof(float));
    be->matmul(y, w, x, 1);
    const cpu::MatmulKernel* k = cpu::matmul_kernel(t->type);
    std::vector<uint8_t> a(tensor_row_bytes(k->act_type, t->ne[0]));
    k->quantize_act(xf.data(), a.data(), t->ne[0]);
    const size_t rb = tensor_row_bytes(t->type, t->ne[0]);
    for (int64_t o = 0; o < t->ne[1]; ++o)
        ASSERT_EQ(y.row(0)[o], k->vec_dot(t->ne[0], before.data() + rb * size_t(o), a.data()))
            << "out " << o;
}

}  // namespace
}  // namespace slim
