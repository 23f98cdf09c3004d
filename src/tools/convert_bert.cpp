// BERT -> GGUF as llama.cpp's convert_hf_to_gguf.py (BertModel) writes it:
// hyper-parameters, pooling from sentence-transformers' modules.json, the
// WordPiece vocabulary, and the tensors under gguf-py's names
// (tensor_mapping.py).
#include <fmt/format.h>

#include <map>
#include <set>

#include "format/error.h"
#include "tools/convert_internal.h"

namespace slim::convert_detail {

namespace {

struct BertParams {
    uint32_t n_vocab, n_embd, n_ff, n_layer, n_head, n_ctx, n_token_types;
    double norm_eps;
};

BertParams read_params(const JsonFields& c) {
    BertParams p;
    // Defaults are transformers' BertConfig's, for keys it lets a file omit.
    p.n_vocab = c.positive_u32("vocab_size");
    p.n_embd = c.positive_u32("hidden_size");
    p.n_ff = c.positive_u32("intermediate_size");
    p.n_layer = c.positive_u32("num_hidden_layers");
    p.n_head = c.positive_u32("num_attention_heads");
    p.n_ctx = c.positive_u32("max_position_embeddings");
    p.n_token_types = c.positive_u32("type_vocab_size", 2);
    p.norm_eps = c.positive_number("layer_norm_eps", 1e-12);
    if (p.n_embd % p.n_head != 0) {
        throw Error(ErrorKind::bad_value, c.file(), "num_attention_heads", {},
                    fmt::format("a divisor of hidden_size {}", p.n_embd), std::to_string(p.n_head));
    }
    // llama.cpp's BERT graph uses GELU and absolute positions only.
    const std::string act = c.string("hidden_act", "gelu");
    if (act != "gelu") {
        throw Error(ErrorKind::unsupported, c.file(), "hidden_act", {}, "\"gelu\"", act);
    }
    const std::string pos = c.string("position_embedding_type", "absolute");
    if (pos != "absolute") {
        throw Error(ErrorKind::unsupported, c.file(), "position_embedding_type", {}, "\"absolute\"",
                    pos);
    }
    return p;
}

// bert.pooling_type from the sentence-transformers Pooling module, as
// _try_set_pooling_type does (llama.cpp's LLAMA_POOLING_TYPE: 1 mean, 2 cls,
// 3 last). Without modules.json the key is left out.
std::optional<uint32_t> read_pooling(const std::filesystem::path& dir) {
    const std::filesystem::path modules_path = dir / "modules.json";
    if (!std::filesystem::exists(modules_path)) return std::nullopt;
    const nlohmann::json modules = read_json_file(modules_path);
    if (!modules.is_array()) {
        throw Error(ErrorKind::bad_type, modules_path.string(), "(root)", {}, "a list of modules",
                    modules.type_name());
    }
    std::optional<std::string> pooling_dir;
    for (size_t i = 0; i < modules.size(); ++i) {
        const nlohmann::json& m = modules[i];
        if (!m.is_object()) {
            throw Error(ErrorKind::bad_type, modules_path.string(), fmt::format("[{}]", i), {},
                        "an object", m.type_name());
        }
        const JsonFields f(m, modules_path.string());
        if (f.string("type", "") == "sentence_transformers.models.Pooling") {
            pooling_dir = f.string("path");
            break;
        }
    }
    if (!pooling_dir) return std::nullopt;
    const std::filesystem::path pooling_path = dir / *pooling_dir / "config.json";
    const nlohmann::json pooling = read_json_file(pooling_path);
    if (!pooling.is_object()) {
        throw Error(ErrorKind::bad_type, pooling_path.string(), "(root)", {}, "a JSON object",
                    pooling.type_name());
    }
    const JsonFields f(pooling, pooling_path.string());
    if (f.boolean("pooling_mode_mean_tokens", false)) return 1;
    if (f.boolean("pooling_mode_cls_token", false)) return 2;
    if (f.boolean("pooling_mode_lasttoken", false)) return 3;
    throw Error(ErrorKind::unsupported, pooling_path.string(), "pooling_mode_*", {},
                "mean tokens, CLS token or last token pooling", "another mode");
}

// HF name (after "bert." and .gamma/.beta are normalised) -> GGUF name;
// empty for tensors llama.cpp drops (the pooler and pre-training heads).
std::optional<std::string> gguf_name(const std::string& hf, uint32_t n_layer, bool& drop) {
    drop = hf == "embeddings.position_ids" || hf.starts_with("pooler.") ||
           hf.starts_with("cls.predictions") || hf.starts_with("cls.seq_relationship");
    if (drop) return std::nullopt;
    static const std::map<std::string, std::string, std::less<>> kTop = {
        {"embeddings.word_embeddings.weight", "token_embd.weight"},
        {"embeddings.position_embeddings.weight", "position_embd.weight"},
        {"embeddings.token_type_embeddings.weight", "token_types.weight"},
        {"embeddings.LayerNorm.weight", "token_embd_norm.weight"},
        {"embeddings.LayerNorm.bias", "token_embd_norm.bias"},
    };
    if (auto it = kTop.find(hf); it != kTop.end()) return it->second;
    static const std::map<std::string, std::string, std::less<>> kBlock = {
        {"attention.self.query", "attn_q"},
        {"attention.self.key", "attn_k"},
        {"attention.self.value", "attn_v"},
        {"attention.output.dense", "attn_output"},
        {"attention.output.LayerNorm", "attn_output_norm"},
        {"intermediate.dense", "ffn_up"},
        {"output.dense", "ffn_down"},
        {"output.LayerNorm", "layer_output_norm"},
    };
    constexpr std::string_view kLayer = "encoder.layer.";
    if (!hf.starts_with(kLayer)) return std::nullopt;
    const size_t dot = hf.find('.', kLayer.size());
    if (dot == std::string::npos) return std::nullopt;
    const std::string index = hf.substr(kLayer.size(), dot - kLayer.size());
    if (index.empty() || index.size() > 6 ||
        index.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    const uint32_t bid = uint32_t(std::stoul(index));
    if (bid >= n_layer) return std::nullopt;
    const std::string rest = hf.substr(dot + 1);
    const size_t last = rest.rfind('.');
    if (last == std::string::npos) return std::nullopt;
    const std::string suffix = rest.substr(last + 1);
    if (suffix != "weight" && suffix != "bias") return std::nullopt;
    auto it = kBlock.find(std::string_view(rest).substr(0, last));
    if (it == kBlock.end()) return std::nullopt;
    return fmt::format("blk.{}.{}.{}", bid, it->second, suffix);
}

// Shapes (outermost first, as safetensors stores them) of every GGUF tensor.
std::map<std::string, std::vector<int64_t>> expected_shapes(const BertParams& p) {
    std::map<std::string, std::vector<int64_t>> s;
    const int64_t e = p.n_embd, f = p.n_ff;
    s["token_embd.weight"] = {p.n_vocab, e};
    s["position_embd.weight"] = {p.n_ctx, e};
    s["token_types.weight"] = {p.n_token_types, e};
    s["token_embd_norm.weight"] = {e};
    s["token_embd_norm.bias"] = {e};
    for (uint32_t b = 0; b < p.n_layer; ++b) {
        auto add = [&](const char* name, std::vector<int64_t> w, int64_t bias) {
            s[fmt::format("blk.{}.{}.weight", b, name)] = std::move(w);
            s[fmt::format("blk.{}.{}.bias", b, name)] = {bias};
        };
        add("attn_q", {e, e}, e);
        add("attn_k", {e, e}, e);
        add("attn_v", {e, e}, e);
        add("attn_output", {e, e}, e);
        add("attn_output_norm", {e}, e);
        add("ffn_up", {f, e}, f);
        add("ffn_down", {e, f}, e);
        add("layer_output_norm", {e}, e);
    }
    return s;
}

}  // namespace

FamilyResult convert_bert(const std::filesystem::path& dir, const JsonFields& config,
                          const SafetensorsSet& weights, GgmlType requested, GgufBuilder& gguf) {
    const BertParams p = read_params(config);
    const std::optional<uint32_t> pooling = read_pooling(dir);

    // Checked against the weights before anything is sized by config.json,
    // so a wrong count there is an error, not an allocation.
    if (p.n_layer > weights.tensors().size()) {
        throw Error(ErrorKind::bad_value, config.file(), "num_hidden_layers", {},
                    fmt::format("at most {} (the weights' tensor count)", weights.tensors().size()),
                    std::to_string(p.n_layer));
    }
    FamilyResult out;
    out.architecture = "bert";
    std::map<std::string, std::vector<int64_t>> shapes = expected_shapes(p);
    std::set<std::string> seen;
    for (const SafetensorsTensor* t : weights.tensors()) {
        std::string hf = t->name;
        if (hf.starts_with("bert.")) hf = hf.substr(5);
        if (hf.ends_with(".gamma")) hf = hf.substr(0, hf.size() - 6) + ".weight";
        if (hf.ends_with(".beta")) hf = hf.substr(0, hf.size() - 5) + ".bias";
        bool drop = false;
        std::optional<std::string> name = gguf_name(hf, p.n_layer, drop);
        if (drop) continue;
        if (!name) {
            // convert_hf_to_gguf.py stops at a tensor it cannot map, too.
            throw Error(ErrorKind::unsupported, t->file(), t->name, t->header_offset,
                        "a BERT tensor name", t->name);
        }
        if (!seen.insert(*name).second) {
            throw Error(ErrorKind::duplicate, t->file(), t->name, t->header_offset,
                        fmt::format("one tensor for {}", *name), "two");
        }
        const std::vector<int64_t>& shape = shapes.at(*name);
        check_tensor(*t, shape);
        const GgmlType type = convert_tensor_type(*name, shape.size(), shape.back(), requested);
        out.tensors.push_back({*name, t, type});
    }
    for (const auto& [name, shape] : shapes) {
        if (!seen.count(name)) {
            const std::string file = weights.index_path().empty() ? weights.files().front().path()
                                                                  : weights.index_path();
            throw Error(ErrorKind::bad_value, file, name, {},
                        fmt::format("a tensor for {} (shape {})", name, fmt::join(shape, "x")),
                        "none");
        }
    }

    // Metadata once the tensors agree with config.json (the vocabulary's size
    // with token_embd's rows among them).
    // TextModel.set_gguf_parameters, then BertModel's, then set_vocab.
    gguf.add_u32("bert.block_count", p.n_layer);
    gguf.add_u32("bert.context_length", p.n_ctx);
    gguf.add_u32("bert.embedding_length", p.n_embd);
    gguf.add_u32("bert.feed_forward_length", p.n_ff);
    gguf.add_u32("bert.attention.head_count", p.n_head);
    gguf.add_f32("bert.attention.layer_norm_epsilon", float(p.norm_eps));
    gguf.add_u32("general.file_type", 0);  // the driver sets it
    gguf.add_bool("bert.attention.causal", false);
    if (pooling) gguf.add_u32("bert.pooling_type", *pooling);
    gguf.add_u32("tokenizer.ggml.token_type_count", p.n_token_types);
    add_wordpiece_vocab(dir, p.n_vocab, gguf);
    return out;
}

}  // namespace slim::convert_detail
