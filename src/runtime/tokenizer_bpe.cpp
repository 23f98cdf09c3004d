// Byte-level and SentencePiece-style BPE, id for id as llama.cpp's
// llm_tokenizer_bpe_session: the same word splits, the same merge order
// (lowest rank first, leftmost first among equals), the same fallbacks.
#include <algorithm>

#include "runtime/tokenizer_models.h"
#include "runtime/unicode.h"

namespace slim {

namespace {

// A token text mapped back through GPT-2's byte alphabet; false when it holds
// a character outside it (no input word can then spell it).
bool decode_byte_level(std::string_view text, std::string& raw) {
    raw.clear();
    size_t pos = 0;
    while (pos < text.size()) {
        unicode::Decoded d = unicode::decode_utf8(text, pos);
        int b = d.valid ? unicode::cpt_to_byte(d.cpt) : -1;
        if (b < 0) return false;
        raw.push_back(char(b));
        pos += d.len;
    }
    return true;
}

struct Symbol {
    int32_t sid;
    uint32_t start;
    uint32_t len;  // 0 once merged into its left neighbour
    int32_t prev;
    int32_t next;
};

struct Bigram {
    uint32_t rank;
    int32_t left;
    int32_t right;
    int32_t left_sid;
    int32_t right_sid;
};

// Heap order: the lowest rank on top, then the leftmost.
inline bool bigram_after(const Bigram& a, const Bigram& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

struct Scratch {
    std::vector<Symbol> symbols;
    std::vector<Bigram> heap;
};

}  // namespace

int32_t BpeModel::intern(std::string_view s) {
    int32_t sid = sids_.find(s);
    if (sid < 0) {
        sid = n_sids_++;
        sids_.assign(s, sid);
    }
    return sid;
}

BpeModel::BpeModel(const Vocab& vocab) : vocab_(vocab), pre_(vocab.pre_type()) {
    byte_level_ = vocab.flags().byte_encode;
    const TokenId n = TokenId(vocab.n_tokens());
    n_sids_ = n;
    sids_.reserve(size_t(n) + vocab.n_merges() / 4);
    std::string raw;
    for (TokenId id = 0; id < n; ++id) {
        std::string_view text = vocab.text(id);
        if (vocab.find(text) != id) continue;  // a repeated text: the last id is the token
        if (byte_level_) {
            if (decode_byte_level(text, raw)) sids_.assign(raw, id);
        } else {
            sids_.assign(text, id);
        }
    }
    merges_.reserve(vocab.n_merges());
    std::string left, right, joined;
    for (size_t i = 0; i < vocab.n_merges(); ++i) {
        auto [l, r] = vocab.merge(i);
        if (l.empty() || r.empty()) continue;
        if (byte_level_) {
            if (!decode_byte_level(l, left) || !decode_byte_level(r, right)) continue;
        } else {
            left.assign(l);
            right.assign(r);
        }
        joined = left + right;
        int32_t lsid = intern(left), rsid = intern(right), result = intern(joined);
        // The first line wins when a pair repeats, as in llama.cpp's map.
        merges_.insert(uint64_t(uint32_t(lsid)) << 32 | uint32_t(rsid),
                       uint64_t(i) << 32 | uint32_t(result));
        if (!byte_level_) cuts_.learn(joined);
    }
    if (!byte_level_) {
        for (TokenId id = 0; id < n; ++id) cuts_.learn(vocab.text(id));
    }
    for (int b = 0; b < 256; ++b) {
        char c = char(b);
        byte_sid_[b] = sids_.find(std::string_view(&c, 1));
        single_char_[b] = vocab.find(std::string_view(&c, 1));
    }
}

void BpeModel::append_fallback(std::string_view symbol, std::vector<TokenId>& out) const {
    for (char c : symbol) {
        uint8_t b = uint8_t(c);
        if (byte_level_) {
            // llama.cpp looks up each byte of the symbol's byte-level text
            // as a one-byte token.
            std::string enc;
            unicode::append_utf8(enc, unicode::byte_to_cpt(b));
            for (char e : enc) {
                if (single_char_[uint8_t(e)] != kTokenNull) out.push_back(single_char_[uint8_t(e)]);
            }
        } else if (vocab_.byte_token(b) != kTokenNull) {
            out.push_back(vocab_.byte_token(b));
        }
    }
}

void BpeModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
    const int32_t n_tokens = int32_t(vocab_.n_tokens());
    if (vocab_.flags().ignore_merges) {
        int32_t sid = sids_.find(word);
        if (sid >= 0 && sid < n_tokens) {
            out.push_back(sid);
            return;
        }
    }
    if (vocab_.pre_type() == PreType::pre_gemma4 &&
        word.find_first_not_of('\n') == std::string_view::npos) {
        TokenId id = vocab_.find(word);
        if (id != kTokenNull) {
            out.push_back(id);
            return;
        }
    }

