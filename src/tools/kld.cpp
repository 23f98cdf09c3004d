#include "tools/kld.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

#include "format/error.h"

namespace slim {

namespace {

constexpr char kMagic[8] = {'S', 'L', 'I', 'M', 'K', 'L', 'D', '\0'};
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= kFnvPrime;
    }
    return h;
}

// The log-prob both sides store and compare, rounded to float the same way so
// that a model compared with itself gives exactly 0.
float logp_of(float logit, double lse) {
    return float(double(logit) - lse);
}

// Indices of the k largest logits, largest first (the lower id first on ties).
void top_k_ids(std::span<const float> logits, int k, std::vector<int32_t>& out) {
    auto better = [&](int32_t a, int32_t b) {
        return logits[size_t(a)] > logits[size_t(b)] ||
               (logits[size_t(a)] == logits[size_t(b)] && a < b);
    };
    // A min-heap (by `better`) of the best k so far.
    out.clear();
    for (int32_t i = 0; i < int32_t(logits.size()); ++i) {
        if (int(out.size()) < k) {
            out.push_back(i);
            std::push_heap(out.begin(), out.end(), better);
        } else if (better(i, out.front())) {
            std::pop_heap(out.begin(), out.end(), better);
            out.back() = i;
            std::push_heap(out.begin(), out.end(), better);
        }
    }
    std::sort_heap(out.begin(), out.end(), better);
}

Error kld_error(ErrorKind kind, const std::string& file, std::string field, std::string expected,
                std::string found, std::optional<uint64_t> offset = std::nullopt) {
    return Error(kind, file, std::move(field), offset, std::move(expected), std::move(found));
}

template <typename T>
void put(std::string& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
    put<uint32_t>(out, uint32_t(s.size()));
    out += s;
}

// Reads fields in order from the whole file, naming the field that is cut off.
class Reader {
  public:
    Reader(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}

