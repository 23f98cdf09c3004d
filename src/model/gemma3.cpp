// `gemma3`: Gemma 3. Differences from llama:
// - token embeddings scaled by sqrt(n_embd); output tied to the embedding;
// - RMSNorm of Q and K per head (QK-norm) before RoPE (NeoX layout);
// - norms after attention and after the FFN too, before each residual add;
// - GeGLU FFN (tanh-approximated GELU);
// - five sliding-window layers (window from the file, RoPE base 10000) for
//   every global layer (RoPE base and scaling from the file), as llama.cpp's
//   gemma3 sets them: layer l is global when (l + 1) % 6 == 0.
// The converter already stores Gemma's (1 + w) norm weights as w.
#include <cmath>

#include "model/blocks.h"
#include "model/registry.h"

namespace slim {

namespace {

constexpr int kSwaPattern = 6;
constexpr float kLocalRopeBase = 10000.0f;

}  // namespace

std::unique_ptr<Model> load_gemma3(const GgufFile& file, Backend& backend, int max_batch) {
    ModelConfig c;
    HparamReader hp(file, "gemma3");
    read_common_config(hp, c);
    c.embd_scale = std::sqrt(float(c.n_embd));
    c.ffn_act = FfnActivation::gelu_tanh;
    c.attn_scale = 1.0f / std::sqrt(float(c.head_dim));
    c.attn_scale_q = true;
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
    c.qk_norm = true;
    c.post_norms = true;
    return make_decoder(file, backend, std::move(c), max_batch);
}

}  // namespace slim