    thread_local Scratch scratch;
    std::vector<Symbol>& syms = scratch.symbols;
    std::vector<Bigram>& heap = scratch.heap;
    syms.clear();
    heap.clear();
    for (size_t pos = 0; pos < word.size();) {
        size_t len =
            byte_level_ ? 1 : std::min(unicode::utf8_len(uint8_t(word[pos])), word.size() - pos);
        int32_t sid =
            byte_level_ ? byte_sid_[uint8_t(word[pos])] : sids_.find(word.substr(pos, len));
        int32_t i = int32_t(syms.size());
        syms.push_back({sid, uint32_t(pos), uint32_t(len), i - 1, -1});
        if (i > 0) syms[i - 1].next = i;
        pos += len;
    }

    auto add_bigram = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        int32_t ls = syms[left].sid, rs = syms[right].sid;
        if (ls < 0 || rs < 0) return;
        const uint64_t* m = merges_.find(uint64_t(uint32_t(ls)) << 32 | uint32_t(rs));
        if (!m) return;
        heap.push_back({uint32_t(*m >> 32), left, right, ls, rs});
        std::push_heap(heap.begin(), heap.end(), bigram_after);
    };
    for (int32_t i = 1; i < int32_t(syms.size()); ++i) add_bigram(i - 1, i);

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), bigram_after);
        Bigram bg = heap.back();
        heap.pop_back();
        Symbol& l = syms[bg.left];
        Symbol& r = syms[bg.right];
        if (l.len == 0 || r.len == 0 || l.sid != bg.left_sid || r.sid != bg.right_sid) continue;
        const uint64_t* m = merges_.find(uint64_t(uint32_t(l.sid)) << 32 | uint32_t(r.sid));
        l.sid = int32_t(uint32_t(*m));
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = bg.left;
        add_bigram(l.prev, bg.left);
        add_bigram(bg.left, l.next);
    }

    for (int32_t i = 0; i >= 0 && i < int32_t(syms.size()); i = syms[i].next) {
        const Symbol& s = syms[i];
        if (s.sid >= 0 && s.sid < n_tokens) {
            out.push_back(s.sid);
        } else {
            append_fallback(word.substr(s.start, s.len), out);
        }
    }
}

void BpeModel::encode(std::string_view text, std::vector<TokenId>& out) const {
    // llama.cpp decodes the text into code points and re-encodes every word,
    // so invalid bytes reach the merges as U+FFFD.
    std::string clean = unicode::sanitize_utf8(text);
    thread_local std::vector<TextSpan> words;
    pre_.split(clean, words);
    if (!byte_level_ && !vocab_.flags().ignore_merges) {
        // No pre-tokenizer cuts SentencePiece-style text into words; cut it
        // where no merge can reach across (see SpaceCuts).
        thread_local std::vector<TextSpan> all, pieces;
        all.clear();
        for (const TextSpan& w : words) {
            cuts_.split(std::string_view(clean).substr(w.offset, w.length), pieces);
            for (TextSpan p : pieces) all.push_back({w.offset + p.offset, p.length});
        }
        words.swap(all);
    }

    encode_pieces_cached(
        clean, words, out,
        [this](std::string_view word, std::vector<TokenId>& ids) { encode_word(word, ids); });
}

}  // namespace slim
