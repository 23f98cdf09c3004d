// SentencePiece BPE as llama.cpp's llm_tokenizer_spm_session runs it: start
// from UTF-8 characters, repeatedly merge the adjacent pair whose
// concatenation is the best-scoring token (leftmost first on ties), and spell
// whatever is left over in byte tokens.
#include <algorithm>

#include "runtime/tokenizer_models.h"
#include "runtime/unicode.h"

namespace slim {

namespace {

struct Symbol {
    uint32_t start;
    uint32_t len;  // 0 once merged into its left neighbour
    int32_t prev;
    int32_t next;
};

struct Bigram {
    float score;
    int32_t left;
    int32_t right;
    uint32_t size;  // bytes of the pair when queued; stale once either side changed
};

// Heap order: the highest score on top, then the leftmost.
inline bool bigram_before(const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
}

const std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's escaped space

}  // namespace

void SpaceCuts::learn(std::string_view s) {
    size_t prev = 0, prev_len = 0;
    for (size_t pos = 0; pos < s.size();) {
        size_t len = std::min(unicode::utf8_len(uint8_t(s[pos])), s.size() - pos);
        if (prev_len > 0 && s.substr(pos, len) == kSpace && s.substr(prev, prev_len) != kSpace) {
            unsafe_.assign(s.substr(prev, prev_len), 1);
        }
        prev = pos, prev_len = len;
        pos += len;
    }
}

void SpaceCuts::split(std::string_view text, std::vector<TextSpan>& pieces) const {
    pieces.clear();
    size_t start = 0, prev = 0, prev_len = 0;
    for (size_t pos = 0; pos < text.size();) {
        size_t len = std::min(unicode::utf8_len(uint8_t(text[pos])), text.size() - pos);
        if (prev_len > 0 && text.substr(pos, len) == kSpace) {
            std::string_view p = text.substr(prev, prev_len);
            if (p != kSpace && unsafe_.find(p) < 0) {
                pieces.push_back({uint32_t(start), uint32_t(pos - start)});
                start = pos;
            }
        }
        prev = pos, prev_len = len;
        pos += len;
    }
    if (start < text.size()) pieces.push_back({uint32_t(start), uint32_t(text.size() - start)});
}

SpmModel::SpmModel(const Vocab& vocab) : vocab_(vocab) {
    for (TokenId id = 0; id < TokenId(vocab.n_tokens()); ++id) cuts_.learn(vocab.text(id));
}

void SpmModel::encode(std::string_view text, std::vector<TokenId>& out) const {
    thread_local std::vector<TextSpan> pieces;
    cuts_.split(text, pieces);
    encode_pieces_cached(
        text, pieces, out,
        [this](std::string_view piece, std::vector<TokenId>& ids) { encode_piece(piece, ids); });
}

void SpmModel::encode_piece(std::string_view text, std::vector<TokenId>& out) const {
    thread_local std::vector<Symbol> syms;
    thread_local std::vector<Bigram> heap;
    syms.clear();
    heap.clear();
    for (size_t pos = 0; pos < text.size();) {
        // The lead byte fixes the length, even over what follows (llama.cpp).
        size_t len = std::min(unicode::utf8_len(uint8_t(text[pos])), text.size() - pos);
        int32_t i = int32_t(syms.size());
        syms.push_back({uint32_t(pos), uint32_t(len), i - 1, -1});
        if (i > 0) syms[i - 1].next = i;
        pos += len;
    }

    auto add_bigram = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        uint32_t size = syms[left].len + syms[right].len;
        TokenId id = vocab_.find(text.substr(syms[left].start, size));
        if (id == kTokenNull) return;
        heap.push_back({vocab_.score(id), left, right, size});
        std::push_heap(heap.begin(), heap.end(), bigram_before);
    };
    for (int32_t i = 1; i < int32_t(syms.size()); ++i) add_bigram(i - 1, i);

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), bigram_before);
        Bigram bg = heap.back();
        heap.pop_back();
        Symbol& l = syms[bg.left];
        Symbol& r = syms[bg.right];
        if (l.len == 0 || r.len == 0 || l.len + r.len != bg.size) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = bg.left;
        add_bigram(l.prev, bg.left);
        add_bigram(bg.left, l.next);
    }

    for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
        std::string_view piece = text.substr(syms[i].start, syms[i].len);
        TokenId id = vocab_.find(piece);
        if (id != kTokenNull) {
            out.push_back(id);
            continue;
        }
        for (char c : piece) {
            // <0xNN>, else the byte itself as a token; llama.cpp throws when
            // neither exists, slim falls back to the unknown token.
            TokenId b = vocab_.byte_token(uint8_t(c));
            if (b == kTokenNull) b = vocab_.find(std::string_view(&c, 1));
            if (b == kTokenNull) b = vocab_.special().unk;
            if (b != kTokenNull) out.push_back(b);
        }
    }
}

}  // namespace slim
