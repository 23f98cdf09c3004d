// The compute interface every model runs on. A backend owns its buffers and
// executes a small set of ops on them; the CPU backend runs each op at once,
// a GPU backend may queue them and only has to be finished at synchronize().
//
// Activations are f32 matrices of n_rows x width, row-major (one row per
// token). Weights are ggml-typed matrices with ggml's orientation: ne[0] =
// n_in is contiguous, ne[1] = n_out rows, so matmul computes y = W x per
// token with one dot product per weight row.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "format/ggml_type.h"

namespace slim {

// How a tensor's bytes are arranged.
enum class TensorLayout : uint8_t {
    rows,  // ggml's: row r is row_bytes long at data + r * row_bytes
    // The backend's own arrangement, made at load for its kernels (the CPU's
    // repacked weights, cpu/repack.h): only the backend reads such data, and
    // row() and rows_from() do not apply.
    backend,
};

// A matrix in a backend's memory. For the CPU, `data` is a host pointer (for
// weights, straight into the mmap'd file unless repacked); for a GPU, a
// device pointer.
struct Tensor {
    void* data = nullptr;
    GgmlType type = GgmlType::f32;
    int64_t n_cols = 0;  // ne[0]: elements per row
    int64_t n_rows = 0;  // product of the outer dimensions
    size_t row_bytes = 0;
    TensorLayout layout = TensorLayout::rows;

    float* f32() const { return static_cast<float*>(data); }
    float* row(int64_t r) const {
        return reinterpret_cast<float*>(static_cast<char*>(data) + r * row_bytes);
    }
    // The same matrix without its first `first` rows.
    Tensor rows_from(int64_t first) const {
        return Tensor{static_cast<char*>(data) + first * row_bytes,
                      type,
                      n_cols,
                      n_rows - first,
                      row_bytes,
                      layout};
    }
};

// Rotary position embedding, as the GGUF keys describe it.
enum class RopeLayout { normal, neox };  // pairs (2i, 2i+1) vs (i, i + n_rot/2)
struct RopeParams {
    RopeLayout layout = RopeLayout::normal;
    int n_rot = 0;  // dimensions rotated, from the start of each head
    float freq_base = 10000;
    float freq_scale = 1;  // linear scaling: positions multiplied by this
    // YaRN (0 = off): ext_factor mixes extrapolation and interpolation per dimension.
    float ext_factor = 0, attn_factor = 1, beta_fast = 32, beta_slow = 1;
    int n_ctx_orig = 0;
    std::span<const float> freq_factors;  // llama3-style per-dimension divisors, n_rot / 2 of them
};

// Attention over a KV cache: one sequence's (a decoder), or several
// independent sequences packed one after another without padding (an
// encoder's batch, with causal = false; see seq_starts).
struct AttentionParams {
    int n_head = 0, n_head_kv = 0, head_dim = 0;
    float scale = 1;         // applied to q·k
    float softcap = 0;       // logit soft-capping: cap * tanh(s / cap); 0 = off
    int sliding_window = 0;  // a query at p sees keys at p - window < pos <= p; 0 = all
    bool causal = true;
    // Packed sequences: sequence j is rows [seq_starts[j], seq_starts[j + 1])
    // of q and out and the same slots of the cache, and attends only within
    // itself (its positions count from its own start). Empty: one sequence,
    // every query over cache slots [0, n_kv).
    std::span<const int64_t> seq_starts;
};

// Where the bytes given to Backend::weight live, which decides what the
// backend may do with their pages once it has its own copy.
enum class WeightBytes {
    caller,  // the caller's memory: left alone
    // A read-only file mapping that outlives the backend (the model file):
    // a backend that copies a weight may drop its pages from the process
    // (they are clean; a later read brings them back from the file).
    file_mapping,
};

// What a weight is read for. A lookup table (an embedding that is not also
// the output matrix) has only the looked-up rows read, so a backend keeps it
// where it is rather than copy all of it.
enum class WeightUse {
    matmul,  // multiplied whole (and maybe looked up too: a tied embedding)
    lookup,  // get_rows only
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;

