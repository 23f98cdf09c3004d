#include "backend/profiling_backend.h"

namespace slim {

const char* op_kind_name(OpKind kind) {
    switch (kind) {
        case OpKind::matmul_vec:
            return "matmul (mat x vec)";
        case OpKind::matmul_mat:
            return "matmul (mat x mat)";
        case OpKind::attention:
            return "attention";
        case OpKind::kv_store:
            return "kv store";
        case OpKind::norm:
            return "norms";
        case OpKind::rope:
            return "rope";
        case OpKind::activation:
            return "ffn activation";
        case OpKind::elementwise:
            return "add/copy/scale";
        case OpKind::get_rows:
            return "embedding lookup";
        case OpKind::transfer:
            return "upload/download";
        case OpKind::count_:
            break;
    }
    return "unknown";
}

Tensor ProfilingBackend::weight(GgmlType type, int64_t n_cols, int64_t n_rows, const void* bytes,
                                WeightBytes where, WeightUse use) {
    return inner_.weight(type, n_cols, n_rows, bytes, where, use);
}

Tensor ProfilingBackend::alloc(GgmlType type, int64_t n_cols, int64_t n_rows) {
    Tensor t = inner_.alloc(type, n_cols, n_rows);
    allocated_bytes_ += t.row_bytes * size_t(t.n_rows);
    return t;
}

void ProfilingBackend::free(const Tensor& t) {
    allocated_bytes_ -= std::min(allocated_bytes_, t.row_bytes * size_t(t.n_rows));
    inner_.free(t);
}

void ProfilingBackend::upload(const Tensor& dst, const void* src, size_t bytes) {
    timed(OpKind::transfer, [&] { inner_.upload(dst, src, bytes); });
}

void ProfilingBackend::download(void* dst, const Tensor& src, size_t bytes) {
    timed(OpKind::transfer, [&] { inner_.download(dst, src, bytes); });
}

void ProfilingBackend::matmul(const Tensor& y, const Tensor& w, const Tensor& x, int64_t n) {
    timed(n == 1 ? OpKind::matmul_vec : OpKind::matmul_mat, [&] { inner_.matmul(y, w, x, n); });
}

void ProfilingBackend::get_rows(const Tensor& y, const Tensor& table,
                                std::span<const int32_t> ids) {
    timed(OpKind::get_rows, [&] { inner_.get_rows(y, table, ids); });
}

void ProfilingBackend::rms_norm(const Tensor& x, const Tensor* weight, float eps, int64_t n) {
    timed(OpKind::norm, [&] { inner_.rms_norm(x, weight, eps, n); });
}

void ProfilingBackend::rms_norm_groups(const Tensor& x, const Tensor& weight, int group, float eps,
                                       int64_t n) {
    timed(OpKind::norm, [&] { inner_.rms_norm_groups(x, weight, group, eps, n); });
}

void ProfilingBackend::layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias,
                                  float eps, int64_t n) {
    timed(OpKind::norm, [&] { inner_.layer_norm(x, weight, bias, eps, n); });
}

void ProfilingBackend::copy(const Tensor& dst, const Tensor& src, int64_t n) {
    timed(OpKind::elementwise, [&] { inner_.copy(dst, src, n); });
}

void ProfilingBackend::add(const Tensor& y, const Tensor& a, const Tensor& b, int64_t n) {
    timed(OpKind::elementwise, [&] { inner_.add(y, a, b, n); });
}

void ProfilingBackend::linear(const Tensor& y, const Tensor& w, const Tensor* bias, const Tensor& x,
                              int64_t n) {
    timed(n == 1 ? OpKind::matmul_vec : OpKind::matmul_mat,
          [&] { inner_.linear(y, w, bias, x, n); });
}

void ProfilingBackend::add_row(const Tensor& x, const Tensor& b, int64_t n) {
    timed(OpKind::elementwise, [&] { inner_.add_row(x, b, n); });
}

void ProfilingBackend::scale(const Tensor& x, float s, int64_t n) {
    timed(OpKind::elementwise, [&] { inner_.scale(x, s, n); });
}

void ProfilingBackend::swiglu(const Tensor& gate, const Tensor& up, int64_t n) {
    timed(OpKind::activation, [&] { inner_.swiglu(gate, up, n); });
}

void ProfilingBackend::geglu(const Tensor& gate, const Tensor& up, int64_t n) {
    timed(OpKind::activation, [&] { inner_.geglu(gate, up, n); });
}

void ProfilingBackend::gelu(const Tensor& x, int64_t n) {
    timed(OpKind::activation, [&] { inner_.gelu(x, n); });
}

void ProfilingBackend::gelu_erf(const Tensor& x, int64_t n) {
    timed(OpKind::activation, [&] { inner_.gelu_erf(x, n); });
}

void ProfilingBackend::softcap(const Tensor& x, float cap, int64_t n) {
    timed(OpKind::elementwise, [&] { inner_.softcap(x, cap, n); });
}

void ProfilingBackend::rope(const Tensor& x, int n_head, int head_dim,
                            std::span<const int32_t> positions, const RopeParams& params) {
    timed(OpKind::rope, [&] { inner_.rope(x, n_head, head_dim, positions, params); });
}

void ProfilingBackend::kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k,
                                const Tensor& v, std::span<const int32_t> slots) {
    timed(OpKind::kv_store, [&] { inner_.kv_store(k_cache, v_cache, k, v, slots); });
}

void ProfilingBackend::attention(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                                 const Tensor& v_cache, std::span<const int32_t> q_positions,
                                 std::span<const int32_t> kv_positions,
                                 const AttentionParams& params) {
    timed(OpKind::attention,
          [&] { inner_.attention(out, q, k_cache, v_cache, q_positions, kv_positions, params); });
}

}  // namespace slim
