#include "tools/classify.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "format/error.h"
#include "format/mapped_file.h"
#include "tools/text_lines.h"

namespace slim {

// ---- Training data ----

std::vector<LabeledText> parse_labeled_tsv(std::string_view bytes, const std::string& name) {
    std::vector<LabeledText> out;
    const std::vector<std::string_view> lines = split_lines(bytes);
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        const std::string field = fmt::format("line {}", i + 1);
        const size_t tab = line.find('\t');
        if (tab == std::string_view::npos) {
            throw Error(ErrorKind::bad_value, name, field, std::nullopt, "text<TAB>label",
                        line.empty() ? "an empty line" : "no tab");
        }
        if (line.find('\t', tab + 1) != std::string_view::npos) {
            throw Error(ErrorKind::bad_value, name, field, std::nullopt, "text<TAB>label (one tab)",
                        "more than one tab");
        }
        LabeledText t{std::string(line.substr(0, tab)), std::string(line.substr(tab + 1)), i + 1};
        auto blank = [](std::string_view s) {
            return s.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
        };
        if (blank(t.text)) {
            throw Error(ErrorKind::bad_value, name, field, std::nullopt,
                        "text<TAB>label with a non-empty text", "an empty text");
        }
        if (blank(t.label)) {
            throw Error(ErrorKind::bad_value, name, field, std::nullopt,
                        "text<TAB>label with a non-empty label", "an empty label");
        }
        out.push_back(std::move(t));
    }
    if (out.empty()) {
        throw Error(ErrorKind::bad_value, name, "lines", std::nullopt, "text<TAB>label lines",
                    "an empty file");
    }
    return out;
}

std::vector<LabeledText> read_labeled_tsv(const std::filesystem::path& path) {
    MappedFile f(path);
    const std::string_view text(reinterpret_cast<const char*>(f.bytes().data()), f.bytes().size());
    return parse_labeled_tsv(text, path.string());
}

// ---- Features ----

std::vector<std::string> parse_target_forms(std::string_view spec) {
    std::vector<std::string> forms;
    size_t begin = 0;
    while (true) {
        const size_t comma = std::min(spec.find(',', begin), spec.size());
        const std::string_view form = spec.substr(begin, comma - begin);
        if (form.empty() || form.find_first_of(" \t\r\n") != std::string_view::npos) {
            throw Error(ErrorKind::invalid_argument, "", "--target-word", std::nullopt,
                        "a word, or several forms of it separated by commas (interest,interests)",
                        fmt::format("'{}'", spec));
        }
        forms.emplace_back(form);
        if (comma == spec.size()) break;
        begin = comma + 1;
    }
    return forms;
}

