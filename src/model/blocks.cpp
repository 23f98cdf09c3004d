#include "model/blocks.h"

#include <fmt/format.h>

#include <cmath>

#include "format/error.h"

namespace slim {

int HparamReader::required_int(const std::string& key) const {
    std::optional<uint64_t> v = file_.get_u64(full(key));
    if (!v)
        throw Error(ErrorKind::bad_value, file_.path(), full(key), std::nullopt, "a value",
                    "none (key missing)");
    if (*v > uint64_t(INT32_MAX)) {
        throw Error(ErrorKind::too_large, file_.path(), full(key), std::nullopt,
                    "a value below 2^31", std::to_string(*v));
    }
    return int(*v);
}

int HparamReader::optional_int(const std::string& key, int fallback) const {
    return file_.find(full(key)) ? required_int(key) : fallback;
}

float HparamReader::optional_float(const std::string& key, float fallback) const {
    std::optional<double> v = file_.get_f64(full(key));
    return v ? float(*v) : fallback;
}

std::optional<std::string> HparamReader::optional_string(const std::string& key) const {
    std::optional<std::string_view> v = file_.get_string(full(key));
    return v ? std::optional<std::string>(*v) : std::nullopt;
}

void read_common_config(const HparamReader& hp, ModelConfig& c) {
    c.arch = hp.arch();
    c.n_ctx_train = hp.required_int("context_length");
    c.n_embd = hp.required_int("embedding_length");
    c.n_layer = hp.required_int("block_count");
    c.n_ff = hp.required_int("feed_forward_length");
    c.n_head = hp.required_int("attention.head_count");
    c.n_head_kv = hp.optional_int("attention.head_count_kv", c.n_head);
    const std::string& path = hp.file().path();
    if (c.n_embd <= 0 || c.n_layer <= 0 || c.n_ff <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 ||
        c.n_head % c.n_head_kv != 0) {
        throw Error(ErrorKind::bad_value, path, c.arch + ".attention.head_count_kv", std::nullopt,
                    "positive sizes with head_count a multiple of head_count_kv",
                    fmt::format("n_embd {}, n_layer {}, n_ff {}, n_head {}, n_head_kv {}", c.n_embd,
                                c.n_layer, c.n_ff, c.n_head, c.n_head_kv));
    }
    c.head_dim = hp.optional_int("attention.key_length", c.n_embd / c.n_head);
    int value_length = hp.optional_int("attention.value_length", c.head_dim);
    if (value_length != c.head_dim || c.head_dim <= 0 || c.head_dim % 2 != 0) {
        throw Error(ErrorKind::unsupported, path, c.arch + ".attention.value_length", std::nullopt,
                    fmt::format("an even key length equal to the value length ({})", c.head_dim),
                    std::to_string(value_length));
    }
    c.norm_eps = hp.optional_float("attention.layer_norm_rms_epsilon", 1e-5f);

    const GgufArray* tokens = hp.file().get_array("tokenizer.ggml.tokens", GgufType::string);
    c.n_vocab = hp.optional_int("vocab_size", tokens ? int(tokens->count) : 0);
    if (c.n_vocab <= 0) {
        throw Error(ErrorKind::bad_value, path, "tokenizer.ggml.tokens", std::nullopt,
                    "a vocabulary", "none");
    }

    RopeParams& r = c.rope;
    r.n_rot = hp.optional_int("rope.dimension_count", c.head_dim);
    if (r.n_rot <= 0 || r.n_rot > c.head_dim || r.n_rot % 2 != 0) {
        throw Error(ErrorKind::bad_value, path, c.arch + ".rope.dimension_count", std::nullopt,
                    fmt::format("an even count up to the head size {}", c.head_dim),
                    std::to_string(r.n_rot));
    }
    r.freq_base = hp.optional_float("rope.freq_base", 10000.0f);
    std::string scaling = hp.optional_string("rope.scaling.type").value_or("none");
    float factor = hp.optional_float("rope.scaling.factor", 0.0f);
    if (scaling == "linear" || scaling == "yarn") {
        if (factor > 0) r.freq_scale = 1.0f / factor;
    } else if (scaling != "none") {
        throw Error(ErrorKind::unsupported, path, c.arch + ".rope.scaling.type", std::nullopt,
                    "none, linear or yarn", scaling);
    }
    r.n_ctx_orig = hp.optional_int("rope.scaling.original_context_length", c.n_ctx_train);
    if (scaling == "yarn") {
        r.ext_factor = 1.0f;
        r.attn_factor = hp.optional_float("rope.scaling.attn_factor", 1.0f);
        r.beta_fast = hp.optional_float("rope.scaling.yarn_beta_fast", 32.0f);
        r.beta_slow = hp.optional_float("rope.scaling.yarn_beta_slow", 1.0f);
    }
    c.rope_local = c.rope;
    c.layer_swa.assign(size_t(c.n_layer), false);
}

Tensor WeightBinder::bind(const GgufTensorInfo& t, int64_t n_in, int64_t n_out, bool is_vector,
                          WeightUse use) const {
    const bool shape_ok = is_vector ? (t.n_dims == 1 && t.ne[0] == n_in)
                                    : (t.n_dims == 2 && t.ne[0] == n_in && t.ne[1] == n_out);
    if (!shape_ok) {
        std::string found;
        for (uint32_t d = 0; d < t.n_dims; ++d) found += (d ? " x " : "") + std::to_string(t.ne[d]);
        throw Error(ErrorKind::bad_value, file_.path(), fmt::format("tensor '{}'.shape", t.name),
                    std::nullopt,
                    is_vector ? std::to_string(n_in) : fmt::format("{} x {}", n_in, n_out), found);
    }
    if (is_vector && t.type != GgmlType::f32) {
        throw Error(ErrorKind::unsupported, file_.path(), fmt::format("tensor '{}'.type", t.name),
                    std::nullopt, "F32 for a norm or bias vector",
                    std::string(ggml_type_name(t.type)));
    }
    try {
        return backend_.weight(
            t.type, t.ne[0], is_vector ? 1 : t.ne[1], file_.tensor_data(t).data(),
            file_.mapped() ? WeightBytes::file_mapping : WeightBytes::caller, use);
    } catch (const Error& e) {
        throw Error(e.kind(), file_.path(), fmt::format("tensor '{}'.type", t.name), std::nullopt,
                    e.expected(), e.found());
    }
}

namespace {

[[noreturn]] void throw_missing(const std::string& file, const std::string& name) {
    throw Error(ErrorKind::bad_value, file, fmt::format("tensor '{}'", name), std::nullopt,
                "the tensor in the file", "none (missing)");
}

}  // namespace

Tensor WeightBinder::matrix(const std::string& name, int64_t n_in, int64_t n_out) const {
    const GgufTensorInfo* t = file_.find_tensor(name);
    if (!t) throw_missing(file_.path(), name);
    return bind(*t, n_in, n_out, false);
}

Tensor WeightBinder::table(const std::string& name, int64_t n_in, int64_t n_out) const {
    const GgufTensorInfo* t = file_.find_tensor(name);
    if (!t) throw_missing(file_.path(), name);
    return bind(*t, n_in, n_out, false, WeightUse::lookup);
}

Tensor WeightBinder::vector(const std::string& name, int64_t n) const {
    const GgufTensorInfo* t = file_.find_tensor(name);
    if (!t) throw_missing(file_.path(), name);
    return bind(*t, n, 1, true);
}

std::optional<Tensor> WeightBinder::optional_matrix(const std::string& name, int64_t n_in,
                                                    int64_t n_out) const {
    const GgufTensorInfo* t = file_.find_tensor(name);
    if (!t) return std::nullopt;
    return bind(*t, n_in, n_out, false);
}

std::optional<Tensor> WeightBinder::optional_vector(const std::string& name, int64_t n) const {
    const GgufTensorInfo* t = file_.find_tensor(name);
    if (!t) return std::nullopt;
    return bind(*t, n, 1, true);
}

AttentionWeights bind_attention(const WeightBinder& w, const ModelConfig& c, int layer) {
    const std::string p = fmt::format("blk.{}.", layer);
    const int64_t q_dim = int64_t(c.n_head) * c.head_dim,
                  kv_dim = int64_t(c.n_head_kv) * c.head_dim;
    AttentionWeights a{w.matrix(p + "attn_q.weight", c.n_embd, q_dim),
                       w.matrix(p + "attn_k.weight", c.n_embd, kv_dim),
                       w.matrix(p + "attn_v.weight", c.n_embd, kv_dim),
                       w.matrix(p + "attn_output.weight", q_dim, c.n_embd),
                       {},
                       {},
                       {},
                       {},
                       {}};
    a.bq = w.optional_vector(p + "attn_q.bias", q_dim);
    a.bk = w.optional_vector(p + "attn_k.bias", kv_dim);
    a.bv = w.optional_vector(p + "attn_v.bias", kv_dim);
    if (c.qk_norm) {
        a.q_norm = w.vector(p + "attn_q_norm.weight", c.head_dim);
        a.k_norm = w.vector(p + "attn_k_norm.weight", c.head_dim);
    }
    return a;
}

FfnWeights bind_ffn(const WeightBinder& w, const ModelConfig& c, int layer) {
    const std::string p = fmt::format("blk.{}.", layer);
    return FfnWeights{w.matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff),
                      w.matrix(p + "ffn_up.weight", c.n_embd, c.n_ff),
                      w.matrix(p + "ffn_down.weight", c.n_ff, c.n_embd)};
}

