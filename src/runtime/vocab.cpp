#include "runtime/vocab.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>

#include "format/error.h"
#include "format/gguf.h"

namespace slim {

const char* vocab_type_name(VocabType type) {
    switch (type) {
        case VocabType::spm:
            return "SPM";
        case VocabType::bpe:
            return "BPE";
        case VocabType::wpm:
            return "WPM";
        case VocabType::ugm:
            return "UGM";
    }
    return "unknown";
}

namespace {

std::optional<uint64_t> kv_offset(const GgufFile& f, std::string_view key) {
    for (const GgufKv& kv : f.kvs()) {
        if (kv.key == key) return kv.file_offset;
    }
    return std::nullopt;
}

[[noreturn]] void fail(const GgufFile& f, ErrorKind kind, std::string_view key,
                       std::string expected, std::string found) {
    throw Error(kind, f.path(), std::string(key), kv_offset(f, key), std::move(expected),
                std::move(found));
}

// What llama.cpp changes for each tokenizer.ggml.pre name of a BPE vocabulary.
struct PreSpec {
    const char* name;
    PreType type;
    bool keep_clean_spaces = true;  // false: no clean-up of spaces on detokenize
    bool ignore_merges = false;
    bool add_bos = false;
    bool add_sep = false;
    bool no_bos = false;  // the default BOS id does not apply
    bool escape_whitespaces = false;
};

constexpr PreSpec kPreSpecs[] = {
    {"default", PreType::pre_default},
    {"minicpm5", PreType::pre_minicpm5, true, true},
    {"llama3", PreType::pre_llama3, true, true, true},
    {"llama-v3", PreType::pre_llama3, true, true, true},
    {"llama-bpe", PreType::pre_llama3, true, true, true},
    {"falcon3", PreType::pre_llama3, true, true, true},
    {"falcon-h1", PreType::pre_llama3, true, true, true},
    {"pixtral", PreType::pre_llama3, true, true, true},
    {"midm-2.0", PreType::pre_llama3, true, true, true},
    {"lfm2", PreType::pre_llama3, true, true, true},
    {"jina-v5-nano", PreType::pre_llama3, true, true, true},
    {"deepseek-llm", PreType::pre_deepseek_llm, false},
    {"deepseek-coder", PreType::pre_deepseek_coder, false},
    {"deepseek-v3", PreType::pre_deepseek3_llm, false},
    {"spark2_5", PreType::pre_spark2_5, false},
    {"falcon", PreType::pre_falcon},
    {"mpt", PreType::pre_gpt2},
    {"starcoder", PreType::pre_starcoder},
    {"gpt-2", PreType::pre_gpt2},
    {"phi-2", PreType::pre_gpt2},
    {"jina-es", PreType::pre_gpt2},
    {"jina-de", PreType::pre_gpt2},
    {"gigachat", PreType::pre_gpt2},
    {"jina-v2-es", PreType::pre_gpt2},
    {"jina-v2-de", PreType::pre_gpt2},
    {"a.x-4.0", PreType::pre_gpt2},
    {"mellum", PreType::pre_gpt2},
    {"modern-bert", PreType::pre_gpt2},
    {"jais-2", PreType::pre_jais2},
    {"gemma4", PreType::pre_gemma4, true, false, false, false, false, true},
    {"granite-embed-multi-311m", PreType::pre_gemma4, true, false, false, false, false, true},
    {"sarvam-moe", PreType::pre_sarvam_moe, false, false, false, false, false, true},
    {"jina-v1-en", PreType::pre_gpt2, true, false, false, true},
    {"jina-v2-code", PreType::pre_gpt2, true, false, false, true},
    {"roberta-bpe", PreType::pre_gpt2, true, false, false, true},
    {"refact", PreType::pre_starcoder},
    {"command-r", PreType::pre_starcoder, false},
    {"qwen2", PreType::pre_qwen2, false},
    {"deepseek-r1-qwen", PreType::pre_qwen2, false},
    {"kormo", PreType::pre_qwen2, false},
    {"f2llmv2", PreType::pre_qwen2, false},
    {"qwen35", PreType::pre_qwen35, false},
    {"stablelm2", PreType::pre_qwen2},
    {"olmo", PreType::pre_gpt2},
    {"dbrx", PreType::pre_llama3},
    {"smaug-bpe", PreType::pre_llama3},
    {"poro-chat", PreType::pre_bloom, false},
    {"chatglm-bpe", PreType::pre_llama3, true, false, false, false, true},
    {"glm4", PreType::pre_llama3, true, true, false, false, true},
    {"glm5", PreType::pre_llama3, true, true, false, false, true},
    {"viking", PreType::pre_viking, false},
    {"jais", PreType::pre_gpt2},
    {"tekken", PreType::pre_tekken, false, true, true},
    {"smollm", PreType::pre_starcoder, false},
    {"codeshell", PreType::pre_starcoder},
    {"bloom", PreType::pre_bloom},
    {"gpt3-finnish", PreType::pre_bloom},
    {"exaone", PreType::pre_starcoder},
    {"exaone4", PreType::pre_gpt2},
    {"exaone-moe", PreType::pre_exaone_moe},
    {"chameleon", PreType::pre_chameleon, false, false, true},
    {"minerva-7b", PreType::pre_starcoder},
    {"megrez", PreType::pre_qwen2},
    {"gpt-4o", PreType::pre_gpt4o, false},
    {"llama4", PreType::pre_gpt4o, false},
    {"kanana2", PreType::pre_gpt4o, false},
    {"talkie", PreType::pre_gpt4o, false},
    {"granite-embed-multi-97m", PreType::pre_granite_emb_multi, false, true},
    {"superbpe", PreType::pre_superbpe, false},
    {"trillion", PreType::pre_gpt2, false},
    {"granite-docling", PreType::pre_gpt2, false},
    {"bailingmoe", PreType::pre_bailingmoe, false},
    {"bailingmoe2", PreType::pre_bailingmoe, false},
    {"llada-moe", PreType::pre_bailingmoe, false},
    {"seed-coder", PreType::pre_seed_coder, false},
    {"hunyuan", PreType::pre_qwen2, false},
    {"hunyuan-dense", PreType::pre_deepseek3_llm, false},
    {"hy_v4", PreType::pre_deepseek3_llm, false},
    {"joyai-llm", PreType::pre_deepseek3_llm, false},
    {"ufakzeka", PreType::pre_ufakzeka, false},
    {"grok-2", PreType::pre_qwen2, false},
    {"laguna", PreType::pre_laguna, false},
    {"minimax-m2", PreType::pre_gpt4o, false},
    {"solar-open", PreType::pre_qwen2, false},
    {"mellum2", PreType::pre_starcoder},
};

// Texts llama.cpp treats as end of generation (and therefore as control tokens).
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
};
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",         "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",    "<EOT>",      "_<EOT>",  "[EOT]",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
};
constexpr std::string_view kFimPreTexts[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",    "<｜fim▁begin｜>",
    "<PRE>",          "▁<PRE>",       "<|code_prefix|>", "<|prefix|>",
};
constexpr std::string_view kFimSufTexts[] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",    "<｜fim▁hole｜>",
    "<SUF>",          "▁<SUF>",       "<|code_suffix|>", "<|suffix|>",
};
constexpr std::string_view kFimMidTexts[] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>",    "<｜fim▁end｜>",
    "<MID>",          "▁<MID>",       "<|code_middle|>", "<|middle|>",
};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};

