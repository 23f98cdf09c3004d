// The decoder every family configures: token embeddings (times
// config.embd_scale), then per layer
//   x += post_norm(Wo·attn(rms_norm(x))),  x += post_norm(ffn(rms_norm(x))),
// where the post norms exist only with config.post_norms (Gemma), then the
// output norm and projection (tied to the embedding when the file has no
// output.weight).
#include <fmt/format.h>

#include "model/blocks.h"

namespace slim {

namespace {

class Decoder final : public Model {
  public:
    Decoder(const GgufFile& file, Backend& backend, ModelConfig config, int max_batch)
        : Model(backend, std::move(config), max_batch),
          scratch_(backend, config_, max_batch),
          ends_(WeightBinder(file, backend), config_) {
        const ModelConfig& c = config_;
        WeightBinder w(file, backend);
        for (int l = 0; l < c.n_layer; ++l) {
            const std::string p = fmt::format("blk.{}.", l);
            Layer layer{w.vector(p + "attn_norm.weight", c.n_embd),
                        bind_attention(w, c, l),
                        w.vector(p + "ffn_norm.weight", c.n_embd),
                        bind_ffn(w, c, l),
                        {},
                        {}};
            if (c.post_norms) {
                layer.post_attn_norm = w.vector(p + "post_attention_norm.weight", c.n_embd);
                layer.post_ffn_norm = w.vector(p + "post_ffw_norm.weight", c.n_embd);
            }
            layers_.push_back(std::move(layer));
        }
    }

  private:
    struct Layer {
        Tensor attn_norm;
        AttentionWeights attn;
        Tensor ffn_norm;
        FfnWeights ffn;
        std::optional<Tensor> post_attn_norm, post_ffn_norm;  // with config.post_norms
    };

    void forward_batch(std::span<const int32_t> tokens, std::span<const int32_t> slots,
                       KvCache& cache, const Tensor& logits, int64_t first_logit_row) override {
        Scratch& s = scratch_;
        const BatchView batch = make_batch(tokens, slots, cache);
        const int64_t n = batch.n;

        const float eps = config_.norm_eps;

        backend_.get_rows(s.x, ends_.tok_embd, tokens);
        if (config_.embd_scale != 1.0f) backend_.scale(s.x, config_.embd_scale, n);
        for (size_t l = 0; l < layers_.size(); ++l) {
            const Layer& L = layers_[l];
            backend_.copy(s.h, s.x, n);
            backend_.rms_norm(s.h, &L.attn_norm, eps, n);
            attention_block(backend_, config_, L.attn, int(l), s, batch, cache);
            if (L.post_attn_norm) backend_.rms_norm(s.block_out, &*L.post_attn_norm, eps, n);
            backend_.add(s.x, s.x, s.block_out, n);
            backend_.copy(s.h, s.x, n);
            backend_.rms_norm(s.h, &L.ffn_norm, eps, n);
            ffn_block(backend_, config_, L.ffn, s, n);
            if (L.post_ffn_norm) backend_.rms_norm(s.block_out, &*L.post_ffn_norm, eps, n);
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

std::unique_ptr<Model> make_decoder(const GgufFile& file, Backend& backend, ModelConfig config,
                                    int max_batch) {
    return std::make_unique<Decoder>(file, backend, std::move(config), max_batch);
}

}  // namespace slim