    template <typename T>
    T get(const char* field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string get_string(const char* field) {
        const uint32_t n = get<uint32_t>(field);
        if (n > 4096) {
            throw kld_error(ErrorKind::too_large, path_, field, "a name of at most 4096 bytes",
                            fmt::format("{} bytes", n), pos_ - 4);
        }
        need(n, field);
        std::string s = bytes_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    void need(size_t n, const char* field) const {
        if (bytes_.size() - pos_ < n) {
            throw kld_error(
                ErrorKind::truncated, path_, field, fmt::format("{} more bytes", n),
                fmt::format("{} bytes left in a file of {}", bytes_.size() - pos_, bytes_.size()),
                pos_);
        }
    }
    size_t pos() const { return pos_; }

  private:
    const std::string& bytes_;
    const std::string& path_;
    size_t pos_ = 0;
};

size_t position_bytes(uint32_t top_k) {
    return 2 * sizeof(float) + size_t(top_k) * (sizeof(int32_t) + sizeof(float));
}

}  // namespace

uint64_t kld_vocab_hash(const Vocab& vocab) {
    uint64_t h = kFnvOffset;
    for (uint32_t id = 0; id < vocab.n_tokens(); ++id) {
        const std::string_view text = vocab.text(TokenId(id));
        const uint32_t n = uint32_t(text.size());
        h = fnv1a(h, &n, sizeof n);
        h = fnv1a(h, text.data(), text.size());
    }
    return h;
}

uint64_t kld_tokens_hash(std::span<const TokenId> tokens) {
    static_assert(sizeof(TokenId) == 4);
    return fnv1a(kFnvOffset, tokens.data(), tokens.size_bytes());
}

double percentile_sorted(std::span<const double> sorted, double fraction) {
    if (fraction <= 0) return sorted.front();
    if (fraction >= 1) return sorted.back();
    const double p = fraction * double(sorted.size() - 1);
    const size_t i = size_t(p);
    const double f = p - double(i);
    return (1 - f) * sorted[i] + f * sorted[std::min(i + 1, sorted.size() - 1)];
}

double kld_topk_estimate(std::span<const int32_t> ids, std::span<const float> base_logp,
                         std::span<const float> other_logits, double other_lse) {
    double kl = 0, p_in = 0, q_in = 0;
    for (size_t j = 0; j < ids.size(); ++j) {
        const float lp = base_logp[j];
        const float lq = logp_of(other_logits[size_t(ids[j])], other_lse);
        const double p = std::exp(double(lp));
        kl += p * (double(lp) - double(lq));
        p_in += p;
        q_in += std::exp(double(lq));
    }
    const double p_rest = std::max(0.0, 1 - p_in);
    const double q_rest = std::max(1e-30, 1 - q_in);
    if (p_rest > 0) kl += p_rest * std::log(p_rest / q_rest);
    return kl;
}

KldLogits kld_save(Model& model, Backend& backend, const Tokenizer& tokenizer,
                   std::span<const TokenId> tokens, const PerplexityOptions& options, int top_k,
                   std::string model_name, std::string text_name,
                   const std::function<void(const KldProgress&)>& progress) {
    const int n_vocab = model.config().n_vocab;
    if (top_k < 1 || top_k > n_vocab) {
        throw kld_error(ErrorKind::invalid_argument, options.source, "--top-k",
                        fmt::format("1 to the model's {} tokens", n_vocab), std::to_string(top_k));
    }
    KldLogits r;
    KldHeader& h = r.header;
    h.n_vocab = uint32_t(n_vocab);
    h.vocab_hash = kld_vocab_hash(tokenizer.vocab());
    h.tokens_hash = kld_tokens_hash(tokens);
    h.n_tokens = uint32_t(tokens.size());
    h.n_ctx = uint32_t(options.n_ctx);
    h.top_k = uint32_t(top_k);
    h.model_name = std::move(model_name);
    h.text_name = std::move(text_name);
    r.tokens.assign(tokens.begin(), tokens.end());

    std::vector<int32_t> ids;
    h.n_chunks = uint32_t(for_each_scored_position(
        model, backend, tokens, perplexity_bos(tokenizer), options,
        [&](std::span<const float> logits, TokenId next) {
            const double lse = log_sum_exp(logits);
            top_k_ids(logits, top_k, ids);
            for (int32_t id : ids) {
                r.top_ids.push_back(id);
                r.top_logp.push_back(logp_of(logits[size_t(id)], lse));
            }
            r.lse.push_back(float(lse));
            r.next_logp.push_back(logp_of(logits[size_t(next)], lse));
        },
        [&](int done, int n_chunks, double seconds) {
            if (progress) progress({done, n_chunks, seconds, 0.0});
        }));
    h.n_positions = uint32_t(r.lse.size());
    return r;
}

void write_kld_logits(const KldLogits& logits, const std::filesystem::path& path) {
    const KldHeader& h = logits.header;
    std::string out(kMagic, sizeof kMagic);
    put<uint32_t>(out, h.version);
    put<uint32_t>(out, h.n_vocab);
    put<uint64_t>(out, h.vocab_hash);
    put<uint64_t>(out, h.tokens_hash);
    put<uint32_t>(out, h.n_tokens);
    put<uint32_t>(out, h.n_ctx);
    put<uint32_t>(out, h.n_chunks);
    put<uint32_t>(out, h.top_k);
    put<uint32_t>(out, h.n_positions);
    put_string(out, h.model_name);
    put_string(out, h.text_name);
    for (TokenId t : logits.tokens) put<int32_t>(out, t);
    out.reserve(out.size() + size_t(h.n_positions) * position_bytes(h.top_k));
    for (size_t p = 0; p < h.n_positions; ++p) {
        put<float>(out, logits.lse[p]);
        put<float>(out, logits.next_logp[p]);
        for (size_t j = 0; j < h.top_k; ++j) put<int32_t>(out, logits.top_ids[p * h.top_k + j]);
        for (size_t j = 0; j < h.top_k; ++j) put<float>(out, logits.top_logp[p * h.top_k + j]);
    }
    // Through a temporary file, so a failed write leaves no half file behind.
    const std::filesystem::path tmp = path.string() + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) {
            throw kld_error(ErrorKind::io, tmp.string(), "open", "a writable file",
                            std::strerror(errno));
        }
        f.write(out.data(), std::streamsize(out.size()));
        f.flush();
        if (!f) {
            throw kld_error(ErrorKind::io, tmp.string(), "write", "all bytes written",
                            std::strerror(errno));
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp);
        throw kld_error(ErrorKind::io, path.string(), "rename", "a writable path", ec.message());
    }
}