template <size_t N>
bool contains(const std::string_view (&list)[N], std::string_view s) {
    return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

}  // namespace

bool Vocab::is_eog(TokenId id) const {
    return id != kTokenNull && std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

Vocab Vocab::load(const GgufFile& f) {
    Vocab v;
    v.file_ = f.path();
    v.read_model(f);
    v.read_tokens(f);
    v.read_special(f);
    v.fix_attributes(f);
    return v;
}

void Vocab::read_model(const GgufFile& f) {
    constexpr std::string_view kModelKey = "tokenizer.ggml.model";
    auto model = f.get_string(kModelKey);
    if (!model) {
        fail(f, ErrorKind::bad_value, kModelKey, "a tokenizer model name", "no such key");
    }
    model_name_ = std::string(*model);
    pre_name_ = std::string(f.get_string("tokenizer.ggml.pre").value_or(""));

    // Defaults per model, as llama.cpp sets them before reading the file's keys.
    SpecialTokens& s = special_;
    if (model_name_ == "llama") {
        type_ = VocabType::spm;
        s.bos = 1, s.eos = 2, s.unk = 0;
        flags_.add_space_prefix = true;
        flags_.add_bos = true;
    } else if (model_name_ == "bert") {
        type_ = VocabType::wpm;
        s.bos = 101, s.unk = 100, s.sep = 102, s.pad = 0, s.mask = 103;
        flags_.add_bos = true;
        flags_.add_sep = true;
        flags_.clean_spaces = true;
    } else if (model_name_ == "gpt2") {
        type_ = VocabType::bpe;
        s.bos = 11, s.eos = 11;
    } else if (model_name_ == "t5") {
        type_ = VocabType::ugm;
        s.eos = 1, s.unk = 2, s.pad = 0;
        flags_.add_eos = true;
    } else if (model_name_ == "gemma4") {
        // BPE over SentencePiece-style text: spaces as U+2581, <0xNN> byte fallback.
        type_ = VocabType::bpe;
        pre_name_ = "gemma4";
    } else {
        fail(f, ErrorKind::unsupported, kModelKey,
             "a supported tokenizer model (llama, gpt2, gemma4, bert, t5)",
             "\"" + model_name_ + "\"");
    }

    if (type_ == VocabType::bpe) {
        flags_.escape_whitespaces = false;
        flags_.clean_spaces = true;
        std::string_view name = pre_name_.empty() ? std::string_view("default") : pre_name_;
        const PreSpec* spec = nullptr;
        for (const PreSpec& p : kPreSpecs) {
            if (name == p.name) spec = &p;
        }
        if (!spec) {
            fail(f, ErrorKind::unsupported, "tokenizer.ggml.pre", "a known pre-tokenizer name",
                 "\"" + pre_name_ + "\"");
        }
        pre_type_ = spec->type;
        if (!spec->keep_clean_spaces) flags_.clean_spaces = false;
        if (spec->ignore_merges) flags_.ignore_merges = true;
        if (spec->add_bos) flags_.add_bos = true;
        if (spec->add_sep) flags_.add_sep = true;
        if (spec->no_bos) s.bos = kTokenNull;
        if (spec->escape_whitespaces) flags_.escape_whitespaces = true;
        flags_.byte_encode =
            pre_type_ != PreType::pre_gemma4 && pre_type_ != PreType::pre_sarvam_moe;

        constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";
        const GgufArray* merges = f.get_array(kMergesKey, GgufType::string);
        if (!merges) {
            fail(f, ErrorKind::bad_value, kMergesKey, "the BPE merges (an array of strings)",
                 "no such key");
        }
        size_t total = 0;
        for (std::string_view m : merges->strings) total += m.size();
        merge_texts_.reserve(total);
        merges_.reserve(merges->strings.size());
        for (std::string_view m : merges->strings) {
            // "left right", split at the first space after the first byte.
            size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
            MergeRef ref{uint32_t(merge_texts_.size()), 0, 0};
            if (sp != std::string_view::npos) {
                ref.left_len = uint32_t(sp);
                ref.right_len = uint32_t(m.size() - sp - 1);
                merge_texts_.append(m.substr(0, sp));
                merge_texts_.append(m.substr(sp + 1));
            }
            merges_.push_back(ref);
        }
    }
    if (auto v = f.get_bool("tokenizer.ggml.add_space_prefix")) flags_.add_space_prefix = *v;
    if (auto v = f.get_bool("tokenizer.ggml.remove_extra_whitespaces")) {
        flags_.remove_extra_whitespaces = *v;
    }

    if (type_ == VocabType::ugm) {
        constexpr std::string_view kCharsmapKey = "tokenizer.ggml.precompiled_charsmap";
        if (const GgufValue* val = f.find(kCharsmapKey)) {
            const GgufArray* a = val->as_array();
            if (!a || (a->elem_type != GgufType::u8 && a->elem_type != GgufType::i8)) {
                fail(f, ErrorKind::bad_type, kCharsmapKey, "an array of u8", "another type");
            }
            charsmap_.assign(reinterpret_cast<const char*>(a->scalars), a->count);
            // A u32 blob size, the XCDA blob, then the replacement strings.
            uint32_t blob = 0;
            if (charsmap_.size() >= 4) std::memcpy(&blob, charsmap_.data(), 4);
            if (charsmap_.size() < 4 || uint64_t(blob) + 4 >= charsmap_.size()) {
                fail(f, ErrorKind::out_of_range, kCharsmapKey,
                     "a u32 blob size smaller than the charsmap",
                     fmt::format("{} bytes in all", charsmap_.size()));
            }
        }
    }
}

void Vocab::read_tokens(const GgufFile& f) {
    constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
    const GgufArray* tokens = f.get_array(kTokensKey, GgufType::string);
    if (!tokens || tokens->strings.empty()) {
        fail(f, ErrorKind::bad_value, kTokensKey, "a non-empty array of token texts",
             tokens ? "an empty array" : "no such key");
    }
    size_t n = tokens->strings.size();
    if (n >= size_t(INT32_MAX)) {
        fail(f, ErrorKind::too_large, kTokensKey, "fewer than 2^31 tokens", std::to_string(n));
    }

    constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
    if (const GgufValue* val = f.find(kScoresKey)) {
        const GgufArray* a = val->as_array();
        if (!a || (a->elem_type != GgufType::f32 && a->elem_type != GgufType::i32)) {
            fail(f, ErrorKind::bad_type, kScoresKey, "an array of f32 (or i32)",
                 a ? std::string("an array of ") + gguf_type_name(a->elem_type)
                   : gguf_type_name(val->type()));
        }
        if (a->count != n) {
            fail(f, ErrorKind::bad_value, kScoresKey, fmt::format("{} scores, one per token", n),
                 std::to_string(a->count));
        }
        scores_.resize(n);
        for (size_t i = 0; i < n; ++i) {
            scores_[i] =
                a->elem_type == GgufType::f32 ? a->raw_at<float>(i) : float(a->raw_at<int32_t>(i));
        }
    }

    constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";
    const GgufArray* types = f.get_array(kTypesKey, GgufType::i32);
    if (types && types->count != n) {
        fail(f, ErrorKind::bad_value, kTypesKey, fmt::format("{} token types, one per token", n),
             std::to_string(types->count));
    }

    size_t total = 0;
    for (std::string_view t : tokens->strings) total += t.empty() ? 16 : t.size();
    texts_.reserve(total);
    offsets_.reserve(n + 1);
    attrs_.assign(n, token_attr::normal);
    token_ids_.reserve(n);
    offsets_.push_back(0);
    for (size_t i = 0; i < n; ++i) {
        std::string_view t = tokens->strings[i];
        if (t.empty()) {
            texts_ += fmt::format("[EMPTY_{}]", i);  // what llama.cpp substitutes
        } else {
            texts_.append(t);
        }
        offsets_.push_back(uint32_t(texts_.size()));
        if (types) {
            switch (types->raw_at<int32_t>(i)) {
                case 1:
                    attrs_[i] = token_attr::normal;
                    break;
                case 2:
                    attrs_[i] = token_attr::unknown;
                    break;
                case 3:
                    attrs_[i] = token_attr::control;
                    break;
                case 4:
                    attrs_[i] = token_attr::user_defined;
                    break;
                case 5:
                    attrs_[i] = token_attr::unused;
                    break;
                case 6:
                    attrs_[i] = token_attr::byte;
                    break;
                default:
                    attrs_[i] = token_attr::undefined;
                    break;
            }
        }
    }
    if (texts_.size() > UINT32_MAX) {
        fail(f, ErrorKind::too_large, kTokensKey, "token texts under 4 GiB in all",
             std::to_string(texts_.size()));
    }
    for (size_t i = 0; i < n; ++i) {
        std::string_view t = text(TokenId(i));
        token_ids_.assign(t, TokenId(i));
        max_token_len_ = std::max(max_token_len_, t.size());
    }
    static const char* kHex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
        byte_tokens_[b] = find(std::string_view(name, 6));
    }
}

