// The four tokenizer models behind Tokenizer (internal to src/runtime/).
//
// Each turns one fragment of raw text (what is left between special tokens)
// into ids and appends them to `out`. They are built once from a Vocab, keep
// no state between calls, and may be used from several threads at once.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/flat_map.h"
#include "runtime/pretokenize.h"
#include "runtime/vocab.h"

namespace slim {

// Encodes each piece of `text` with encode(piece, out), merging each distinct
// piece only once per call: words repeat a lot in real text. Pieces over 64
// bytes are encoded directly (rare, and not worth keeping).
template <class EncodePiece>
void encode_pieces_cached(std::string_view text, const std::vector<TextSpan>& pieces,
                          std::vector<TokenId>& out, EncodePiece&& encode) {
    StringIdMap seen;
    std::vector<std::pair<uint32_t, uint32_t>> cached;  // (offset, count) into ids
    std::vector<TokenId> ids;
    for (const TextSpan& p : pieces) {
        std::string_view piece = text.substr(p.offset, p.length);
        if (piece.size() > 64) {
            encode(piece, out);
            continue;
        }
        int32_t k = seen.find(piece);
        if (k < 0) {
            size_t start = ids.size();
            encode(piece, ids);
            k = int32_t(cached.size());
            cached.emplace_back(uint32_t(start), uint32_t(ids.size() - start));
            seen.assign(piece, k);
        }
        out.insert(out.end(), ids.begin() + cached[k].first,
                   ids.begin() + cached[k].first + cached[k].second);
    }
}

class TokenizerModel {
  public:
    virtual ~TokenizerModel() = default;
    virtual void encode(std::string_view text, std::vector<TokenId>& out) const = 0;
};

// Where text with spaces escaped to U+2581 can be cut into pieces that merge
// independently. SentencePiece-style models run their merges over the whole
// text, but merges are local: a cut that no token (or merge result) spans
// changes no id, and lets each piece -- mostly a word -- be merged once and
// cached. A cut goes before a "▁" that follows another character c, unless
// some string of the vocabulary contains c followed by "▁".
class SpaceCuts {
  public:
    // Records the characters that precede a "▁" inside s.
    void learn(std::string_view s);
    // Cuts text (into pieces of whole characters, as the models read them).
    void split(std::string_view text, std::vector<TextSpan>& pieces) const;

  private:
    StringIdMap unsafe_;  // characters that some vocabulary string joins to a "▁"
};

// SentencePiece BPE (tokenizer.ggml.model = llama): the text arrives with
// spaces already escaped to U+2581. Adjacent pieces merge while their
// concatenation is a token, best score first; what never becomes a token is
// spelled in byte tokens.
class SpmModel final : public TokenizerModel {
  public:
    explicit SpmModel(const Vocab& vocab);
    void encode(std::string_view text, std::vector<TokenId>& out) const override;

  private:
    void encode_piece(std::string_view text, std::vector<TokenId>& out) const;

    const Vocab& vocab_;
    SpaceCuts cuts_;
};

// Byte-level BPE (gpt2) and SentencePiece-style BPE (gemma4): pre-tokenize
// into words, then apply merges by rank inside each word.
//
// Symbols are interned strings ("sids"): a token's id when the string is a
// token, an id past the vocabulary for merge halves that are not. Strings are
// kept in raw bytes -- for byte-level vocabularies the token texts are mapped
// back through GPT-2's byte alphabet once, at load -- so a merge is one hash
// lookup of a (left sid, right sid) pair and no string is built per step.
class BpeModel final : public TokenizerModel {
  public:
    explicit BpeModel(const Vocab& vocab);
    void encode(std::string_view text, std::vector<TokenId>& out) const override;

  private:
    void encode_word(std::string_view word, std::vector<TokenId>& out) const;
    void append_fallback(std::string_view symbol, std::vector<TokenId>& out) const;
    int32_t intern(std::string_view s);

