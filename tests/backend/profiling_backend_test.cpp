// The profiling decorator charges each op to its kind, counts matmuls by the
// number of activation rows, and tracks the bytes of live buffers.
#include "backend/profiling_backend.h"

#include <gtest/gtest.h>

#include <vector>

namespace slim {
namespace {

TEST(ProfilingBackend, ChargesOpsToTheirKinds) {
    auto cpu = make_cpu_backend({1});
    ProfilingBackend p(*cpu);
    const int64_t n_in = 64, n_out = 8;
    std::vector<float> w(size_t(n_in * n_out), 0.5f);
    Tensor weight =
        p.weight(GgmlType::f32, n_in, n_out, w.data(), WeightBytes::caller, WeightUse::matmul);
    Tensor x = p.alloc(GgmlType::f32, n_in, 4);
    Tensor y = p.alloc(GgmlType::f32, n_out, 4);
    EXPECT_EQ(p.allocated_bytes(), size_t(4 * (n_in + n_out) * 4));

    std::vector<float> ones(size_t(4 * n_in), 1.0f);
    p.upload(x, ones.data(), ones.size() * sizeof(float));
    p.matmul(y, weight, x, 1);
    p.matmul(y, weight, x, 4);
    p.matmul(y, weight, x, 4);
    p.rms_norm(x, nullptr, 1e-6f, 4);
    p.add(x, x, x, 4);
    std::vector<float> out(size_t(4 * n_out));
    p.download(out.data(), y, out.size() * sizeof(float));
    // Each output is a dot product of 64 ones with 64 halves.
    for (float v : out) EXPECT_FLOAT_EQ(v, 32.0f);

    const auto& s = p.stats();
    EXPECT_EQ(s[size_t(OpKind::matmul_vec)].calls, 1u);
    EXPECT_EQ(s[size_t(OpKind::matmul_mat)].calls, 2u);
    EXPECT_EQ(s[size_t(OpKind::norm)].calls, 1u);
    EXPECT_EQ(s[size_t(OpKind::elementwise)].calls, 1u);
    EXPECT_EQ(s[size_t(OpKind::transfer)].calls, 2u);
    EXPECT_EQ(s[size_t(OpKind::attention)].calls, 0u);
    for (const OpStats& op : s) EXPECT_GE(op.seconds, 0.0);
    EXPECT_GT(s[size_t(OpKind::matmul_mat)].seconds, 0.0);

    p.free(x);
    EXPECT_EQ(p.allocated_bytes(), size_t(4 * n_out * 4));
    p.reset_stats();
    EXPECT_EQ(p.stats()[size_t(OpKind::matmul_mat)].calls, 0u);
}

}  // namespace
}  // namespace slim
