// A Backend decorator that times every op: it forwards each call to the
// backend it wraps, with synchronize() before and after so a queued (GPU)
// backend is charged for its own op, and adds the wall time to the op's kind.
// `slim bench --profile` builds the model on it to split forward time by op.
//
// It also counts the bytes of the activation buffers the model allocates
// through it (alloc minus free), which `slim bench --memory` reports as the
// model's scratch.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>

#include "backend/backend.h"

namespace slim {

// What a forward pass spends its time on. matmul is split by the number of
// activation rows: one row (decode) is a matrix × vector product and bound by
// reading the weights; more rows reuse each weight row across tokens.
enum class OpKind {
    matmul_vec,   // matmul with n == 1
    matmul_mat,   // matmul with n > 1
    attention,    // softmax(q·K^T) V over the cache
    kv_store,     // writing k, v into the cache
    norm,         // rms_norm, rms_norm_groups, layer_norm
    rope,         // rotary position embedding
    activation,   // swiglu, geglu, gelu
    elementwise,  // add, add_row, scale, softcap, copy
    get_rows,     // embedding lookup
    transfer,     // upload, download
    count_
};
constexpr size_t kOpKindCount = size_t(OpKind::count_);
const char* op_kind_name(OpKind kind);

struct OpStats {
    double seconds = 0;
    uint64_t calls = 0;
};

class ProfilingBackend final : public Backend {
  public:
    explicit ProfilingBackend(Backend& inner) : inner_(inner) {}

    const std::array<OpStats, kOpKindCount>& stats() const { return stats_; }
    void reset_stats() { stats_ = {}; }
    // Bytes of alloc'd buffers not freed yet.
    size_t allocated_bytes() const { return allocated_bytes_; }
    Backend& inner() { return inner_; }

    std::string name() const override { return inner_.name(); }
    Tensor weight(GgmlType type, int64_t n_cols, int64_t n_rows, const void* bytes,
                  WeightBytes where, WeightUse use) override;
    Tensor alloc(GgmlType type, int64_t n_cols, int64_t n_rows) override;
    void free(const Tensor& t) override;
    void upload(const Tensor& dst, const void* src, size_t bytes) override;
    void download(void* dst, const Tensor& src, size_t bytes) override;
    void synchronize() override { inner_.synchronize(); }
    Tensor host_f32(float* data, int64_t n_cols, int64_t n_rows) override {
        return inner_.host_f32(data, n_cols, n_rows);
    }

    void matmul(const Tensor& y, const Tensor& w, const Tensor& x, int64_t n) override;
    void linear(const Tensor& y, const Tensor& w, const Tensor* bias, const Tensor& x,
                int64_t n) override;
    void get_rows(const Tensor& y, const Tensor& table, std::span<const int32_t> ids) override;
    void rms_norm(const Tensor& x, const Tensor* weight, float eps, int64_t n) override;
    void rms_norm_groups(const Tensor& x, const Tensor& weight, int group, float eps,
                         int64_t n) override;
    void layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps,
                    int64_t n) override;
    void copy(const Tensor& dst, const Tensor& src, int64_t n) override;
    void add(const Tensor& y, const Tensor& a, const Tensor& b, int64_t n) override;
    void add_row(const Tensor& x, const Tensor& b, int64_t n) override;
    void scale(const Tensor& x, float s, int64_t n) override;
    void swiglu(const Tensor& gate, const Tensor& up, int64_t n) override;
    void geglu(const Tensor& gate, const Tensor& up, int64_t n) override;
    void gelu(const Tensor& x, int64_t n) override;
    void gelu_erf(const Tensor& x, int64_t n) override;
    void softcap(const Tensor& x, float cap, int64_t n) override;
    void rope(const Tensor& x, int n_head, int head_dim, std::span<const int32_t> positions,
              const RopeParams& params) override;
    void kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v,
                  std::span<const int32_t> slots) override;
    void attention(const Tensor& out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                   std::span<const int32_t> q_positions, std::span<const int32_t> kv_positions,
                   const AttentionParams& params) override;

  private:
    // Runs op between two synchronize() calls and charges its time to kind.
    template <typename Op>
    void timed(OpKind kind, Op&& op) {
        inner_.synchronize();
        const auto t0 = std::chrono::steady_clock::now();
        op();
        inner_.synchronize();
        OpStats& s = stats_[size_t(kind)];
        s.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++s.calls;
    }

    Backend& inner_;
    std::array<OpStats, kOpKindCount> stats_{};
    size_t allocated_bytes_ = 0;
};

}  // namespace slim
