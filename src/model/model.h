// A decoder-only language model on a backend: configuration read from the
// GGUF, weights bound in place, and a forward pass over a KV cache.
//
// Families (llama.cpp, qwen2.cpp, gemma3.cpp, ...) differ only in the config
// fields they set and the blocks they chain; each is one file plus one line in
// registry.cpp.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "format/gguf.h"

namespace slim {

enum class FfnActivation { silu, gelu_tanh };

// Hyper-parameters, named for what they change rather than for the family.
struct ModelConfig {
    std::string arch;
    int n_vocab = 0;
    int n_ctx_train = 0;
    int n_embd = 0;
    int n_layer = 0;
    int n_ff = 0;
    int n_head = 0;
    int n_head_kv = 0;
    int head_dim = 0;  // per head, for q, k and v
    float norm_eps = 1e-5f;
    float embd_scale = 1;  // token embeddings are multiplied by this (sqrt(n_embd) in Gemma)
    float attn_scale = 0;  // q·k scale; 0 means 1/sqrt(head_dim)
    // Multiply q by attn_scale before q·k instead of the scores after, as
    // llama.cpp's Gemma graphs do. Not the same numbers: q is rounded to F16
    // for the product, and a q scaled first can land in F16's subnormals.
    bool attn_scale_q = false;
    float attn_softcap = 0;   // attention logit soft-capping (Gemma 2); 0 = off
    float final_softcap = 0;  // output logit soft-capping; 0 = off
    FfnActivation ffn_act = FfnActivation::silu;
    RopeParams rope;              // global-attention layers
    RopeParams rope_local;        // sliding-window layers (Gemma 3 uses another base)
    int sliding_window = 0;       // window of the sliding-window layers
    std::vector<bool> layer_swa;  // per layer: uses the sliding window
    bool qk_norm = false;         // Q and K RMS-normed per head before RoPE (Gemma 3, Qwen3)
    bool post_norms = false;      // RMSNorm on the attention and FFN outputs too (Gemma 2/3)
};

// The keys and values of one sequence, per layer, stored as F16 rows of
// n_head_kv * head_dim. Slot s holds the token at position positions[s].
class KvCache {
  public:
    KvCache(Backend& backend, const ModelConfig& config, int n_ctx);

    int n_ctx() const { return n_ctx_; }
    int n_used() const { return int(positions_.size()); }
    std::span<const int32_t> positions() const { return positions_; }
    const Tensor& k(int layer) const { return k_[size_t(layer)]; }
    const Tensor& v(int layer) const { return v_[size_t(layer)]; }
    size_t bytes() const;

    // Reserves slots for n new tokens at the next positions; returns their slots.
    // Throws Error(invalid_argument) when the context is full.
    std::vector<int32_t> append(int n);
    void clear() { positions_.clear(); }
    // Forgets everything from slot n on (used to retry or rewind a conversation).
    void truncate(int n) { positions_.resize(size_t(std::min(n, n_used()))); }

  private:
    int n_ctx_;
    std::vector<Tensor> k_, v_;
    std::vector<int32_t> positions_;
};

class Model {
  public:
    virtual ~Model();
    const ModelConfig& config() const { return config_; }

    // Runs `tokens` through the model as the next positions of `cache`.
    // Writes n_vocab logits per row into `logits`: for every token when
    // all_logits, else for the last token only. Splits long inputs into
    // batches internally.
    void forward(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits,
                 bool all_logits);

    int max_batch() const { return max_batch_; }

  protected:
    Model(Backend& backend, ModelConfig config, int max_batch);
    // One batch of at most max_batch() tokens at cache slots `slots`; the
    // logits of rows first_logit_row.. go to `logits` (no tensor when that
    // is n, none wanted).
    virtual void forward_batch(std::span<const int32_t> tokens, std::span<const int32_t> slots,
                               KvCache& cache, const Tensor& logits, int64_t first_logit_row) = 0;

    Backend& backend_;
    ModelConfig config_;
    int max_batch_;

  private:
    // The backend's buffer of at least `rows` logit rows, for a backend
    // that cannot write into the caller's (Backend::host_f32).
    const Tensor& backend_logits(int64_t rows);

    Tensor logits_;  // backend_logits', reused across calls
};

// Builds the model a GGUF describes, on a backend. The file must outlive the model.
// Throws Error for an unknown architecture, a missing or mis-shaped tensor, or
// a weight type the backend cannot compute with.
std::unique_ptr<Model> load_model(const GgufFile& file, Backend& backend, int max_batch = 512);

// The architectures load_model knows.
std::vector<std::string> known_architectures();

}  // namespace slim
