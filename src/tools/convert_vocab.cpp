// The WordPiece vocabulary of a Hugging Face folder as GGUF tokenizer keys,
// as convert_hf_to_gguf.py writes them (get_vocab_base, BertModel.set_vocab,
// gguf.SpecialVocab), plus slim's two keys that make its tokenizer follow HF
// exactly (tools/reference/make_minilm_vocab.py explains them).
#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>

#include "format/error.h"
#include "tools/convert_internal.h"

namespace slim::convert_detail {

namespace {

// gguf.TokenType
constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

struct WordPieceVocab {
    std::vector<std::string> tokens;  // by id, as HF spells them ("##ing")
    std::vector<int32_t> types;
    std::map<std::string, int32_t, std::less<>> added;  // added token text -> id
    uint32_t max_input_chars_per_word = 100;
    // The post-processor's template: [first] $A [last], and what a pair puts
    // between A and B.
    std::optional<int32_t> first, last;
    std::optional<int32_t> pair_middle;
    bool has_pair = false;
};

[[noreturn]] void fail_tok(const std::filesystem::path& p, const std::string& field,
                           const std::string& expected, const std::string& found,
                           ErrorKind kind = ErrorKind::bad_value) {
    throw Error(kind, p.string(), field, {}, expected, found);
}

// The id of a post-processor special token: special_tokens[name].ids[0].
std::optional<int32_t> template_token(const nlohmann::json& step, const nlohmann::json& specials) {
    if (!step.is_object() || !step.contains("SpecialToken")) return std::nullopt;
    const nlohmann::json& st = step["SpecialToken"];
    if (!st.is_object() || !st.contains("id") || !st["id"].is_string()) return std::nullopt;
    const std::string name = st["id"].get<std::string>();
    if (!specials.is_object() || !specials.contains(name)) return std::nullopt;
    const nlohmann::json& ids = specials[name].value("ids", nlohmann::json());
    if (!ids.is_array() || ids.empty() || !ids[0].is_number_integer()) return std::nullopt;
    return ids[0].get<int32_t>();
}

void read_template(const nlohmann::json& pp, WordPieceVocab& v) {
    if (!pp.is_object() || pp.value("type", "") != "TemplateProcessing") return;
    const nlohmann::json specials = pp.value("special_tokens", nlohmann::json::object());
    const nlohmann::json single = pp.value("single", nlohmann::json::array());
    if (!single.is_array() || single.empty()) return;
    v.first = template_token(single.front(), specials);
    if (single.size() > 1) v.last = template_token(single.back(), specials);
    const nlohmann::json pair = pp.value("pair", nlohmann::json::array());
    if (!pair.is_array()) return;
    // A pair template [first] A [middle...] B [last]: the first step between
    // the two sequences, as SpecialVocab reads it.
    size_t a = pair.size();
    for (size_t i = 0; i < pair.size(); ++i) {
        if (pair[i].is_object() && pair[i].contains("Sequence")) {
            a = i;
            break;
        }
    }
    if (a + 1 < pair.size() && !(pair[a + 1].is_object() && pair[a + 1].contains("Sequence"))) {
        v.has_pair = true;
        v.pair_middle = template_token(pair[a + 1], specials);
    }
}

WordPieceVocab read_tokenizer_json(const std::filesystem::path& path, uint32_t n_vocab) {
    const nlohmann::json tj = read_json_file(path);
    WordPieceVocab v;
    const nlohmann::json model = tj.value("model", nlohmann::json());
    if (!model.is_object()) fail_tok(path, "model", "a tokenizer model object", "none");
    const std::string type = model.value("type", "");
    if (type != "WordPiece") {
        fail_tok(path, "model.type", "\"WordPiece\" (BERT's tokenizer)", type,
                 ErrorKind::unsupported);
    }
    if (model.value("continuing_subword_prefix", "##") != "##") {
        fail_tok(path, "model.continuing_subword_prefix", "\"##\"",
                 model["continuing_subword_prefix"].dump(), ErrorKind::unsupported);
    }
    const nlohmann::json norm = tj.value("normalizer", nlohmann::json());
    if (norm.is_object() && norm.value("type", "") == "BertNormalizer" &&
        !norm.value("lowercase", true)) {
        // llama.cpp's WordPiece always lowercases; a cased model would
        // tokenize differently there.
        fail_tok(path, "normalizer.lowercase", "true (llama.cpp's WordPiece lowercases)", "false",
                 ErrorKind::unsupported);
    }
    const nlohmann::json mic = model.value("max_input_chars_per_word", nlohmann::json(100));
    if (!mic.is_number_unsigned()) {
        fail_tok(path, "model.max_input_chars_per_word", "a count", mic.dump(),
                 ErrorKind::bad_type);
    }
    v.max_input_chars_per_word = mic.get<uint32_t>();

    const nlohmann::json vocab = model.value("vocab", nlohmann::json());
    if (!vocab.is_object())
        fail_tok(path, "model.vocab", "an object of token -> id", vocab.type_name());
    v.tokens.assign(n_vocab, std::string());
    std::vector<bool> have(n_vocab, false);
    for (const auto& [tok, id] : vocab.items()) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0) {
            fail_tok(path, "model.vocab[" + tok + "]", "a token id", id.dump());
        }
        const int64_t i = id.get<int64_t>();
        if (i >= int64_t(n_vocab)) {
            fail_tok(path, "model.vocab[" + tok + "]",
                     fmt::format("an id below config.json's vocab_size {}", n_vocab),
                     std::to_string(i), ErrorKind::out_of_range);
        }
        v.tokens[size_t(i)] = tok;
        have[size_t(i)] = true;
    }
    std::map<int32_t, bool> added_special;
    const nlohmann::json added = tj.value("added_tokens", nlohmann::json::array());
    for (const nlohmann::json& a : added) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
            !a.contains("content") || !a["content"].is_string()) {
            fail_tok(path, "added_tokens", "objects with id and content", a.dump());
        }
        const int64_t i = a["id"].get<int64_t>();
        if (i < 0 || i >= int64_t(n_vocab)) continue;  // gguf-py drops ids beyond n_vocab
        added_special[int32_t(i)] = a.value("special", false);
        v.added[a["content"].get<std::string>()] = int32_t(i);
        if (!have[size_t(i)]) {
            v.tokens[size_t(i)] = a["content"].get<std::string>();
            have[size_t(i)] = true;
        }
    }
    v.types.assign(n_vocab, kNormal);
    for (uint32_t i = 0; i < n_vocab; ++i) {
        if (!have[i]) {
            v.tokens[i] = fmt::format("[PAD{}]", i);
            v.types[i] = kUnused;
        } else if (auto it = added_special.find(int32_t(i)); it != added_special.end()) {
            v.types[i] = it->second ? kControl : kUserDefined;
        }
    }
    read_template(tj.value("post_processor", nlohmann::json()), v);
    return v;
}