void Vocab::read_special(const GgufFile& f) {
    const TokenId n = TokenId(n_tokens());
    SpecialTokens& s = special_;
    const std::pair<std::string_view, TokenId*> keys[] = {
        {"tokenizer.ggml.bos_token_id", &s.bos},
        {"tokenizer.ggml.eos_token_id", &s.eos},
        {"tokenizer.ggml.eot_token_id", &s.eot},
        {"tokenizer.ggml.eom_token_id", &s.eom},
        {"tokenizer.ggml.unknown_token_id", &s.unk},
        {"tokenizer.ggml.seperator_token_id", &s.sep},
        {"tokenizer.ggml.padding_token_id", &s.pad},
        {"tokenizer.ggml.mask_token_id", &s.mask},
        {"tokenizer.ggml.fim_pre_token_id", &s.fim_pre},
        {"tokenizer.ggml.fim_suf_token_id", &s.fim_suf},
        {"tokenizer.ggml.fim_mid_token_id", &s.fim_mid},
        {"tokenizer.ggml.fim_pad_token_id", &s.fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &s.fim_rep},
        {"tokenizer.ggml.fim_sep_token_id", &s.fim_sep},
        {"tokenizer.ggml.prefix_token_id", &s.fim_pre},
        {"tokenizer.ggml.suffix_token_id", &s.fim_suf},
        {"tokenizer.ggml.middle_token_id", &s.fim_mid},
    };
    for (auto [key, id] : keys) {
        // A default that does not fit this vocabulary is dropped, as llama.cpp does.
        if (*id >= n) *id = kTokenNull;
        const GgufValue* val = f.find(key);
        if (!val) continue;
        auto v = val->as_i64();
        if (!v)
            fail(f, ErrorKind::bad_type, key, "an integer token id", gguf_type_name(val->type()));
        if (*v < 0 || *v >= n) {
            fail(f, ErrorKind::out_of_range, key, fmt::format("a token id below {}", n),
                 std::to_string(*v));
        }
        *id = TokenId(*v);
    }
    if (auto v = f.get_bool("tokenizer.ggml.add_bos_token")) flags_.add_bos = *v;
    if (auto v = f.get_bool("tokenizer.ggml.add_eos_token")) flags_.add_eos = *v;
    if (auto v = f.get_bool("tokenizer.ggml.add_sep_token")) flags_.add_sep = *v;
    if (pre_type_ == PreType::pre_gemma4) flags_.add_bos = true;  // llama.cpp's Gemma 4 override
    if (type_ == VocabType::wpm &&
        (s.bos == kTokenNull || s.sep == kTokenNull || s.unk == kTokenNull)) {
        fail(f, ErrorKind::bad_value, "tokenizer.ggml.seperator_token_id",
             "CLS, SEP and UNK token ids for a WordPiece vocabulary", "none");
    }
    if (type_ == VocabType::ugm && s.unk == kTokenNull) {
        fail(f, ErrorKind::bad_value, "tokenizer.ggml.unknown_token_id",
             "an UNK token id for a Unigram vocabulary", "none");
    }
    if (auto v = f.get_bool("tokenizer.ggml.normalizer.lowercase")) flags_.lowercase = *v;
    flags_.strip_accents = flags_.lowercase;
    if (auto v = f.get_bool("tokenizer.ggml.normalizer.strip_accents")) flags_.strip_accents = *v;
    if (type_ == VocabType::wpm) {
        constexpr std::string_view kHfKey = "tokenizer.ggml.wordpiece.hf_normalizer";
        if (const GgufValue* val = f.find(kHfKey)) {
            auto v = val->as_bool();
            if (!v) fail(f, ErrorKind::bad_type, kHfKey, "a bool", gguf_type_name(val->type()));
            flags_.hf_normalizer = *v;
        }
        constexpr std::string_view kMaxKey = "tokenizer.ggml.wordpiece.max_input_chars_per_word";
        if (const GgufValue* val = f.find(kMaxKey)) {
            auto v = val->as_i64();
            if (!v) {
                fail(f, ErrorKind::bad_type, kMaxKey, "an integer", gguf_type_name(val->type()));
            }
            if (*v < 0 || *v > INT32_MAX) {
                fail(f, ErrorKind::out_of_range, kMaxKey, "a character count from 0 (no limit)",
                     std::to_string(*v));
            }
            flags_.max_word_chars = uint32_t(*v);
        }
    }
}