    // Weights are copied once into the backend's memory (the CPU's huge
    // pages, repacked for its kernels where cpu/repack.h has a layout; the
    // GPU's memory), or stay where the model file put them.
    virtual Tensor weight(GgmlType type, int64_t n_cols, int64_t n_rows, const void* bytes,
                          WeightBytes where, WeightUse use) = 0;
    // An activation buffer owned by the backend, zeroed; freed with the backend.
    virtual Tensor alloc(GgmlType type, int64_t n_cols, int64_t n_rows) = 0;
    virtual void free(const Tensor& t) = 0;
    // Copies between host memory and a backend tensor (identity on the CPU).
    virtual void upload(const Tensor& dst, const void* src, size_t bytes) = 0;
    virtual void download(void* dst, const Tensor& src, size_t bytes) = 0;
    virtual void synchronize() = 0;
    // The caller's n_rows x n_cols floats as an f32 tensor the ops can write
    // into, for a backend that computes in host memory (the CPU): the model
    // then writes its logits straight into the caller's buffer rather than
    // into its own and downloading them (1 MB per token for Gemma 3's
    // vocabulary). Other backends return a tensor with null data.
    virtual Tensor host_f32(float* data, int64_t n_cols, int64_t n_rows) {
        (void)data, (void)n_cols, (void)n_rows;
        return {};
    }

    // y[r] = W · x[r] for the first n rows of x (f32); y has W.n_rows columns.
    virtual void matmul(const Tensor& y, const Tensor& w, const Tensor& x, int64_t n) = 0;
    // y = W x + bias (bias may be null): matmul then add_row, for the models
    // slim checks against PyTorch rather than llama.cpp (the encoders). The
    // backend may sum in any order, which lets the CPU use a blocked float
    // GEMM for F32, F16 and Q8_0 weights (cpu/kernels.h, FloatGemm).
    virtual void linear(const Tensor& y, const Tensor& w, const Tensor* bias, const Tensor& x,
                        int64_t n) = 0;
    // y[i] = dequantized row ids[i] of the table (an embedding lookup).
    virtual void get_rows(const Tensor& y, const Tensor& table, std::span<const int32_t> ids) = 0;

    // Row-wise normalisations over the first n rows, in place; weight/bias may be null.
    virtual void rms_norm(const Tensor& x, const Tensor* weight, float eps, int64_t n) = 0;
    // Same, applied to each `group`-wide slice of every row (QK-norm per head).
    virtual void rms_norm_groups(const Tensor& x, const Tensor& weight, int group, float eps,
                                 int64_t n) = 0;
    virtual void layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps,
                            int64_t n) = 0;

    virtual void copy(const Tensor& dst, const Tensor& src, int64_t n) = 0;
    // Elementwise, over the first n rows. b in add_row/mul_row is one row broadcast.
    virtual void add(const Tensor& y, const Tensor& a, const Tensor& b, int64_t n) = 0;
    virtual void add_row(const Tensor& x, const Tensor& b, int64_t n) = 0;
    virtual void scale(const Tensor& x, float s, int64_t n) = 0;
    // gate = act(gate) * up: SiLU (SwiGLU) or tanh-approximated GELU (GeGLU).
    virtual void swiglu(const Tensor& gate, const Tensor& up, int64_t n) = 0;
    virtual void geglu(const Tensor& gate, const Tensor& up, int64_t n) = 0;
    virtual void gelu(const Tensor& x, int64_t n) = 0;
    // x = x * Phi(x) with the exact normal CDF, 0.5 x (1 + erf(x / sqrt 2)):
    // the GELU BERT models were trained with (PyTorch's default).
    virtual void gelu_erf(const Tensor& x, int64_t n) = 0;
    virtual void softcap(const Tensor& x, float cap, int64_t n) = 0;

    // Rotates each head of the first n rows; positions[i] belongs to row i.
    virtual void rope(const Tensor& x, int n_head, int head_dim, std::span<const int32_t> positions,
                      const RopeParams& params) = 0;

    // Writes k and v rows (n of them) into a layer's cache at the given slots.
    virtual void kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k,
                          const Tensor& v, std::span<const int32_t> slots) = 0;
    // out[i] = softmax(scale * q[i] · K^T + mask) V over the cache slots [0, n_kv),
    // where the key in slot s has position kv_positions[s] and query i has
    // position q_positions[i].
    virtual void attention(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                           const Tensor& v_cache, std::span<const int32_t> q_positions,
                           std::span<const int32_t> kv_positions,
                           const AttentionParams& params) = 0;
};

struct CpuBackendOptions {
    int n_threads = 0;  // 0: one per core
};
std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options = {});

}  // namespace slim