// vocab.txt: one token a line, ids in line order. The special tokens are the
// ones tokenizer_config.json / special_tokens_map.json name; the template is
// BERT's [CLS] $A [SEP].
WordPieceVocab read_vocab_txt(const std::filesystem::path& path, uint32_t n_vocab,
                              const std::vector<std::string>& specials) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_tok(path, "(file)", "tokenizer.json or vocab.txt", "neither", ErrorKind::io);
    WordPieceVocab v;
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    if (lines.size() > n_vocab) {
        fail_tok(path, "(lines)", fmt::format("at most vocab_size {} tokens", n_vocab),
                 std::to_string(lines.size()), ErrorKind::out_of_range);
    }
    v.tokens.resize(n_vocab);
    v.types.assign(n_vocab, kNormal);
    for (uint32_t i = 0; i < n_vocab; ++i) {
        if (i < lines.size()) {
            v.tokens[i] = lines[i];
        } else {
            v.tokens[i] = fmt::format("[PAD{}]", i);
            v.types[i] = kUnused;
        }
    }
    for (const std::string& s : specials) {
        for (uint32_t i = 0; i < lines.size(); ++i) {
            if (lines[i] == s) {
                v.types[i] = kControl;
                v.added[s] = int32_t(i);
            }
        }
    }
    auto id_of = [&](const char* s) -> std::optional<int32_t> {
        auto it = v.added.find(s);
        return it == v.added.end() ? std::nullopt : std::optional<int32_t>(it->second);
    };
    v.first = id_of("[CLS]");
    v.last = id_of("[SEP]");
    v.has_pair = v.last.has_value();
    v.pair_middle = v.last;
    return v;
}

