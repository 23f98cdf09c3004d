#include "model/encoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "format/error.h"

namespace slim {

// One loader per encoder family file.
std::unique_ptr<Encoder> load_bert(const GgufFile& file, Backend& backend);

namespace {

struct EncoderFamily {
    const char* arch;
    std::unique_ptr<Encoder> (*load)(const GgufFile&, Backend&);
};

// Adding an encoder family: its file, and one line here.
constexpr EncoderFamily kEncoderFamilies[] = {
    {"bert", load_bert},
};

}  // namespace

const char* pooling_name(Pooling p) {
    switch (p) {
        case Pooling::none:
            return "none";
        case Pooling::mean:
            return "mean";
        case Pooling::cls:
            return "cls";
        case Pooling::last:
            return "last";
    }
    return "?";
}

std::vector<std::string> known_encoder_architectures() {
    std::vector<std::string> names;
    for (const EncoderFamily& f : kEncoderFamilies) names.emplace_back(f.arch);
    return names;
}

std::unique_ptr<Encoder> load_encoder(const GgufFile& file, Backend& backend) {
    std::optional<std::string_view> arch = file.get_string("general.architecture");
    if (!arch) {
        throw Error(ErrorKind::bad_value, file.path(), "general.architecture", std::nullopt,
                    "an architecture name", "none (key missing)");
    }
    for (const EncoderFamily& f : kEncoderFamilies) {
        if (*arch == f.arch) return f.load(file, backend);
    }
    throw Error(
        ErrorKind::unsupported, file.path(), "general.architecture", std::nullopt,
        fmt::format("an encoder architecture ({})", fmt::join(known_encoder_architectures(), ", ")),
        fmt::format("{} (not an encoder model)", *arch));
}

Encoder::Encoder(Backend& backend, EncoderConfig config)
    : backend_(backend), config_(std::move(config)) {}

Encoder::~Encoder() {
    if (hidden_.data) backend_.free(hidden_);
}

void Encoder::run(std::span<const std::vector<int32_t>> seqs, std::vector<int64_t>& starts) {
    starts.assign(1, 0);
    for (size_t s = 0; s < seqs.size(); ++s) {
        const std::vector<int32_t>& seq = seqs[s];
        if (seq.empty() || seq.size() > size_t(config_.n_ctx_train)) {
            throw Error(ErrorKind::invalid_argument, "", fmt::format("sequence[{}]", s),
                        std::nullopt,
                        fmt::format("1 to {} tokens (the model's positions)", config_.n_ctx_train),
                        fmt::format("{} tokens", seq.size()));
        }
        for (size_t i = 0; i < seq.size(); ++i) {
            if (seq[i] < 0 || seq[i] >= config_.n_vocab) {
                throw Error(ErrorKind::invalid_argument, "",
                            fmt::format("sequence[{}].token[{}]", s, i), std::nullopt,
                            fmt::format("an id below {}", config_.n_vocab), std::to_string(seq[i]));
            }
        }
        starts.push_back(starts.back() + int64_t(seq.size()));
    }
    const int64_t n = starts.back();
    std::vector<int32_t> tokens, positions;
    tokens.reserve(size_t(n));
    positions.reserve(size_t(n));
    for (const std::vector<int32_t>& seq : seqs) {
        tokens.insert(tokens.end(), seq.begin(), seq.end());
        for (size_t i = 0; i < seq.size(); ++i) positions.push_back(int32_t(i));
    }
    if (hidden_.n_rows < n) {
        if (hidden_.data) backend_.free(hidden_);
        hidden_ = backend_.alloc(GgmlType::f32, config_.n_embd, n);
    }
    if (n > 0) forward(tokens, positions, starts, hidden_);
    host_.resize(size_t(n) * size_t(config_.n_embd));
    backend_.download(host_.data(), hidden_, host_.size() * sizeof(float));
}

void Encoder::hidden_states(std::span<const std::vector<int32_t>> seqs, std::vector<float>& out) {
    std::vector<int64_t> starts;
    run(seqs, starts);
    out = host_;
}

void Encoder::embed(std::span<const std::vector<int32_t>> seqs, std::vector<float>& out) {
    std::vector<int64_t> starts;
    run(seqs, starts);
    const size_t e = size_t(config_.n_embd);
    out.assign(seqs.size() * e, 0.0f);
    // Pooling reads a few rows per sequence; it runs on the host after the
    // one download rather than as a backend op.
    for (size_t s = 0; s < seqs.size(); ++s) {
        float* o = out.data() + s * e;
        const size_t begin = size_t(starts[s]), end = size_t(starts[s + 1]);
        switch (config_.pooling) {
            case Pooling::cls:
                std::memcpy(o, host_.data() + begin * e, e * sizeof(float));
                break;
            case Pooling::last:
                std::memcpy(o, host_.data() + (end - 1) * e, e * sizeof(float));
                break;
            case Pooling::none:
            case Pooling::mean: {
                std::vector<double> acc(e, 0.0);
                for (size_t t = begin; t < end; ++t)
                    for (size_t i = 0; i < e; ++i) acc[i] += host_[t * e + i];
                for (size_t i = 0; i < e; ++i) o[i] = float(acc[i] / double(end - begin));
                break;
            }
        }
    }
}

}  // namespace slim
