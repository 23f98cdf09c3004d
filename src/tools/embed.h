// Sentence embeddings with an encoder GGUF: texts in, one vector per text out,
// batched and multi-threaded (the backend's thread pool), with sentence-
// transformers' conventions:
//
//   - each text is tokenized with the vocabulary's specials ([CLS] ... [SEP]);
//   - a text longer than the model's positions is truncated to them, keeping
//     the closing special token, as Hugging Face tokenizers truncate; the
//     caller is told how many were (the CLI prints one warning line);
//   - pooling is the model's (bert.pooling_type: mean, CLS or last token);
//   - normalize scales every vector to unit L2 norm (sentence-transformers'
//     Normalize module, which the GGUF does not record).
//
// Library code: no I/O; progress is reported through a callback.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "format/gguf.h"
#include "model/encoder.h"
#include "runtime/tokenizer.h"

namespace slim {

struct EmbedOptions {
    int batch = 32;  // texts per forward pass
    bool normalize = false;
};

struct EmbedProgress {
    size_t done = 0, total = 0;
    double seconds = 0;
};

struct EmbedResult {
    size_t n_texts = 0;
    int n_embd = 0;
    std::vector<float> embeddings;  // n_texts x n_embd, row-major
    size_t n_tokens = 0;            // after truncation
    size_t n_truncated = 0;         // texts cut to the model's positions
    size_t longest = 0;             // tokens of the longest text before truncation
    double seconds = 0;             // tokenization and forward passes
};

class Embedder {
  public:
    // Loads the tokenizer and the encoder from `file` (which must outlive
    // this). Throws Error for a file that is not an encoder model.
    Embedder(const GgufFile& file, Backend& backend);
    ~Embedder();

    const EncoderConfig& config() const { return encoder_->config(); }
    const Tokenizer& tokenizer() const { return tokenizer_; }
    // For callers that need more than pooled vectors (per-token hidden states).
    Encoder& encoder() { return *encoder_; }

    // The ids embed() runs for a text: specials added, truncated to the
    // model's positions. `truncated` is set when it had to be.
    std::vector<int32_t> tokenize(std::string_view text, bool* truncated = nullptr) const;

    EmbedResult embed(std::span<const std::string> texts, const EmbedOptions& options,
                      const std::function<void(const EmbedProgress&)>& progress = {});

  private:
    Tokenizer tokenizer_;
    std::unique_ptr<Encoder> encoder_;
};

// Cosine similarity of two vectors of the same length (0 when either is zero).
double cosine_similarity(std::span<const float> a, std::span<const float> b);

// Scales v to unit L2 norm (left alone when it is zero).
void l2_normalize(std::span<float> v);

// Embeddings as text: one JSON object per line, {"index": i, "embedding": [...]}.
std::string embeddings_to_jsonl(std::span<const float> embeddings, int n_embd);
// Embeddings as a NumPy .npy file (format 1.0, little-endian float32, n x n_embd).
std::string embeddings_to_npy(std::span<const float> embeddings, int n_embd);

}  // namespace slim
