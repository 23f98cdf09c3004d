// A bidirectional encoder (BERT and kin) on a backend: configuration read
// from the GGUF, weights bound in place with their shapes checked, and a
// forward pass over a batch of token sequences of different lengths.
//
// Sequences are packed one after another (no padding): every per-token op
// (embeddings, matmuls, norms, FFN) runs once over all the tokens of the
// batch, so each weight matrix is read once per batch, and one attention call
// per layer (AttentionParams::seq_starts) lets each sequence see only its own
// keys. Nothing is computed for padding and no mask is needed.
//
// Separate from Model (model.h), which is decoder-shaped: a KV cache that
// persists across calls, logits out. An encoder has no state between calls.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "format/gguf.h"

namespace slim {

// llama.cpp's LLAMA_POOLING_TYPE values, as `<arch>.pooling_type` stores them.
enum class Pooling { none = 0, mean = 1, cls = 2, last = 3 };
const char* pooling_name(Pooling p);

enum class EncoderActivation { gelu_erf, gelu_tanh };

struct EncoderConfig {
    std::string arch;
    int n_vocab = 0;
    int n_ctx_train = 0;  // positions the model has embeddings for
    int n_embd = 0;
    int n_layer = 0;
    int n_ff = 0;
    int n_head = 0;
    int head_dim = 0;
    int n_token_types = 0;
    float norm_eps = 1e-12f;
    Pooling pooling = Pooling::none;
    // Hugging Face's BERT uses the exact (erf) GELU; llama.cpp computes
    // ggml_gelu, the tanh approximation from an f16 table. slim uses erf, what
    // the models were trained with: its F32 MiniLM embeddings are within a
    // cosine of 0.9999999 of sentence-transformers' (encoder_slow_test.cpp).
    // The tanh form would pass too: swapped into sentence-transformers'
    // own MiniLM it moves the embeddings to a cosine of 0.9999988 at worst.
    EncoderActivation ffn_act = EncoderActivation::gelu_erf;
};

class Encoder {
  public:
    virtual ~Encoder();
    const EncoderConfig& config() const { return config_; }

    // Pooled embeddings (config().pooling; mean where it is none), one row of
    // n_embd floats per sequence, not normalised, into `out` (resized).
    // Every sequence must hold 1 to n_ctx_train ids below n_vocab; throws
    // Error(invalid_argument) naming the sequence otherwise.
    void embed(std::span<const std::vector<int32_t>> seqs, std::vector<float>& out);

    // The last layer's hidden state of every token (n_embd floats each), the
    // sequences' tokens one after another, into `out` (resized).
    void hidden_states(std::span<const std::vector<int32_t>> seqs, std::vector<float>& out);

  protected:
    Encoder(Backend& backend, EncoderConfig config);
    // Runs the packed tokens; `starts` has one entry per sequence plus the
    // total. Leaves the hidden states in `hidden` (n_tokens rows of n_embd).
    virtual void forward(std::span<const int32_t> tokens, std::span<const int32_t> positions,
                         std::span<const int64_t> starts, const Tensor& hidden) = 0;

    Backend& backend_;
    EncoderConfig config_;

  private:
    void run(std::span<const std::vector<int32_t>> seqs, std::vector<int64_t>& starts);
    Tensor hidden_;  // grown to the largest batch seen
    std::vector<float> host_;
};

// Builds the encoder a GGUF describes. The file must outlive the encoder.
// Throws Error for an architecture that is not an encoder (a decoder GGUF
// among them), a missing key, or a missing or mis-shaped tensor.
std::unique_ptr<Encoder> load_encoder(const GgufFile& file, Backend& backend);

std::vector<std::string> known_encoder_architectures();

}  // namespace slim
