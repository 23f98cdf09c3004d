#include "tools/embed.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "format/error.h"

namespace slim {

Embedder::Embedder(const GgufFile& file, Backend& backend)
    : tokenizer_(Tokenizer::load(file)), encoder_(load_encoder(file, backend)) {
    if (tokenizer_.n_tokens() != uint32_t(encoder_->config().n_vocab)) {
        throw Error(ErrorKind::bad_value, file.path(), "tokenizer.ggml.tokens", std::nullopt,
                    fmt::format("{} tokens (the embedding rows)", encoder_->config().n_vocab),
                    std::to_string(tokenizer_.n_tokens()));
    }
}

Embedder::~Embedder() = default;

std::vector<int32_t> Embedder::tokenize(std::string_view text, bool* truncated) const {
    std::vector<int32_t> ids = tokenizer_.tokenize(text, /*add_special=*/true);
    const size_t n_ctx = size_t(config().n_ctx_train);
    const bool cut = ids.size() > n_ctx;
    if (cut) {
        const VocabFlags& f = tokenizer_.vocab().flags();
        const int32_t closing = ids.back();
        ids.resize(n_ctx);
        if (f.add_eos || f.add_sep) ids.back() = closing;
    }
    if (truncated) *truncated = cut;
    return ids;
}

EmbedResult Embedder::embed(std::span<const std::string> texts, const EmbedOptions& options,
                            const std::function<void(const EmbedProgress&)>& progress) {
    if (options.batch <= 0) {
        throw Error(ErrorKind::invalid_argument, "", "batch", std::nullopt, "a positive size",
                    std::to_string(options.batch));
    }
    const auto t0 = std::chrono::steady_clock::now();
    EmbedResult r;
    r.n_texts = texts.size();
    r.n_embd = config().n_embd;
    const size_t e = size_t(r.n_embd);
    r.embeddings.resize(texts.size() * e);

    std::vector<std::vector<int32_t>> seqs(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
        bool cut = false;
        seqs[i] = tokenize(texts[i], &cut);
        r.n_truncated += cut;
        r.n_tokens += seqs[i].size();
        r.longest =
            std::max(r.longest, cut ? tokenizer_.tokenize(texts[i], true).size() : seqs[i].size());
    }

    std::vector<float> out;
    for (size_t begin = 0; begin < seqs.size(); begin += size_t(options.batch)) {
        const size_t n = std::min(seqs.size() - begin, size_t(options.batch));
        encoder_->embed(std::span(seqs).subspan(begin, n), out);
        std::memcpy(r.embeddings.data() + begin * e, out.data(), out.size() * sizeof(float));
        if (progress) {
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            progress({begin + n, seqs.size(), s});
        }
    }
    if (options.normalize) {
        for (size_t i = 0; i < texts.size(); ++i)
            l2_normalize(std::span(r.embeddings).subspan(i * e, e));
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

double cosine_similarity(std::span<const float> a, std::span<const float> b) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        dot += double(a[i]) * b[i];
        na += double(a[i]) * a[i];
        nb += double(b[i]) * b[i];
    }
    return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
}

void l2_normalize(std::span<float> v) {
    double sum = 0;
    for (float x : v) sum += double(x) * x;
    if (sum <= 0) return;
    const float inv = float(1.0 / std::sqrt(sum));
    for (float& x : v) x *= inv;
}

std::string embeddings_to_jsonl(std::span<const float> embeddings, int n_embd) {
    std::string out;
    const size_t e = size_t(n_embd);
    for (size_t i = 0; e > 0 && i < embeddings.size() / e; ++i) {
        out += fmt::format("{{\"index\": {}, \"embedding\": [", i);
        for (size_t j = 0; j < e; ++j) {
            // Shortest text that reads back as the same float.
            out += fmt::format("{}{}", j ? ", " : "", embeddings[i * e + j]);
        }
        out += "]}\n";
    }
    return out;
}

std::string embeddings_to_npy(std::span<const float> embeddings, int n_embd) {
    const size_t rows = n_embd > 0 ? embeddings.size() / size_t(n_embd) : 0;
    std::string header = fmt::format(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows, n_embd);
    // Magic, version 1.0, header length; the header is padded with spaces and
    // ends with a newline so the data starts at a multiple of 64 bytes.
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    std::string out = "\x93NUMPY";
    out += char(1);
    out += char(0);
    out += char(header.size() & 0xff);
    out += char(header.size() >> 8);
    out += header;
    // x86-64 and every target slim builds for are little-endian.
    out.append(reinterpret_cast<const char*>(embeddings.data()), rows * size_t(n_embd) * 4);
    return out;
}

}  // namespace slim