namespace {

bool is_word_byte(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c >= 0x80;
}

unsigned char ascii_lower(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

std::string forms_text(std::span<const std::string> forms) {
    std::string s;
    for (size_t i = 0; i < forms.size(); ++i)
        s += fmt::format("{}'{}'", i == 0 ? "" : i + 1 == forms.size() ? " or " : ", ", forms[i]);
    return s;
}

}  // namespace

std::optional<ByteRange> find_target_word(std::string_view text,
                                          std::span<const std::string> forms) {
    for (size_t pos = 0; pos < text.size(); ++pos) {
        if (pos > 0 && is_word_byte(text[pos - 1])) continue;
        for (const std::string& form : forms) {
            const size_t end = pos + form.size();
            if (form.empty() || end > text.size()) continue;
            if (end < text.size() && is_word_byte(text[end])) continue;
            bool same = true;
            for (size_t k = 0; k < form.size() && same; ++k)
                same = ascii_lower(text[pos + k]) == ascii_lower(form[k]);
            if (same) return ByteRange{pos, end};
        }
    }
    return std::nullopt;
}

FeatureExtractor::FeatureExtractor(Embedder& embedder, std::vector<std::string> target_forms)
    : embedder_(embedder), forms_(std::move(target_forms)) {}

std::optional<std::pair<size_t, size_t>> FeatureExtractor::target_tokens(
    std::string_view text, std::span<const int32_t> ids) const {
    const std::optional<ByteRange> r = find_target_word(text, forms_);
    if (!r) return std::nullopt;
    // The word's tokens are those the text up to its end adds to the text
    // before it. That holds when the tokenizer splits at word boundaries
    // (WordPiece and the byte-level BPEs do), which the prefix checks verify.
    const Tokenizer& tok = embedder_.tokenizer();
    const std::vector<int32_t> before = tok.tokenize(text.substr(0, r->begin), false);
    const std::vector<int32_t> through = tok.tokenize(text.substr(0, r->end), false);
    const bool nested =
        through.size() > before.size() && std::equal(before.begin(), before.end(), through.begin());
    // Leading special tokens ([CLS], BOS): where `through` starts in ids.
    std::optional<size_t> lead;
    for (size_t l = 0; nested && l <= 2 && !lead; ++l) {
        const size_t n = std::min(through.size(), ids.size() > l ? ids.size() - l : 0);
        if (n > before.size() &&
            std::equal(through.begin(), through.begin() + ptrdiff_t(n), ids.begin() + ptrdiff_t(l)))
            lead = l;
    }
    if (!lead) {
        throw Error(ErrorKind::unsupported, "", "target word", std::nullopt,
                    "a tokenizer that splits the text at the word's boundaries",
                    fmt::format("'{}' tokenized together with its neighbours",
                                text.substr(r->begin, r->end - r->begin)));
    }
    return std::pair{*lead + before.size(), *lead + through.size()};
}

std::vector<float> FeatureExtractor::extract(
    std::span<const std::string> texts, std::span<const std::string> where, int batch,
    const std::function<void(const FeatureProgress&)>& progress) {
    if (batch <= 0) {
        throw Error(ErrorKind::invalid_argument, "", "batch", std::nullopt, "a positive size",
                    std::to_string(batch));
    }
    const auto t0 = std::chrono::steady_clock::now();
    const size_t e = size_t(embedder_.config().n_embd);
    const size_t n_ctx = size_t(embedder_.config().n_ctx_train);
    std::vector<std::vector<int32_t>> seqs(texts.size());
    std::vector<std::pair<size_t, size_t>> spans(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
        const std::string name = i < where.size() ? where[i] : fmt::format("text {}", i + 1);
        seqs[i] = embedder_.tokenize(texts[i]);
        if (forms_.empty()) continue;
        std::optional<std::pair<size_t, size_t>> s;
        try {
            s = target_tokens(texts[i], seqs[i]);
        } catch (const Error& err) {
            throw Error(err.kind(), name, err.field(), std::nullopt, err.expected(), err.found());
        }
        if (!s) {
            throw Error(ErrorKind::bad_value, name, "target word", std::nullopt,
                        fmt::format("a text containing {} (--target-word)", forms_text(forms_)),
                        "a line without it");
        }
        // The last position holds the closing special token of a truncated text.
        if (s->second + (seqs[i].size() == n_ctx ? 1 : 0) > seqs[i].size()) {
            throw Error(ErrorKind::bad_value, name, "target word", std::nullopt,
                        fmt::format("the word within the model's {} positions", n_ctx),
                        fmt::format("it at token {}", s->first));
        }
        spans[i] = *s;
    }

    std::vector<float> out(texts.size() * e), hidden;
    for (size_t begin = 0; begin < seqs.size(); begin += size_t(batch)) {
        const size_t n = std::min(seqs.size() - begin, size_t(batch));
        const auto chunk = std::span(seqs).subspan(begin, n);
        if (forms_.empty()) {
            embedder_.encoder().embed(chunk, hidden);
            std::copy(hidden.begin(), hidden.end(), out.begin() + ptrdiff_t(begin * e));
        } else {
            embedder_.encoder().hidden_states(chunk, hidden);
            size_t row = 0;  // first token of sequence begin + s in `hidden`
            for (size_t s = 0; s < n; ++s) {
                const auto [first, last] = spans[begin + s];
                std::vector<double> acc(e, 0.0);
                for (size_t t = first; t < last; ++t)
                    for (size_t j = 0; j < e; ++j) acc[j] += hidden[(row + t) * e + j];
                float* o = out.data() + (begin + s) * e;
                for (size_t j = 0; j < e; ++j) o[j] = float(acc[j] / double(last - first));
                row += chunk[s].size();
            }
        }
        if (progress) {
            const double sec =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            progress({begin + n, seqs.size(), sec});
        }
    }
    return out;
}

// ---- Evaluation ----

ClassMetrics class_metrics(std::span<const size_t> confusion, int n_classes) {
    const size_t c_n = size_t(n_classes);
    ClassMetrics m;
    m.precision.assign(c_n, 0.0);
    m.recall.assign(c_n, 0.0);
    m.f1.assign(c_n, 0.0);
    size_t correct = 0;
    for (size_t c = 0; c < c_n; ++c) {
        size_t support = 0, predicted = 0;
        for (size_t k = 0; k < c_n; ++k) {
            support += confusion[c * c_n + k];
            predicted += confusion[k * c_n + c];
        }
        const size_t tp = confusion[c * c_n + c];
        correct += tp;
        m.n += support;
        if (predicted > 0) m.precision[c] = double(tp) / double(predicted);
        if (support > 0) m.recall[c] = double(tp) / double(support);
        const double pr = m.precision[c] + m.recall[c];
        if (pr > 0) m.f1[c] = 2 * m.precision[c] * m.recall[c] / pr;
    }
    m.accuracy = m.n > 0 ? double(correct) / double(m.n) : 0.0;
    m.macro_f1 = c_n > 0 ? std::accumulate(m.f1.begin(), m.f1.end(), 0.0) / double(c_n) : 0.0;
    return m;
}

namespace {

// SplitMix64: a tiny generator whose output is fixed by its definition, so
// folds are the same with every standard library (std::shuffle's are not).
struct SplitMix64 {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

std::vector<size_t> class_counts(std::span<const int> y, int n_classes) {
    std::vector<size_t> counts(size_t(n_classes), 0);
    for (int v : y) ++counts[size_t(v)];
    return counts;
}

}  // namespace

std::vector<int> stratified_folds(std::span<const int> y, int n_classes, int k, uint64_t seed) {
    const std::vector<size_t> counts = class_counts(y, n_classes);
    const size_t smallest = *std::min_element(counts.begin(), counts.end());
    if (k < 2 || size_t(k) > smallest) {
        throw Error(
            ErrorKind::invalid_argument, "", "folds", std::nullopt,
            fmt::format("2 to {} folds (the smallest class has {} examples)", smallest, smallest),
            std::to_string(k));
    }
    SplitMix64 rng{seed};
    std::vector<int> fold(y.size(), 0);
    size_t dealt = 0;
    for (int c = 0; c < n_classes; ++c) {
        std::vector<size_t> idx;
        for (size_t i = 0; i < y.size(); ++i)
            if (y[i] == c) idx.push_back(i);
        for (size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.next() % i]);
        for (size_t i : idx) fold[i] = int(dealt++ % size_t(k));
    }
    return fold;
}

namespace {

std::vector<double> to_double(std::span<const float> x) {
    return std::vector<double>(x.begin(), x.end());
}

int argmax(std::span<const double> p) {
    return int(std::max_element(p.begin(), p.end()) - p.begin());
}

}  // namespace

CvReport cross_validate(std::span<const float> features, int n_features, std::span<const int> y,
                        int n_classes, const CvOptions& options) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int> fold = stratified_folds(y, n_classes, options.folds, options.seed);
    const size_t d = size_t(n_features), c_n = size_t(n_classes);
    CvReport report;
    report.n_classes = n_classes;
    report.confusion.assign(c_n * c_n, 0);
    report.majority_confusion.assign(c_n * c_n, 0);
    for (int f = 0; f < options.folds; ++f) {
        std::vector<double> x_train, x_test;
        std::vector<int> y_train, y_test;
        for (size_t i = 0; i < y.size(); ++i) {
            const auto row = features.subspan(i * d, d);
            std::vector<double>& x = fold[i] == f ? x_test : x_train;
            x.insert(x.end(), row.begin(), row.end());
            (fold[i] == f ? y_test : y_train).push_back(y[i]);
        }
        const Standardizer st = Standardizer::fit(x_train, n_features);
        st.apply(x_train);
        st.apply(x_test);
        const LogRegFit fit = logreg_train(x_train, y_train, n_classes, n_features, options.logreg);
        std::vector<double> probs;
        logreg_probabilities(fit.model, x_test, probs);

        const std::vector<size_t> counts = class_counts(y_train, n_classes);
        CvFold r;
        r.n_test = y_test.size();
        r.majority_class = int(std::max_element(counts.begin(), counts.end()) - counts.begin());
        r.iterations = fit.iterations;
        r.converged = fit.converged;
        std::vector<size_t> conf(c_n * c_n, 0), maj(c_n * c_n, 0);
        for (size_t i = 0; i < y_test.size(); ++i) {
            const size_t truth = size_t(y_test[i]);
            ++conf[truth * c_n + size_t(argmax(std::span(probs).subspan(i * c_n, c_n)))];
            ++maj[truth * c_n + size_t(r.majority_class)];
        }
        r.metrics = class_metrics(conf, n_classes);
        r.majority = class_metrics(maj, n_classes);
        for (size_t k = 0; k < conf.size(); ++k) {
            report.confusion[k] += conf[k];
            report.majority_confusion[k] += maj[k];
        }
        report.folds.push_back(std::move(r));
    }
    report.pooled = class_metrics(report.confusion, n_classes);
    report.majority_pooled = class_metrics(report.majority_confusion, n_classes);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return report;
}

