// `llama`: Llama 2/3, SmolLM, TinyLlama, Mistral-style models. Pre-norm
// (RMSNorm) blocks, grouped-query attention with RoPE in the normal (adjacent
// pairs) layout — llama.cpp's converter permutes Q and K for it — and a SwiGLU
// FFN. Llama 3 adds per-dimension RoPE frequency factors (`rope_freqs.weight`).
#include "model/blocks.h"
#include "model/registry.h"

namespace slim {

std::unique_ptr<Model> load_llama(const GgufFile& file, Backend& backend, int max_batch) {
    ModelConfig c;
    read_common_config(HparamReader(file, "llama"), c);
    c.rope.layout = RopeLayout::normal;
    if (const GgufTensorInfo* t = file.find_tensor("rope_freqs.weight")) {
        // Llama 3.1+ scales RoPE per dimension; the factors live in the file.
        WeightBinder w(file, backend);
        Tensor f = w.vector("rope_freqs.weight", c.rope.n_rot / 2);
        c.rope.freq_factors = std::span<const float>(f.f32(), size_t(t->ne[0]));
    }
    c.rope_local = c.rope;
    return make_decoder(file, backend, std::move(c), max_batch);
}

}  // namespace slim
