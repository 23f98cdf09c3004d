// `gemma3`: Gemma 3. Differences from the plain pre-norm decoder:
// - token embeddings scaled by sqrt(n_embd); output tied to the embedding;
// - RMSNorm of Q and K per head (QK-norm) before RoPE (NeoX layout);
// - norms after attention and after the FFN too, before each residual add;
// - GeGLU FFN (tanh-approximated GELU);
// - five sliding-window layers (window from the file, RoPE base 10000) for
//   every global layer (RoPE base and scaling from the file), as llama.cpp's
//   gemma3 sets them: layer l is global when (l + 1) % 6 == 0.
// The converter already stores Gemma's (1 + w) norm weights as w.
#include <fmt/format.h>

#include <cmath>

#include "model/blocks.h"
#include "model/registry.h"

namespace slim {

namespace {

constexpr int kSwaPattern = 6;
constexpr float kLocalRopeBase = 10000.0f;

class Gemma3Model final : public Model {
  public:
    Gemma3Model(const GgufFile& file, Backend& backend, ModelConfig config, int max_batch)
        : Model(backend, std::move(config), max_batch),
          scratch_(backend, config_, max_batch),
          ends_(WeightBinder(file, backend), config_) {
        const ModelConfig& c = config_;
        WeightBinder w(file, backend);
        for (int l = 0; l < c.n_layer; ++l) {
            const std::string p = fmt::format("blk.{}.", l);
            layers_.push_back(Layer{w.vector(p + "attn_norm.weight", c.n_embd),
                                    bind_attention(w, c, l),
                                    w.vector(p + "post_attention_norm.weight", c.n_embd),
                                    w.vector(p + "ffn_norm.weight", c.n_embd), bind_ffn(w, c, l),
                                    w.vector(p + "post_ffw_norm.weight", c.n_embd)});
            if (!layers_.back().attn.q_norm || !layers_.back().attn.k_norm) {
                w.vector(
                    p + (layers_.back().attn.q_norm ? "attn_k_norm.weight" : "attn_q_norm.weight"),
                    c.head_dim);
            }
        }
    }

  private:
    struct Layer {
        Tensor attn_norm;
        AttentionWeights attn;
        Tensor post_attn_norm;
        Tensor ffn_norm;
        FfnWeights ffn;
        Tensor post_ffn_norm;
    };

    void forward_batch(std::span<const int32_t> tokens, std::span<const int32_t> slots,
                       KvCache& cache, const Tensor& logits, int64_t first_logit_row) override {
        Scratch& s = scratch_;
        const BatchView batch = make_batch(tokens, slots, cache);
        const int64_t n = batch.n;
        const float eps = config_.norm_eps;

        backend_.get_rows(s.x, ends_.tok_embd, tokens);
        backend_.scale(s.x, config_.embd_scale, n);
        for (size_t l = 0; l < layers_.size(); ++l) {
            const Layer& L = layers_[l];
            backend_.copy(s.h, s.x, n);
            backend_.rms_norm(s.h, &L.attn_norm, eps, n);
            attention_block(backend_, config_, L.attn, int(l), s, batch, cache);
            backend_.rms_norm(s.block_out, &L.post_attn_norm, eps, n);
            backend_.add(s.x, s.x, s.block_out, n);
            backend_.copy(s.h, s.x, n);
            backend_.rms_norm(s.h, &L.ffn_norm, eps, n);
            ffn_block(backend_, config_, L.ffn, s, n);
            backend_.rms_norm(s.block_out, &L.post_ffn_norm, eps, n);
            backend_.add(s.x, s.x, s.block_out, n);
        }
        if (first_logit_row < n)
            output_block(backend_, config_, ends_.output_norm, ends_.output, s, n, first_logit_row,
                         logits);
    }

    Scratch scratch_;
    DecoderEnds ends_;
    std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> load_gemma3(const GgufFile& file, Backend& backend, int max_batch) {
    ModelConfig c;
    HparamReader hp(file, "gemma3");
    read_common_config(hp, c);
    c.embd_scale = std::sqrt(float(c.n_embd));
    c.ffn_act = FfnActivation::gelu_tanh;
    c.attn_scale = 1.0f / std::sqrt(float(c.head_dim));
    c.rope.layout = RopeLayout::neox;
    c.rope_local = c.rope;
    c.rope_local.freq_base = hp.optional_float("rope.freq_base_swa", kLocalRopeBase);
    c.rope_local.freq_scale = 1.0f;
    c.rope_local.ext_factor = 0;
    c.sliding_window = hp.optional_int("attention.sliding_window", 0);
    const int pattern = hp.optional_int("attention.sliding_window_pattern", kSwaPattern);
    for (int l = 0; l < c.n_layer; ++l) {
        c.layer_swa[size_t(l)] =
            c.sliding_window > 0 && (pattern == 0 || l % pattern < pattern - 1);
    }
    c.final_softcap = hp.optional_float("final_logit_softcapping", 0.0f);
    return std::make_unique<Gemma3Model>(file, backend, std::move(c), max_batch);
}

}  // namespace slim
