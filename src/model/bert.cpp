// BERT (and the sentence-transformers models built on it: MiniLM, BGE, ...),
// as Hugging Face's BertModel computes it, from the GGUF llama.cpp's
// converter and `slim convert` write:
//
//   x = LayerNorm(tok_embd[id] + position_embd[pos] + token_types[0])
//   per layer (post-norm):
//     x = LayerNorm(x + Wo·attn(Wq x + bq, Wk x + bk, Wv x + bv) + bo)
//     x = LayerNorm(x + Wdown·gelu(Wup x + bup) + bdown)
//
// with bidirectional attention within each sequence. Single-segment input
// (token type 0 for every token), as sentence-transformers encodes a sentence.
#include <fmt/format.h>

#include <cmath>

#include "format/error.h"
#include "model/blocks.h"
#include "model/encoder.h"

namespace slim {

namespace {

EncoderConfig read_bert_config(const GgufFile& file) {
    const HparamReader hp(file, "bert");
    EncoderConfig c;
    c.arch = "bert";
    c.n_ctx_train = hp.required_int("context_length");
    c.n_embd = hp.required_int("embedding_length");
    c.n_layer = hp.required_int("block_count");
    c.n_ff = hp.required_int("feed_forward_length");
    c.n_head = hp.required_int("attention.head_count");
    if (c.n_ctx_train <= 0 || c.n_embd <= 0 || c.n_layer <= 0 || c.n_ff <= 0 || c.n_head <= 0 ||
        c.n_embd % c.n_head != 0) {
        throw Error(ErrorKind::bad_value, file.path(), "bert.attention.head_count", std::nullopt,
                    "positive sizes with embedding_length a multiple of head_count",
                    fmt::format("n_ctx {}, n_embd {}, n_layer {}, n_ff {}, n_head {}",
                                c.n_ctx_train, c.n_embd, c.n_layer, c.n_ff, c.n_head));
    }
    c.head_dim = c.n_embd / c.n_head;
    c.norm_eps = hp.optional_float("attention.layer_norm_epsilon", 1e-12f);
    const int pooling = hp.optional_int("pooling_type", int(Pooling::mean));
    if (pooling < 0 || pooling > int(Pooling::last)) {
        throw Error(ErrorKind::unsupported, file.path(), "bert.pooling_type", std::nullopt,
                    "0 (none), 1 (mean), 2 (cls) or 3 (last)", std::to_string(pooling));
    }
    c.pooling = Pooling(pooling);
    if (std::optional<bool> causal = file.get_bool("bert.attention.causal"); causal && *causal) {
        throw Error(ErrorKind::unsupported, file.path(), "bert.attention.causal", std::nullopt,
                    "false (a bidirectional encoder)", "true");
    }
    const GgufArray* tokens = file.get_array("tokenizer.ggml.tokens", GgufType::string);
    if (!tokens || tokens->count == 0 || tokens->count > uint64_t(INT32_MAX)) {
        throw Error(ErrorKind::bad_value, file.path(), "tokenizer.ggml.tokens", std::nullopt,
                    "a vocabulary", "none");
    }
    c.n_vocab = int(tokens->count);
    // The token-type table's rows; the key, where present, must agree.
    const GgufTensorInfo* types = file.find_tensor("token_types.weight");
    c.n_token_types = types && types->n_dims == 2 ? int(types->ne[1]) : 0;
    std::optional<uint64_t> type_count = file.get_u64("tokenizer.ggml.token_type_count");
    if (c.n_token_types <= 0 || (type_count && *type_count != uint64_t(c.n_token_types))) {
        throw Error(ErrorKind::bad_value, file.path(), "tensor 'token_types.weight'.shape",
                    std::nullopt,
                    fmt::format("n_embd x {} token types (tokenizer.ggml.token_type_count)",
                                type_count ? std::to_string(*type_count) : "1 or more"),
                    c.n_token_types > 0 ? fmt::format("{} types", c.n_token_types) : "none");
    }
    return c;
}

class Bert final : public Encoder {
  public:
    Bert(const GgufFile& file, Backend& backend, EncoderConfig config)
        : Encoder(backend, std::move(config)) {
        const EncoderConfig& c = config_;
        const WeightBinder w(file, backend);
        const int64_t e = c.n_embd, f = c.n_ff;
        tok_embd_ = w.table("token_embd.weight", e, c.n_vocab);
        pos_embd_ = w.table("position_embd.weight", e, c.n_ctx_train);
        const Tensor types = w.table("token_types.weight", e, c.n_token_types);
        if (types.type != GgmlType::f32) {
            throw Error(ErrorKind::unsupported, file.path(), "tensor 'token_types.weight'.type",
                        std::nullopt, "F32", std::string(ggml_type_name(types.type)));
        }
        type0_ = Tensor{types.data, types.type, e, 1, types.row_bytes};
        embd_norm_ = {w.vector("token_embd_norm.weight", e), w.vector("token_embd_norm.bias", e)};
        for (int l = 0; l < c.n_layer; ++l) {
            const std::string p = fmt::format("blk.{}.", l);
            auto linear = [&](const char* name, int64_t n_in, int64_t n_out) {
                return Linear{w.matrix(p + name + ".weight", n_in, n_out),
                              w.vector(p + name + ".bias", n_out)};
            };
            auto norm = [&](const char* name) {
                return Norm{w.vector(p + name + ".weight", e), w.vector(p + name + ".bias", e)};
            };
            layers_.push_back(Layer{linear("attn_q", e, e), linear("attn_k", e, e),
                                    linear("attn_v", e, e), linear("attn_output", e, e),
                                    norm("attn_output_norm"), linear("ffn_up", e, f),
                                    linear("ffn_down", f, e), norm("layer_output_norm")});
        }
    }

