// Shared pieces the model families are built from: reading hyper-parameters,
// binding weights with shape checks, and the attention and FFN blocks.
#pragma once

#include <optional>
#include <string>

#include "model/model.h"

namespace slim {

// Reads `<arch>.<key>` values, naming the key in every error.
class HparamReader {
  public:
    HparamReader(const GgufFile& file, std::string arch) : file_(file), arch_(std::move(arch)) {}
    int required_int(const std::string& key) const;
    int optional_int(const std::string& key, int fallback) const;
    float optional_float(const std::string& key, float fallback) const;
    std::optional<std::string> optional_string(const std::string& key) const;
    const GgufFile& file() const { return file_; }
    const std::string& arch() const { return arch_; }

  private:
    std::string full(const std::string& key) const { return arch_ + "." + key; }
    const GgufFile& file_;
    std::string arch_;
};

// Fills what every decoder shares: sizes, norms, RoPE (with linear, YaRN or
// llama3 scaling per the GGUF keys) and the vocabulary size.
void read_common_config(const HparamReader& hp, ModelConfig& config);

// Looks tensors up by name and checks their shape (ggml order: n_in first).
class WeightBinder {
  public:
    WeightBinder(const GgufFile& file, Backend& backend) : file_(file), backend_(backend) {}
    Tensor matrix(const std::string& name, int64_t n_in, int64_t n_out) const;
    // A matrix read only by row lookups (WeightUse::lookup).
    Tensor table(const std::string& name, int64_t n_in, int64_t n_out) const;
    Tensor vector(const std::string& name, int64_t n) const;  // must be F32
    std::optional<Tensor> optional_matrix(const std::string& name, int64_t n_in,
                                          int64_t n_out) const;
    std::optional<Tensor> optional_vector(const std::string& name, int64_t n) const;
    bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

  private:
    Tensor bind(const GgufTensorInfo& t, int64_t n_in, int64_t n_out, bool is_vector,
                WeightUse use = WeightUse::matmul) const;
    const GgufFile& file_;
    Backend& backend_;
};

struct AttentionWeights {
    Tensor wq, wk, wv, wo;
    std::optional<Tensor> bq, bk, bv;      // Qwen2 biases
    std::optional<Tensor> q_norm, k_norm;  // QK-norm over each head, with config.qk_norm
};
AttentionWeights bind_attention(const WeightBinder& w, const ModelConfig& c, int layer);

struct FfnWeights {
    Tensor gate, up, down;
};
FfnWeights bind_ffn(const WeightBinder& w, const ModelConfig& c, int layer);

// Activation buffers for one batch of up to max_batch tokens.
struct Scratch {
    Scratch(Backend& backend, const ModelConfig& c, int max_batch);
    Tensor x;              // residual stream, n_embd
    Tensor h;              // normed input of a block, n_embd
    Tensor q, k, v, attn;  // n_head * head_dim, n_head_kv * head_dim, ..., n_head * head_dim
    Tensor block_out;      // n_embd
    Tensor gate, up;       // n_ff
};

// Everything a block needs to know about the batch it runs on.
struct BatchView {
    int64_t n = 0;
    std::span<const int32_t> slots;
    std::vector<int32_t> positions;  // of the batch's tokens
};
BatchView make_batch(std::span<const int32_t> tokens, std::span<const int32_t> slots,
                     const KvCache& cache);

// The two ends every decoder has: the token embedding, and the output norm
// and projection (tied to the embedding when the file has no output.weight).
struct DecoderEnds {
    DecoderEnds(const WeightBinder& w, const ModelConfig& c);
    Tensor tok_embd, output_norm, output;
};

// out = Wo · attention(q, k, v) for the normed input s.h; stores k, v in the cache.
void attention_block(Backend& be, const ModelConfig& c, const AttentionWeights& w, int layer,
                     Scratch& s, const BatchView& batch, KvCache& cache);
// out = down(act(gate · h) * (up · h)) for the normed input s.h, into s.block_out.
void ffn_block(Backend& be, const ModelConfig& c, const FfnWeights& w, Scratch& s, int64_t n);

// The final norm and output projection for rows [first, n) of s.x, into logits.
void output_block(Backend& be, const ModelConfig& c, const Tensor& norm, const Tensor& output,
                  Scratch& s, int64_t n, int64_t first, const Tensor& logits);

// The decoder (decoder.cpp) every family configures: llama, qwen2 and gemma3
// are this with different settings.
std::unique_ptr<Model> make_decoder(const GgufFile& file, Backend& backend, ModelConfig config,
                                    int max_batch);

}  // namespace slim