// llama.cpp recognises end-of-turn, FIM and unused tokens by their text and
// adjusts their attributes; which tokens count as special in text depends on
// it, so slim repeats the same steps in the same order.
void Vocab::fix_attributes(const GgufFile& f) {
    const TokenId n = TokenId(n_tokens());
    SpecialTokens& s = special_;
    auto mark_control = [&](TokenId id) { attrs_[id] |= token_attr::control; };
    // Every text llama.cpp looks for starts with one of these bytes; a
    // repeated text counts once, under its last id (llama.cpp's map).
    std::vector<TokenId> candidates;
    for (TokenId id = 0; id < n; ++id) {
        char c = text(id)[0];
        if ((c == '<' || c == '[' || c == '_' || c == '\xE2') && find(text(id)) == id) {
            candidates.push_back(id);
        }
    }
    for (TokenId id : candidates) {
        std::string_view t = text(id);
        auto detect = [&](TokenId& slot, const auto& list) {
            if (slot == kTokenNull && contains(list, t)) {
                slot = id;
                mark_control(id);
            }
        };
        detect(s.eot, kEotTexts);
        if (s.eom == kTokenNull && t == "<|eom_id|>") {
            s.eom = id;
            mark_control(id);
        }
        detect(s.fim_pre, kFimPreTexts);
        detect(s.fim_suf, kFimSufTexts);
        detect(s.fim_mid, kFimMidTexts);
        detect(s.fim_pad, kFimPadTexts);
        detect(s.fim_rep, kFimRepTexts);
        detect(s.fim_sep, kFimSepTexts);
    }
    for (TokenId id = 0; id < n; ++id) {
        if ((attrs_[id] & token_attr::control) &&
            text(id).find("unused") != std::string_view::npos) {
            attrs_[id] |= token_attr::unused;
        }
    }

    std::vector<TokenId> eog;
    for (TokenId id : {s.fim_pad, s.fim_rep, s.fim_sep}) {
        if (id != kTokenNull) eog.push_back(id);
    }
    for (TokenId id : candidates) {
        if (contains(kEogTexts, text(id))) {
            eog.push_back(id);
            mark_control(id);
        }
    }
    for (TokenId id : candidates) {
        std::string_view t = text(id);
        if (t == "<|channel|>" || t == "<|message|>" || t == "<|start|>" || t == "<|constrain|>") {
            attrs_[id] = token_attr::user_defined;  // gpt-oss: always rendered
        }
    }
    for (TokenId id : {s.eos, s.eot, s.eom}) {
        if (id != kTokenNull) eog.push_back(id);
    }
    std::sort(eog.begin(), eog.end());
    eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

    // o200k_harmony / solar-open: <|end|> ends a message, not generation.
    auto eog_with = [&](std::string_view t) {
        for (TokenId id : eog) {
            if (text(id) == t) return id;
        }
        return kTokenNull;
    };
    TokenId end_id = eog_with("<|end|>");
    bool has_call = eog_with("<|call|>") != kTokenNull || eog_with("<|calls|>") != kTokenNull;
    if (end_id != kTokenNull && has_call &&
        (eog_with("<|return|>") != kTokenNull || eog_with("<|flush|>") != kTokenNull)) {
        eog.erase(std::find(eog.begin(), eog.end(), end_id));
        attrs_[end_id] = token_attr::user_defined;
    }
    // Gemma 4 and PLaMo use </s> as an ordinary token.
    TokenId s_id = eog_with("</s>");
    if (s_id != kTokenNull &&
        (eog_with("<|tool_response>") != kTokenNull || eog_with("<|plamo:eos|>") != kTokenNull)) {
        eog.erase(std::find(eog.begin(), eog.end(), s_id));
        attrs_[s_id] = token_attr::normal;
    }
    eog_ids_ = std::move(eog);

    // Longest text first; std::sort over ascending ids, as llama.cpp orders
    // them, so that equal lengths tie the same way.
    for (TokenId id = 0; id < n; ++id) {
        if (attrs_[id] & (token_attr::control | token_attr::user_defined | token_attr::unknown)) {
            special_tokens_.push_back(id);
        }
    }
    std::sort(special_tokens_.begin(), special_tokens_.end(),
              [&](TokenId a, TokenId b) { return text(a).size() > text(b).size(); });

    // Per-model strip flags llama.cpp sets by model, pre-tokenizer or architecture name.
    std::string name(f.get_string("general.name").value_or(""));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return char(std::tolower(uint8_t(c))); });
    std::string_view arch = f.get_string("general.architecture").value_or("");
    std::string_view pre = f.get_string("tokenizer.ggml.pre").value_or("");
    auto has = [](std::string_view hay, std::string_view sub) {
        return hay.find(sub) != std::string_view::npos;
    };
    auto set_attr = [&](std::string_view t, uint32_t a, bool on) {
        TokenId id = find(t);
        if (id == kTokenNull) return;
        attrs_[id] = on ? (attrs_[id] | a) : (attrs_[id] & ~a);
    };
    if (has(pre, "jina-v2-de") || has(pre, "jina-v2-es") || has(pre, "jina-v2-code") ||
        has(arch, "nomic-bert-moe") || has(arch, "jina-bert-v3")) {
        set_attr("<mask>", token_attr::lstrip, true);
    } else if (has(name, "phi-3") || has(name, "phi3")) {
        for (TokenId id : special_tokens_) attrs_[id] |= token_attr::rstrip;
        set_attr("</s>", token_attr::rstrip, true);
        for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) {
            set_attr(t, token_attr::rstrip, false);
        }
    } else if (has(name, "modern-bert")) {
        set_attr("[MASK]", token_attr::lstrip, true);
    }
}

}  // namespace slim