    const Vocab& vocab_;
    PreTokenizer pre_;
    bool byte_level_ = true;
    StringIdMap sids_;
    int32_t n_sids_ = 0;
    FlatMapU64 merges_;         // (left sid << 32 | right sid) -> (rank << 32 | result sid)
    int32_t byte_sid_[256];     // byte-level: the sid of each single byte
    TokenId single_char_[256];  // the token whose text is that one byte, if any
    SpaceCuts cuts_;            // SentencePiece-style words (no pre-tokenizer splits them)
};

// WordPiece (bert): BERT's basic normaliser, then greedy longest-match
// pieces over "▁"-prefixed words, [UNK] for a word that cannot be spelled.
class WpmModel final : public TokenizerModel {
  public:
    explicit WpmModel(const Vocab& vocab) : vocab_(vocab) {}
    void encode(std::string_view text, std::vector<TokenId>& out) const override;

  private:
    const Vocab& vocab_;
};

// A byte trie with its edges in one hash map.
class ByteTrie {
  public:
    ByteTrie() : values_(1, kTokenNull) {}
    void insert(std::string_view key, TokenId value);
    // The child of node on byte c, or -1. The root is node 0.
    int32_t child(int32_t node, uint8_t c) const {
        const uint64_t* v = edges_.find(uint64_t(node) << 8 | c);
        return v ? int32_t(*v) : -1;
    }
    TokenId value(int32_t node) const { return values_[node]; }
    bool empty() const { return values_.size() == 1; }

  private:
    FlatMapU64 edges_;
    std::vector<TokenId> values_;
};

// A byte trie built once from all its keys, then read-only, laid out for the
// Unigram Viterbi, which walks it from every character of the text. Nodes are
// numbered breadth-first, so the children of a node are consecutive nodes
// and the shallow, hot part of the trie is one small block; a node's piece
// and score sit together. Nodes with many children (the root, "▁") get a
// 256-entry table instead of a search. (A ByteTrie of a 250k-piece
// vocabulary is a 64 MB hash table, and every step of the walk was a cache
// miss.)
class PieceTrie {
  public:
    struct Piece {
        std::string_view text;
        TokenId id;
        float score;
    };
    struct Entry {
        TokenId id;  // kTokenNull: no piece ends here
        float score;
    };
    // Where texts repeat, the last one's piece stays.
    void build(std::vector<Piece> pieces);
    int32_t child(int32_t node, uint8_t c) const {
        const uint32_t lo = first_[node], hi = first_[node + 1];
        if (hi - lo > kMaxScan) {
            uint16_t k = dense_[size_t(dense_index_[node]) * 256 + c];
            return k ? int32_t(lo + k - 1) : -1;
        }
        for (uint32_t i = lo; i < hi; ++i) {
            if (labels_[i] >= c) return labels_[i] == c ? int32_t(i) : -1;
        }
        return -1;
    }
    const Entry& entry(int32_t node) const { return entries_[node]; }

  private:
    static constexpr uint32_t kMaxScan = 16;
    std::vector<uint32_t> first_;  // n_nodes + 1: the children of i are [first_[i], first_[i + 1])
    std::vector<uint8_t> labels_;  // the byte on the edge into each node
    std::vector<Entry> entries_;
    std::vector<uint32_t> dense_index_;  // per node with > kMaxScan children: its table
    std::vector<uint16_t> dense_;        // 256 per table: 1 + the child's rank, or 0
};

// Unigram (t5): the charsmap normaliser SentencePiece precompiles, then the
// Viterbi path of highest total piece score.
class UgmModel final : public TokenizerModel {
  public:
    explicit UgmModel(const Vocab& vocab);
    void encode(std::string_view text, std::vector<TokenId>& out) const override;

  private:
    void normalize(std::string_view input, std::string& out) const;
    // How many input bytes the next normalisation step consumes, and what it writes.
    std::string_view normalize_prefix(std::string_view input, size_t pos, size_t& consumed) const;

    const Vocab& vocab_;
    PieceTrie tokens_;
    ByteTrie user_defined_;
    const uint32_t* xcda_ = nullptr;  // the charsmap's double array (little-endian u32s)
    size_t xcda_size_ = 0;
    std::string_view replacements_;  // NUL-terminated replacement strings
    double unknown_score_ = 0;
};

}  // namespace slim