KldLogits read_kld_logits(const std::filesystem::path& path) {
    const std::string file = path.string();
    std::ifstream f(path, std::ios::binary);
    if (!f) throw kld_error(ErrorKind::io, file, "open", "a readable file", std::strerror(errno));
    // The magic first, so that another kind of file (a model) is not read whole.
    char magic[sizeof kMagic] = {};
    f.read(magic, sizeof magic);
    if (f.gcount() != std::streamsize(sizeof magic) ||
        std::memcmp(magic, kMagic, sizeof kMagic) != 0) {
        throw kld_error(ErrorKind::bad_magic, file, "magic",
                        "a slim kld logits file (\"SLIMKLD\\0\", from slim kld --save-logits)",
                        "another kind of file", 0);
    }
    f.seekg(0);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Reader in(bytes, file);
    in.get<uint64_t>("magic");
    KldLogits r;
    KldHeader& h = r.header;
    h.version = in.get<uint32_t>("version");
    if (h.version != kKldFormatVersion) {
        throw kld_error(ErrorKind::unsupported, file, "version",
                        fmt::format("version {}", kKldFormatVersion),
                        fmt::format("version {}", h.version), 8);
    }
    h.n_vocab = in.get<uint32_t>("n_vocab");
    h.vocab_hash = in.get<uint64_t>("vocab_hash");
    h.tokens_hash = in.get<uint64_t>("tokens_hash");
    h.n_tokens = in.get<uint32_t>("n_tokens");
    h.n_ctx = in.get<uint32_t>("n_ctx");
    h.n_chunks = in.get<uint32_t>("n_chunks");
    h.top_k = in.get<uint32_t>("top_k");
    h.n_positions = in.get<uint32_t>("n_positions");
    h.model_name = in.get_string("model_name");
    h.text_name = in.get_string("text_name");

    if (h.n_ctx < 4 || h.n_vocab == 0 || h.top_k == 0 || h.top_k > h.n_vocab) {
        throw kld_error(ErrorKind::bad_value, file, "header",
                        "n_ctx >= 4, n_vocab >= 1, 1 <= top_k <= n_vocab",
                        fmt::format("n_ctx {}, n_vocab {}, top_k {}", h.n_ctx, h.n_vocab, h.top_k));
    }
    if (uint64_t(h.n_positions) !=
            uint64_t(h.n_chunks) * uint64_t(scored_per_chunk(int(h.n_ctx))) ||
        uint64_t(h.n_chunks) * h.n_ctx > h.n_tokens) {
        throw kld_error(ErrorKind::bad_value, file, "n_positions",
                        fmt::format("{} chunks of {} scored positions within {} tokens", h.n_chunks,
                                    scored_per_chunk(int(h.n_ctx)), h.n_tokens),
                        fmt::format("{} positions", h.n_positions));
    }
    const uint64_t body =
        uint64_t(h.n_tokens) * sizeof(int32_t) + uint64_t(h.n_positions) * position_bytes(h.top_k);
    const uint64_t left = bytes.size() - in.pos();
    if (left < body) {
        throw kld_error(ErrorKind::truncated, file, "positions",
                        fmt::format("{} bytes for {} tokens and {} positions of top-{}", body,
                                    h.n_tokens, h.n_positions, h.top_k),
                        fmt::format("{} bytes", left), in.pos());
    }
    if (left > body) {
        throw kld_error(ErrorKind::too_large, file, "positions",
                        fmt::format("{} bytes for {} tokens and {} positions of top-{}", body,
                                    h.n_tokens, h.n_positions, h.top_k),
                        fmt::format("{} bytes", left), in.pos());
    }
    r.tokens.resize(h.n_tokens);
    for (TokenId& t : r.tokens) t = in.get<int32_t>("tokens");
    if (kld_tokens_hash(r.tokens) != h.tokens_hash) {
        throw kld_error(ErrorKind::bad_value, file, "tokens",
                        fmt::format("tokens that hash to {:016x}", h.tokens_hash),
                        fmt::format("{:016x} (a corrupt file)", kld_tokens_hash(r.tokens)));
    }
    const size_t k = h.top_k;
    r.lse.resize(h.n_positions);
    r.next_logp.resize(h.n_positions);
    r.top_ids.resize(size_t(h.n_positions) * k);
    r.top_logp.resize(size_t(h.n_positions) * k);
    for (size_t p = 0; p < h.n_positions; ++p) {
        r.lse[p] = in.get<float>("lse");
        r.next_logp[p] = in.get<float>("next_logp");
        for (size_t j = 0; j < k; ++j) {
            const int32_t id = in.get<int32_t>("top_ids");
            if (id < 0 || uint32_t(id) >= h.n_vocab) {
                throw kld_error(
                    ErrorKind::out_of_range, file, fmt::format("position[{}].top_ids[{}]", p, j),
                    fmt::format("an id below {}", h.n_vocab), std::to_string(id), in.pos() - 4);
            }
            r.top_ids[p * k + j] = id;
        }
        for (size_t j = 0; j < k; ++j) r.top_logp[p * k + j] = in.get<float>("top_logp");
    }
    return r;
}