    ~Bert() override { release(); }

  private:
    struct Linear {
        Tensor w, b;
    };
    struct Norm {
        Tensor w, b;
    };
    struct Layer {
        Linear q, k, v, o;
        Norm attn_norm;
        Linear up, down;
        Norm out_norm;
    };

    void linear(const Tensor& y, const Linear& l, const Tensor& x, int64_t n) {
        backend_.linear(y, l.w, &l.b, x, n);
    }
    void norm(const Tensor& x, const Norm& nm, int64_t n) {
        backend_.layer_norm(x, &nm.w, &nm.b, config_.norm_eps, n);
    }

    void forward(std::span<const int32_t> tokens, std::span<const int32_t> positions,
                 std::span<const int64_t> starts, const Tensor& x) override {
        const int64_t n = int64_t(tokens.size());
        reserve(n);
        Backend& be = backend_;
        be.get_rows(x, tok_embd_, tokens);
        be.get_rows(tmp_, pos_embd_, positions);
        be.add(x, x, tmp_, n);
        be.add_row(x, type0_, n);
        norm(x, embd_norm_, n);

        AttentionParams ap;
        ap.n_head = ap.n_head_kv = config_.n_head;
        ap.head_dim = config_.head_dim;
        ap.scale = 1.0f / std::sqrt(float(config_.head_dim));
        ap.causal = false;
        ap.seq_starts = starts;
        for (const Layer& L : layers_) {
            linear(q_, L.q, x, n);
            linear(k_, L.k, x, n);
            linear(v_, L.v, x, n);
            be.kv_store(k_cache_, v_cache_, k_, v_, slots_.subspan(0, size_t(n)));
            be.attention(attn_, q_, k_cache_, v_cache_, positions, positions, ap);
            linear(tmp_, L.o, attn_, n);
            be.add(x, x, tmp_, n);
            norm(x, L.attn_norm, n);
            linear(up_, L.up, x, n);
            if (config_.ffn_act == EncoderActivation::gelu_erf)
                be.gelu_erf(up_, n);
            else
                be.gelu(up_, n);
            linear(tmp_, L.down, up_, n);
            be.add(x, x, tmp_, n);
            norm(x, L.out_norm, n);
        }
    }

    // Activation buffers for n tokens, grown (never shrunk) to the largest batch.
    void reserve(int64_t n) {
        if (n <= capacity_) return;
        release();
        const int64_t e = config_.n_embd;
        Backend& be = backend_;
        tmp_ = be.alloc(GgmlType::f32, e, n);
        q_ = be.alloc(GgmlType::f32, e, n);
        k_ = be.alloc(GgmlType::f32, e, n);
        v_ = be.alloc(GgmlType::f32, e, n);
        attn_ = be.alloc(GgmlType::f32, e, n);
        up_ = be.alloc(GgmlType::f32, config_.n_ff, n);
        k_cache_ = be.alloc(GgmlType::f16, e, n);
        v_cache_ = be.alloc(GgmlType::f16, e, n);
        slot_ids_.resize(size_t(n));
        for (int64_t i = 0; i < n; ++i) slot_ids_[size_t(i)] = int32_t(i);
        slots_ = slot_ids_;
        capacity_ = n;
    }
    void release() {
        if (capacity_ == 0) return;
        for (const Tensor* t : {&tmp_, &q_, &k_, &v_, &attn_, &up_, &k_cache_, &v_cache_})
            backend_.free(*t);
        capacity_ = 0;
    }

    Tensor tok_embd_, pos_embd_, type0_;
    Norm embd_norm_;
    std::vector<Layer> layers_;

    int64_t capacity_ = 0;
    Tensor tmp_, q_, k_, v_, attn_, up_, k_cache_,
        v_cache_;  // k/v as F16 rows, as attention reads them
    std::vector<int32_t> slot_ids_;
    std::span<const int32_t> slots_;
};

}  // namespace

std::unique_ptr<Encoder> load_bert(const GgufFile& file, Backend& backend) {
    return std::make_unique<Bert>(file, backend, read_bert_config(file));
}

}  // namespace slim
