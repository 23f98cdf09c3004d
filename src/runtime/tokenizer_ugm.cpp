// Unigram as llama.cpp's llm_tokenizer_ugm_session runs it (itself
// SentencePiece's optimised Viterbi): normalise with the precompiled charsmap,
// then for every character boundary keep the best-scoring way to reach it.
#include <algorithm>
#include <cfloat>
#include <cstring>

#include <fmt/format.h>

#include "format/error.h"
#include "runtime/tokenizer_models.h"
#include "runtime/unicode.h"

namespace slim {

void ByteTrie::insert(std::string_view key, TokenId value) {
    int32_t node = 0;
    for (char c : key) {
        int32_t next = child(node, uint8_t(c));
        if (next < 0) {
            next = int32_t(values_.size());
            values_.push_back(kTokenNull);
            edges_.insert(uint64_t(node) << 8 | uint8_t(c), uint64_t(next));
        }
        node = next;
    }
    values_[node] = value;
}

void PieceTrie::build(std::vector<Piece> pieces) {
    std::stable_sort(pieces.begin(), pieces.end(),
                     [](const Piece& a, const Piece& b) { return a.text < b.text; });
    // Node i stands for the pieces [lo, hi), which share their first `depth` bytes.
    struct Range {
        uint32_t lo, hi, depth;
    };
    std::vector<Range> nodes{{0, uint32_t(pieces.size()), 0}};
    first_.clear();
    labels_.assign(1, 0);
    entries_.assign(1, {kTokenNull, 0.0f});
    for (size_t node = 0; node < nodes.size(); ++node) {
        const Range r = nodes[node];
        uint32_t lo = r.lo;
        for (; lo < r.hi && pieces[lo].text.size() == r.depth; ++lo) {
            entries_[node] = {pieces[lo].id, pieces[lo].score};
        }
        first_.push_back(uint32_t(nodes.size()));
        while (lo < r.hi) {
            const char c = pieces[lo].text[r.depth];
            uint32_t hi = lo + 1;
            while (hi < r.hi && pieces[hi].text[r.depth] == c) ++hi;
            nodes.push_back({lo, hi, r.depth + 1});
            labels_.push_back(uint8_t(c));
            entries_.push_back({kTokenNull, 0.0f});
            lo = hi;
        }
    }
    first_.push_back(uint32_t(nodes.size()));
    dense_index_.assign(nodes.size(), 0);
    dense_.clear();
    for (size_t node = 0; node < nodes.size(); ++node) {
        const uint32_t lo = first_[node], hi = first_[node + 1];
        if (hi - lo <= kMaxScan) continue;
        dense_index_[node] = uint32_t(dense_.size() / 256);
        dense_.resize(dense_.size() + 256, 0);
        for (uint32_t i = lo; i < hi; ++i) {
            dense_[size_t(dense_index_[node]) * 256 + labels_[i]] = uint16_t(i - lo + 1);
        }
    }
}

UgmModel::UgmModel(const Vocab& vocab) : vocab_(vocab) {
    const std::string& charsmap = vocab.precompiled_charsmap();
    if (!charsmap.empty()) {
        // A u32 blob size, the XCDA blob, then NUL-terminated replacements
        // (Vocab::load checked that the sizes fit).
        uint32_t blob = 0;
        std::memcpy(&blob, charsmap.data(), 4);
        xcda_ = reinterpret_cast<const uint32_t*>(charsmap.data() + 4);
        xcda_size_ = blob / 4;
        replacements_ = std::string_view(charsmap).substr(4 + blob);
    }
    float min_score = FLT_MAX;
    std::vector<PieceTrie::Piece> pieces;
    for (TokenId id = 0; id < TokenId(vocab.n_tokens()); ++id) {
        uint32_t a = vocab.attr(id);
        if (a & token_attr::normal) min_score = std::min(min_score, vocab.score(id));
        if (a & (token_attr::normal | token_attr::user_defined | token_attr::unused)) {
            // User-defined pieces score 0 so that they win over learned ones.
            float score = (a & token_attr::user_defined) ? 0.0f : vocab.score(id);
            pieces.push_back({vocab.text(id), id, score});
        }
        if (a & token_attr::user_defined) user_defined_.insert(vocab.text(id), kTokenNull);
    }
    tokens_.build(std::move(pieces));
    unknown_score_ = double(min_score - 10.0f);
}

std::string_view UgmModel::normalize_prefix(std::string_view input, size_t pos,
                                            size_t& consumed) const {
    // The longest path into the user-defined trie passes through unchanged
    // (llama.cpp does not ask for the path to end on a token).
    if (!user_defined_.empty()) {
        int32_t node = 0;
        size_t len = 0;
        while (pos + len < input.size()) {
            node = user_defined_.child(node, uint8_t(input[pos + len]));
            if (node < 0) break;
            ++len;
        }
        if (len > 0) {
            consumed = len;
            return input.substr(pos, len);
        }
    }

    if (xcda_size_ > 0) {
        auto node_at = [&](size_t i) {
            if (i >= xcda_size_) {
                throw Error(ErrorKind::out_of_range, vocab_.file(),
                            "tokenizer.ggml.precompiled_charsmap", std::nullopt,
                            fmt::format("a charsmap node below {}", xcda_size_), std::to_string(i));
            }
            uint32_t v;
            std::memcpy(&v, xcda_ + i, 4);
            return v;
        };
        // Each node packs BASE (bits 10-30, shifted by 8 when bit 9 is set),
        // LCHECK (bits 0-7 and 31) and LEAF (bit 8).
        auto base = [&](uint32_t v) { return (v >> 10) << ((v & (1u << 9)) >> 6); };
        size_t best_len = 0;
        uint32_t best_offset = 0;
        uint32_t node = base(node_at(0));
        for (size_t p = pos; p < input.size(); ++p) {
            uint8_t c = uint8_t(input[p]);
            if (c == 0) break;
            node ^= c;
            uint32_t v = node_at(node);
            if ((v & ((1u << 31) | 0xFF)) != c) break;
            bool leaf = (v >> 8) & 1;
            node ^= base(v);
            if (leaf) {
                best_len = p - pos + 1;
                best_offset = node_at(node) & ((1u << 31) - 1);
            }
        }
        if (best_len > 0) {
            size_t end = best_offset < replacements_.size() ? replacements_.find('\0', best_offset)
                                                            : std::string_view::npos;
            if (end == std::string_view::npos) {
                throw Error(ErrorKind::out_of_range, vocab_.file(),
                            "tokenizer.ggml.precompiled_charsmap", std::nullopt,
                            "a NUL-terminated replacement string",
                            fmt::format("offset {} of {}", best_offset, replacements_.size()));
            }
            consumed = best_len;
            return replacements_.substr(best_offset, end - best_offset);
        }
    }

    unicode::Decoded d = unicode::decode_utf8(input, pos);
    if (d.valid) {
        consumed = d.len;
        return input.substr(pos, d.len);
    }
    consumed = 1;
    return "\xEF\xBF\xBD";
}

void UgmModel::normalize(std::string_view input, std::string& out) const {
    out.clear();
    out.reserve(input.size() * 3);
    const VocabFlags& f = vocab_.flags();
    const std::string_view space = f.escape_whitespaces ? "\xE2\x96\x81" : " ";
    const bool prepend_space = !f.treat_whitespace_as_suffix && f.add_space_prefix;
    const bool append_space = f.treat_whitespace_as_suffix && f.add_space_prefix;
    const bool merge_spaces = f.remove_extra_whitespaces;
    bool space_prepended = false;
    bool in_word = false;
    for (size_t pos = 0; pos < input.size();) {
        size_t consumed = 0;
        std::string_view norm = normalize_prefix(input, pos, consumed);
        for (char c : norm) {
            if (c != ' ') {
                if (!in_word) {
                    in_word = true;
                    if ((prepend_space && !space_prepended) || merge_spaces) {
                        out += space;
                        space_prepended = true;
                    }
                }
                out.push_back(c);
            } else {
                in_word = false;
                if (!merge_spaces) out += space;
            }
        }
        pos += consumed;
    }
    if (append_space) out += space;
}

void UgmModel::encode(std::string_view text, std::vector<TokenId>& out) const {
    thread_local std::string norm;
    normalize(text, norm);
    const size_t n = norm.size();
    if (n == 0) return;

    struct Best {
        TokenId id;
        size_t from;  // where the last token starts
        double score;
    };
    const TokenId unk = vocab_.special().unk;
    std::vector<Best> best(n + 1, Best{unk, 0, -DBL_MAX});
    best[0] = {unk, 0, 0.0};
    for (size_t pos = 0; pos < n;) {
        size_t char_len = std::min(unicode::utf8_len(uint8_t(norm[pos])), n - pos);
        const double base = best[pos].score;
        bool single_char_token = false;
        int32_t node = 0;
        for (size_t p = pos; p < n; ++p) {
            node = tokens_.child(node, uint8_t(norm[p]));
            if (node < 0) break;
            const PieceTrie::Entry& e = tokens_.entry(node);
            if (e.id == kTokenNull) continue;
            size_t end = p + 1;
            if (end - pos == char_len) single_char_token = true;
            double score = base + double(e.score);
            if (score > best[end].score) best[end] = {e.id, pos, score};
        }
        if (!single_char_token) {
            double score = base + unknown_score_;
            if (score > best[pos + char_len].score) best[pos + char_len] = {unk, pos, score};
        }
        pos += char_len;
    }

    // Walk back from the end; runs of unknown pieces become one [UNK].
    size_t start = out.size();
    bool prev_unknown = false;
    for (Best b = best[n];; b = best[b.from]) {
        bool unknown = b.id == unk;
        if (!(prev_unknown && unknown)) out.push_back(b.id);
        if (b.from == 0) break;
        prev_unknown = unknown;
    }
    std::reverse(out.begin() + long(start), out.end());
}

}  // namespace slim