BatchView make_batch(std::span<const int32_t> tokens, std::span<const int32_t> slots,
                     const KvCache& cache) {
    BatchView batch{int64_t(tokens.size()), slots, {}};
    batch.positions.reserve(slots.size());
    for (int32_t slot : slots) batch.positions.push_back(cache.positions()[size_t(slot)]);
    return batch;
}

DecoderEnds::DecoderEnds(const WeightBinder& w, const ModelConfig& c)
    : tok_embd(w.has("output.weight") ? w.table("token_embd.weight", c.n_embd, c.n_vocab)
                                      : w.matrix("token_embd.weight", c.n_embd, c.n_vocab)),
      output_norm(w.vector("output_norm.weight", c.n_embd)),
      output(w.optional_matrix("output.weight", c.n_embd, c.n_vocab).value_or(tok_embd)) {}

Scratch::Scratch(Backend& be, const ModelConfig& c, int max_batch)
    : x(be.alloc(GgmlType::f32, c.n_embd, max_batch)),
      h(be.alloc(GgmlType::f32, c.n_embd, max_batch)),
      q(be.alloc(GgmlType::f32, int64_t(c.n_head) * c.head_dim, max_batch)),
      k(be.alloc(GgmlType::f32, int64_t(c.n_head_kv) * c.head_dim, max_batch)),
      v(be.alloc(GgmlType::f32, int64_t(c.n_head_kv) * c.head_dim, max_batch)),
      attn(be.alloc(GgmlType::f32, int64_t(c.n_head) * c.head_dim, max_batch)),
      block_out(be.alloc(GgmlType::f32, c.n_embd, max_batch)),
      gate(be.alloc(GgmlType::f32, c.n_ff, max_batch)),
      up(be.alloc(GgmlType::f32, c.n_ff, max_batch)) {}