void check_kld_vocab(const KldHeader& base, const std::string& source, uint32_t n_vocab,
                     uint64_t vocab_hash) {
    if (base.n_vocab != n_vocab || base.vocab_hash != vocab_hash) {
        throw kld_error(
            ErrorKind::bad_value, source, "vocabulary",
            fmt::format("the vocabulary of the base model {} ({} logits, hash {:016x})",
                        base.model_name, base.n_vocab, base.vocab_hash),
            fmt::format("a different vocabulary ({} logits, hash {:016x}): KL needs two models "
                        "with the same tokens",
                        n_vocab, vocab_hash));
    }
}

void check_kld_text(const KldHeader& base, const std::string& source,
                    std::span<const TokenId> tokens, int n_ctx) {
    if (base.n_ctx != uint32_t(n_ctx)) {
        throw kld_error(ErrorKind::invalid_argument, source, "--ctx-size",
                        fmt::format("the base's context of {} tokens", base.n_ctx),
                        std::to_string(n_ctx));
    }
    const uint64_t hash = kld_tokens_hash(tokens);
    if (base.n_tokens != tokens.size() || base.tokens_hash != hash) {
        throw kld_error(ErrorKind::bad_value, source, "text",
                        fmt::format("the text the base was saved on ({}: {} tokens, hash {:016x})",
                                    base.text_name, base.n_tokens, base.tokens_hash),
                        fmt::format("another text ({} tokens, hash {:016x})", tokens.size(), hash));
    }
}

KldResult kld_compare(Model& model, Backend& backend, TokenId bos, const KldLogits& base,
                      const PerplexityOptions& options,
                      const std::function<void(const KldProgress&)>& progress) {
    const KldHeader& h = base.header;
    if (uint32_t(model.config().n_vocab) != h.n_vocab) {
        throw kld_error(ErrorKind::bad_value, options.source, "n_vocab",
                        fmt::format("the base's {} logits", h.n_vocab),
                        std::to_string(model.config().n_vocab));
    }
    PerplexityOptions o = options;
    o.n_ctx = int(h.n_ctx);
    o.n_chunks = int(h.n_chunks);
    const size_t k = h.top_k;

    std::vector<double> kl;
    kl.reserve(h.n_positions);
    double nll_base = 0, nll_other = 0, kl_sum = 0, kl_sum2 = 0;
    int top1 = 0, top5 = 0;
    std::vector<int32_t> other_top;
    size_t p = 0;
    KldResult r;
    for_each_scored_position(
        model, backend, base.tokens, bos, o,
        [&](std::span<const float> logits, TokenId next) {
            if (p >= h.n_positions) {
                throw kld_error(ErrorKind::bad_value, options.source, "n_positions",
                                fmt::format("{} positions", h.n_positions), "more positions");
            }
            const double lse = log_sum_exp(logits);
            const std::span<const int32_t> ids(base.top_ids.data() + p * k, k);
            const double v = kld_topk_estimate(
                ids, std::span<const float>(base.top_logp.data() + p * k, k), logits, lse);
            kl.push_back(v);
            kl_sum += v;
            kl_sum2 += v * v;
            nll_base -= double(base.next_logp[p]);
            nll_other -= double(logp_of(logits[size_t(next)], lse));
            top_k_ids(logits, 5, other_top);
            top1 += other_top[0] == ids[0];
            top5 += std::find(other_top.begin(), other_top.end(), ids[0]) != other_top.end();
            ++p;
        },
        [&](int done, int n_chunks, double seconds) {
            r.seconds = seconds;
            if (progress) progress({done, n_chunks, seconds, kl_sum / double(kl.size())});
        });
    if (p != h.n_positions) {
        throw kld_error(ErrorKind::bad_value, options.source, "n_positions",
                        fmt::format("{} positions", h.n_positions), fmt::format("{}", p));
    }
    const double n = double(p);
    r.n_positions = int(p);
    r.kl_mean = kl_sum / n;
    const double var = kl_sum2 / n - r.kl_mean * r.kl_mean;
    r.kl_stderr = p > 1 && var > 0 ? std::sqrt(var / (n - 1)) : 0.0;
    std::sort(kl.begin(), kl.end());
    r.kl_median = percentile_sorted(kl, 0.5);
    r.kl_p99 = percentile_sorted(kl, 0.99);
    r.kl_max = kl.back();
    r.ppl_base = std::exp(nll_base / n);
    r.ppl_other = std::exp(nll_other / n);
    r.top1 = top1 / n;
    r.top5 = top5 / n;
    return r;
}

}  // namespace slim