// ---- Heads: training and prediction ----

HeadFit train_head(std::span<const float> features, int n_features, std::span<const int> y,
                   std::vector<std::string> labels, const LogRegOptions& options) {
    const size_t d = size_t(n_features);
    std::vector<double> x = to_double(features);
    const Standardizer st = Standardizer::fit(x, n_features);
    st.apply(x);
    HeadFit out;
    out.fit = logreg_train(x, y, int(labels.size()), n_features, options);
    ClassifierHead& h = out.head;
    const size_t c_n = labels.size();
    h.labels = std::move(labels);
    h.n_embd = n_features;
    h.l2 = options.l2;
    h.n_train = y.size();
    h.weight.resize(c_n * d);
    h.bias.resize(c_n);
    // w.((x - mean) * inv_std) + b = (w * inv_std).x + (b - (w * inv_std).mean)
    for (size_t c = 0; c < c_n; ++c) {
        double b = out.fit.model.bias[c];
        for (size_t j = 0; j < d; ++j) {
            const double w = out.fit.model.weight[c * d + j] * st.inv_std[j];
            h.weight[c * d + j] = float(w);
            b -= w * st.mean[j];
        }
        h.bias[c] = float(b);
    }
    const std::vector<float> p = head_probabilities(h, features);
    size_t correct = 0;
    for (size_t i = 0; i < y.size(); ++i) {
        const auto row = std::span(p).subspan(i * c_n, c_n);
        correct += size_t(std::max_element(row.begin(), row.end()) - row.begin()) == size_t(y[i]);
    }
    out.train_accuracy = y.empty() ? 0.0 : double(correct) / double(y.size());
    return out;
}

std::vector<float> head_probabilities(const ClassifierHead& head, std::span<const float> features) {
    const size_t d = size_t(head.n_embd), c_n = head.labels.size();
    const size_t n = d > 0 ? features.size() / d : 0;
    std::vector<float> out(n * c_n);
    std::vector<double> z(c_n);
    for (size_t i = 0; i < n; ++i) {
        const float* x = features.data() + i * d;
        for (size_t c = 0; c < c_n; ++c) {
            double s = head.bias[c];
            const float* w = head.weight.data() + c * d;
            for (size_t j = 0; j < d; ++j) s += double(w[j]) * x[j];
            z[c] = s;
        }
        const double zmax = *std::max_element(z.begin(), z.end());
        double sum = 0;
        for (double& v : z) sum += (v = std::exp(v - zmax));
        for (size_t c = 0; c < c_n; ++c) out[i * c_n + c] = float(z[c] / sum);
    }
    return out;
}

}  // namespace slim
