// A tokenizer vocabulary as a GGUF stores it (the tokenizer.ggml.* keys):
// token texts, scores and types, the special token ids and the flags that
// steer tokenization, validated and resolved the way llama.cpp resolves them
// (its defaults per tokenizer model, its per-pre-tokenizer settings and its
// fix-ups of token attributes), so that slim's ids equal llama.cpp's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/flat_map.h"

namespace slim {

class GgufFile;

using TokenId = int32_t;
inline constexpr TokenId kTokenNull = -1;

// tokenizer.ggml.model: llama -> spm, gpt2 and gemma4 -> bpe, bert -> wpm, t5 -> ugm.
enum class VocabType { spm, bpe, wpm, ugm };

const char* vocab_type_name(VocabType type);

// Pre-tokenizer families (tokenizer.ggml.pre), each one set of split rules.
enum class PreType {
    pre_default,
    pre_llama3,
    pre_jais2,
    pre_deepseek_llm,
    pre_deepseek3_llm,
    pre_spark2_5,
    pre_deepseek_coder,
    pre_falcon,
    pre_starcoder,
    pre_gpt2,
    pre_qwen2,
    pre_qwen35,
    pre_bloom,
    pre_viking,
    pre_tekken,
    pre_chameleon,
    pre_gpt4o,
    pre_granite_emb_multi,
    pre_superbpe,
    pre_bailingmoe,
    pre_seed_coder,
    pre_ufakzeka,
    pre_laguna,
    pre_exaone_moe,
    pre_minicpm5,
    pre_gemma4,
    pre_sarvam_moe,
};

// Token attributes, one bit each (llama.cpp's llama_token_attr).
namespace token_attr {
inline constexpr uint32_t undefined = 0;
inline constexpr uint32_t unknown = 1u << 0;
inline constexpr uint32_t unused = 1u << 1;
inline constexpr uint32_t normal = 1u << 2;
inline constexpr uint32_t control = 1u << 3;
inline constexpr uint32_t user_defined = 1u << 4;
inline constexpr uint32_t byte = 1u << 5;
inline constexpr uint32_t lstrip = 1u << 7;
inline constexpr uint32_t rstrip = 1u << 8;
}  // namespace token_attr

struct SpecialTokens {
    TokenId bos = kTokenNull;
    TokenId eos = kTokenNull;
    TokenId eot = kTokenNull;
    TokenId eom = kTokenNull;
    TokenId unk = kTokenNull;
    TokenId sep = kTokenNull;
    TokenId pad = kTokenNull;
    TokenId mask = kTokenNull;
    TokenId fim_pre = kTokenNull;
    TokenId fim_suf = kTokenNull;
    TokenId fim_mid = kTokenNull;
    TokenId fim_pad = kTokenNull;
    TokenId fim_rep = kTokenNull;
    TokenId fim_sep = kTokenNull;
};

// How text becomes tokens, beyond the token list.
struct VocabFlags {
    bool add_bos = false;
    bool add_eos = false;
    bool add_sep = false;
    bool add_space_prefix = false;          // SPM/UGM: a space before the text
    bool remove_extra_whitespaces = false;  // UGM
    bool escape_whitespaces = true;         // spaces become U+2581
    bool treat_whitespace_as_suffix = false;
    bool clean_spaces = false;   // detokenize: " ," -> "," and the like
    bool ignore_merges = false;  // BPE: a word that is a token is not merged
    bool byte_encode = true;     // BPE: GPT-2's byte-to-character map
    bool lowercase = true;       // WordPiece normaliser
    bool strip_accents = true;   // WordPiece normaliser
    // WordPiece as Hugging Face `tokenizers` runs it rather than llama.cpp
    // (see tokenizer_wpm.cpp). llama.cpp's converter writes neither key, so
    // its files tokenize as llama.cpp does.
    bool hf_normalizer = false;   // tokenizer.ggml.wordpiece.hf_normalizer
    uint32_t max_word_chars = 0;  // tokenizer.ggml.wordpiece.max_input_chars_per_word; 0: none
};

class Vocab {
  public:
    // Reads and validates the tokenizer.ggml.* keys. Throws Error naming the
    // file and key on anything missing, mistyped or out of range.
    static Vocab load(const GgufFile& file);

    const std::string& file() const { return file_; }
    VocabType type() const { return type_; }
    PreType pre_type() const { return pre_type_; }
    const std::string& model_name() const { return model_name_; }  // tokenizer.ggml.model
    const std::string& pre_name() const { return pre_name_; }      // after llama.cpp's defaults

    uint32_t n_tokens() const { return uint32_t(offsets_.size() - 1); }
    std::string_view text(TokenId id) const {
        return std::string_view(texts_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
    }
    float score(TokenId id) const { return scores_.empty() ? 0.0f : scores_[id]; }
    uint32_t attr(TokenId id) const { return attrs_[id]; }
    bool is_valid(TokenId id) const { return id >= 0 && uint32_t(id) < n_tokens(); }
    // The id whose text is exactly `text` (the last one when texts repeat), or kTokenNull.
    TokenId find(std::string_view text) const { return token_ids_.find(text); }
    size_t max_token_len() const { return max_token_len_; }

    const SpecialTokens& special() const { return special_; }
    const VocabFlags& flags() const { return flags_; }
    // Ends generation: EOS, EOT, EOM and the end-of-turn tokens llama.cpp recognises.
    bool is_eog(TokenId id) const;
    const std::vector<TokenId>& eog_ids() const { return eog_ids_; }

    // Control, user-defined and unknown tokens, longest text first: the ones
    // that are cut out of the text before the model sees it.
    const std::vector<TokenId>& special_tokens() const { return special_tokens_; }

    // Byte tokens <0xNN> of SPM-style vocabularies (kTokenNull where absent).
    TokenId byte_token(uint8_t byte) const { return byte_tokens_[byte]; }

    // tokenizer.ggml.merges in rank order (BPE only): merge i joins
    // merge(i).first and merge(i).second. Lines without a separating space
    // come back as two empty strings, which never match.
    size_t n_merges() const { return merges_.size(); }
    std::pair<std::string_view, std::string_view> merge(size_t i) const {
        const MergeRef& m = merges_[i];
        std::string_view all(merge_texts_);
        return {all.substr(m.offset, m.left_len), all.substr(m.offset + m.left_len, m.right_len)};
    }
    // tokenizer.ggml.precompiled_charsmap (UGM only; may be empty).
    const std::string& precompiled_charsmap() const { return charsmap_; }

  private:
    Vocab() = default;
    void read_model(const GgufFile& f);
    void read_tokens(const GgufFile& f);
    void read_special(const GgufFile& f);
    void fix_attributes(const GgufFile& f);

    std::string file_;
    VocabType type_ = VocabType::spm;
    PreType pre_type_ = PreType::pre_default;
    std::string model_name_;
    std::string pre_name_;

    std::string texts_;              // all token texts, back to back
    std::vector<uint32_t> offsets_;  // n_tokens + 1 offsets into texts_
    std::vector<float> scores_;
    std::vector<uint32_t> attrs_;
    StringIdMap token_ids_;
    size_t max_token_len_ = 0;

    SpecialTokens special_;
    VocabFlags flags_;
    std::vector<TokenId> eog_ids_;
    std::vector<TokenId> special_tokens_;
    TokenId byte_tokens_[256];

    struct MergeRef {
        uint32_t offset;
        uint32_t left_len;
        uint32_t right_len;
    };
    std::string merge_texts_;  // left and right halves, back to back
    std::vector<MergeRef> merges_;
    std::string charsmap_;
};

}  // namespace slim