void attention_block(Backend& be, const ModelConfig& c, const AttentionWeights& w, int layer,
                     Scratch& s, const BatchView& batch, KvCache& cache) {
    const int64_t n = batch.n;
    be.matmul(s.q, w.wq, s.h, n);
    be.matmul(s.k, w.wk, s.h, n);
    be.matmul(s.v, w.wv, s.h, n);
    if (w.bq) be.add_row(s.q, *w.bq, n);
    if (w.bk) be.add_row(s.k, *w.bk, n);
    if (w.bv) be.add_row(s.v, *w.bv, n);
    if (w.q_norm) be.rms_norm_groups(s.q, *w.q_norm, c.head_dim, c.norm_eps, n);
    if (w.k_norm) be.rms_norm_groups(s.k, *w.k_norm, c.head_dim, c.norm_eps, n);

    const bool swa = c.layer_swa[size_t(layer)];
    const RopeParams& rope = swa ? c.rope_local : c.rope;
    be.rope(s.q, c.n_head, c.head_dim, batch.positions, rope);
    be.rope(s.k, c.n_head_kv, c.head_dim, batch.positions, rope);
    be.kv_store(cache.k(layer), cache.v(layer), s.k, s.v, batch.slots);

    AttentionParams ap;
    ap.n_head = c.n_head;
    ap.n_head_kv = c.n_head_kv;
    ap.head_dim = c.head_dim;
    ap.scale = c.attn_scale > 0 ? c.attn_scale : 1.0f / std::sqrt(float(c.head_dim));
    if (c.attn_scale_q) {
        be.scale(s.q, ap.scale, n);
        ap.scale = 1.0f;
    }
    ap.softcap = c.attn_softcap;
    ap.sliding_window = swa ? c.sliding_window : 0;
    be.attention(s.attn, s.q, cache.k(layer), cache.v(layer), batch.positions, cache.positions(),
                 ap);
    be.matmul(s.block_out, w.wo, s.attn, n);
}

void ffn_block(Backend& be, const ModelConfig& c, const FfnWeights& w, Scratch& s, int64_t n) {
    be.matmul(s.gate, w.gate, s.h, n);
    be.matmul(s.up, w.up, s.h, n);
    if (c.ffn_act == FfnActivation::silu) {
        be.swiglu(s.gate, s.up, n);
    } else {
        be.geglu(s.gate, s.up, n);
    }
    be.matmul(s.block_out, w.down, s.gate, n);
}

void output_block(Backend& be, const ModelConfig& c, const Tensor& norm, const Tensor& output,
                  Scratch& s, int64_t n, int64_t first, const Tensor& logits) {
    Tensor rows = s.x.rows_from(first);
    be.rms_norm(rows, &norm, c.norm_eps, n - first);
    be.matmul(logits, output, rows, n - first);
    if (c.final_softcap > 0) be.softcap(logits, c.final_softcap, n - first);
}

}  // namespace slim