// tokenizer_config.json's `<kind>_token` (a string or {"content": ...}),
// falling back to special_tokens_map.json.
std::optional<std::string> special_text(const nlohmann::json& config, const nlohmann::json& map,
                                        const std::string& kind) {
    for (const nlohmann::json* j : {&config, &map}) {
        if (!j->is_object() || !j->contains(kind + "_token")) continue;
        const nlohmann::json& e = (*j)[kind + "_token"];
        if (e.is_string()) return e.get<std::string>();
        if (e.is_object() && e.contains("content") && e["content"].is_string()) {
            return e["content"].get<std::string>();
        }
    }
    return std::nullopt;
}

nlohmann::json optional_json(const std::filesystem::path& p) {
    return std::filesystem::exists(p) ? read_json_file(p) : nlohmann::json::object();
}

}  // namespace

void add_wordpiece_vocab(const std::filesystem::path& dir, uint32_t n_vocab, GgufBuilder& gguf) {
    const nlohmann::json tok_config = optional_json(dir / "tokenizer_config.json");
    const nlohmann::json special_map = optional_json(dir / "special_tokens_map.json");
    static const char* const kKinds[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};

    WordPieceVocab v;
    if (std::filesystem::exists(dir / "tokenizer.json")) {
        v = read_tokenizer_json(dir / "tokenizer.json", n_vocab);
    } else {
        std::vector<std::string> specials;
        for (const char* k : kKinds) {
            if (auto s = special_text(tok_config, special_map, k)) specials.push_back(*s);
        }
        v = read_vocab_txt(dir / "vocab.txt", n_vocab, specials);
    }

    // SpecialVocab: the template's first and last tokens are BOS and EOS and
    // are added; then each kind named in the configs, first setting wins.
    std::map<std::string, int32_t> ids;
    if (v.first) ids["bos"] = *v.first;
    if (v.last) ids["eos"] = *v.last;
    for (const char* k : kKinds) {
        if (ids.count(k)) continue;
        if (auto s = special_text(tok_config, special_map, k)) {
            if (auto it = v.added.find(*s); it != v.added.end()) ids[k] = it->second;
        }
    }

    // The phantom space: "##x" -> "x", any other non-control "x" -> "▁x".
    std::vector<std::string> tokens = v.tokens;
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (v.types[i] == kControl) continue;
        if (tokens[i].starts_with("##")) {
            tokens[i] = tokens[i].substr(2);
        } else {
            tokens[i] = "\u2581" + tokens[i];
        }
    }
    gguf.add_string("tokenizer.ggml.model", "bert");
    // convert_hf_to_gguf.py picks "pre" by hashing HF's tokenization of a
    // check text; for BERT's uncased WordPiece (MiniLM, bge) that is
    // "bert-bge". llama.cpp and slim ignore it for WordPiece vocabularies.
    gguf.add_string("tokenizer.ggml.pre", "bert-bge");
    gguf.add_strings("tokenizer.ggml.tokens", tokens);
    gguf.add_i32s("tokenizer.ggml.token_type", v.types);
    // gguf 0.19 has no CLS key: llama.cpp uses BOS.
    static const std::pair<const char*, const char*> kKeys[] = {
        {"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
        {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
        {"pad", "tokenizer.ggml.padding_token_id"}, {"mask", "tokenizer.ggml.mask_token_id"},
    };
    for (const auto& [kind, key] : kKeys) {
        if (auto it = ids.find(kind); it != ids.end()) gguf.add_u32(key, uint32_t(it->second));
    }
    if (v.first) gguf.add_bool("tokenizer.ggml.add_bos_token", true);
    if (v.last) gguf.add_bool("tokenizer.ggml.add_eos_token", true);
    if (v.has_pair) {
        // A separator between the pair's sequences is "added" only when the
        // single template does not already end with it.
        const bool add_sep = v.pair_middle && !v.last &&
                             (v.pair_middle == (ids.count("sep") ? ids["sep"] : -1) ||
                              v.pair_middle == (ids.count("eos") ? ids["eos"] : -1));
        gguf.add_bool("tokenizer.ggml.add_sep_token", add_sep);
    }
    gguf.add_bool("tokenizer.ggml.wordpiece.hf_normalizer", true);
    gguf.add_u32("tokenizer.ggml.wordpiece.max_input_chars_per_word", v.max_input_chars_per_word);
}

}  // namespace slim::convert_detail
