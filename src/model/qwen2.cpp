// `qwen2`: Qwen2 / Qwen2.5. The llama block structure with biases on the Q, K
// and V projections (bound automatically when present) and RoPE in the NeoX
// layout (rotating dimension i with i + n_rot/2).
#include "model/blocks.h"
#include "model/registry.h"

namespace slim {

std::unique_ptr<Model> load_qwen2(const GgufFile& file, Backend& backend, int max_batch) {
    ModelConfig c;
    read_common_config(HparamReader(file, "qwen2"), c);
    c.rope.layout = RopeLayout::neox;
    c.rope_local = c.rope;
    return make_decoder(file, backend, std::move(c), max_batch);
}

}  // namespace slim
