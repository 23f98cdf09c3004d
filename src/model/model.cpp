#include "model/model.h"

#include <fmt/format.h>

#include "format/error.h"

namespace slim {

KvCache::KvCache(Backend& backend, const ModelConfig& c, int n_ctx) : n_ctx_(n_ctx) {
    if (n_ctx <= 0) {
        throw Error(ErrorKind::invalid_argument, "", "context size", std::nullopt,
                    "a positive size", std::to_string(n_ctx));
    }
    const int64_t width = int64_t(c.n_head_kv) * c.head_dim;
    for (int l = 0; l < c.n_layer; ++l) {
        k_.push_back(backend.alloc(GgmlType::f16, width, n_ctx));
        v_.push_back(backend.alloc(GgmlType::f16, width, n_ctx));
    }
    positions_.reserve(size_t(n_ctx));
}

size_t KvCache::bytes() const {
    size_t total = 0;
    for (size_t l = 0; l < k_.size(); ++l) total += k_[l].row_bytes * size_t(k_[l].n_rows) * 2;
    return total;
}

std::vector<int32_t> KvCache::append(int n) {
    if (n > n_ctx_ - n_used()) {
        throw Error(ErrorKind::invalid_argument, "", "context", std::nullopt,
                    fmt::format("at most {} tokens in the context", n_ctx_),
                    fmt::format("{} tokens ({} already used + {} new)", n_used() + n, n_used(), n));
    }
    std::vector<int32_t> slots(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        slots[size_t(i)] = int32_t(positions_.size());
        positions_.push_back(int32_t(positions_.size()));
    }
    return slots;
}

Model::Model(Backend& backend, ModelConfig config, int max_batch)
    : backend_(backend), config_(std::move(config)), max_batch_(max_batch) {}

void Model::forward(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits,
                    bool all_logits) {
    const size_t n_vocab = size_t(config_.n_vocab);
    const size_t rows_out = all_logits ? tokens.size() : (tokens.empty() ? 0 : 1);
    if (logits.size() < rows_out * n_vocab) {
        throw Error(ErrorKind::invalid_argument, "", "logits", std::nullopt,
                    fmt::format("room for {} floats", rows_out * n_vocab),
                    std::to_string(logits.size()));
    }
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= config_.n_vocab) {
            throw Error(ErrorKind::invalid_argument, "", fmt::format("token[{}]", i), std::nullopt,
                        fmt::format("an id below {}", config_.n_vocab), std::to_string(tokens[i]));
        }
    }
    if (tokens.size() > size_t(cache.n_ctx() - cache.n_used())) {
        throw Error(ErrorKind::invalid_argument, "", "context", std::nullopt,
                    fmt::format("at most {} tokens in the context", cache.n_ctx()),
                    fmt::format("{} tokens ({} already used + {} new)",
                                cache.n_used() + tokens.size(), cache.n_used(), tokens.size()));
    }
    size_t written = 0;
    for (size_t begin = 0; begin < tokens.size(); begin += size_t(max_batch_)) {
        const size_t n = std::min(tokens.size() - begin, size_t(max_batch_));
        std::vector<int32_t> slots = cache.append(int(n));
        const bool last = begin + n == tokens.size();
        const int64_t first = all_logits ? 0 : int64_t(n) - 1;
        const size_t rows = all_logits ? n : (last ? 1 : 0);
        float* dst = logits.data() + written * n_vocab;
        // Where forward_batch writes the logit rows: the caller's buffer
        // itself where the backend computes in host memory, else the
        // backend's own buffer, downloaded after (allocated only then).
        Tensor out;
        if (rows > 0) {
            out = backend_.host_f32(dst, int64_t(n_vocab), int64_t(rows));
            if (!out.data) out = backend_logits(all_logits ? max_batch_ : 1);
        }
        forward_batch(tokens.subspan(begin, n), slots, cache, out,
                      all_logits || last ? first : int64_t(n));
        if (rows > 0 && out.data != dst)
            backend_.download(dst, out, rows * n_vocab * sizeof(float));
        written += rows;
    }
}

const Tensor& Model::backend_logits(int64_t rows) {
    if (logits_.n_rows < rows) {
        if (logits_.data) backend_.free(logits_);
        logits_ = backend_.alloc(GgmlType::f32, config_.n_vocab, rows);
    }
    return logits_;
}

Model::~Model() {
    if (logits_.data) backend_.free(logits_);
}

}  // namespace slim
