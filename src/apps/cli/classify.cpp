// `slim classify train -m MODEL --data train.tsv -o head.gguf [--folds 5] [--l2 L[,L2...]]
//  [--target-word W[,W2...]] [--batch 32] [-t N] [--seed S]` and
// `slim classify predict -m MODEL --head head.gguf [-f FILE | -p TEXT...]
//  [--format tsv|jsonl]`: a logistic-regression head on an encoder's
// embeddings (src/tools/classify.h). Reports and predictions go to stdout;
// progress and timings to stderr.
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/cli/commands.h"
#include "apps/cli/common.h"
#include "format/error.h"
#include "format/mapped_file.h"
#include "tools/classify.h"
#include "tools/text_lines.h"

namespace slim::cli {

namespace {

struct TrainOptions {
    std::string model, data, out, target_word;
    int folds = 5;
    std::string l2 = "0.001";
    int batch = 32;
    int n_threads = 0;
    uint64_t seed = 0;
};

struct PredictOptions {
    std::string model, head, file, format = "tsv";
    std::vector<std::string> prompts;
    int batch = 32;
    int n_threads = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Embeds with a progress bar on stderr (redrawn on a terminal, a line per
// tenth of the work on a log; nothing for a few texts).
std::vector<float> extract_features(FeatureExtractor& fx, const std::vector<std::string>& texts,
                                    const std::vector<std::string>& where, int batch) {
    ProgressBar bar("texts");
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    size_t last_tenth = 0;
    return fx.extract(texts, where, batch, [&](const FeatureProgress& p) {
        if (p.total < 256) return;
        const size_t tenth = p.done * 10 / p.total;
        if (!tty && tenth == last_tenth && p.done < p.total) return;
        last_tenth = tenth;
        bar.update(int(p.done), int(p.total), p.seconds, "");
    });
}

std::vector<double> parse_l2_values(const std::string& spec) {
    std::vector<double> out;
    size_t begin = 0;
    while (begin <= spec.size()) {
        const size_t comma = std::min(spec.find(',', begin), spec.size());
        const std::string v = spec.substr(begin, comma - begin);
        char* end = nullptr;
        const double x = v.empty() ? -1 : std::strtod(v.c_str(), &end);
        if (v.empty() || end != v.c_str() + v.size() || !(x >= 0) || !std::isfinite(x)) {
            throw Error(ErrorKind::invalid_argument, "", "--l2", std::nullopt,
                        "penalties >= 0 separated by commas (0.001 or 0.0001,0.001,0.01)",
                        fmt::format("'{}'", spec));
        }
        out.push_back(x);
        begin = comma + 1;
    }
    return out;
}

std::string feature_text(const std::vector<std::string>& forms) {
    if (forms.empty()) return "pooled sentence embedding";
    return fmt::format("target word {} (mean of its tokens' last hidden states)",
                       fmt::join(forms, "|"));
}

// Confusion matrix and per-class table, labels as names.
std::string format_cv_report(const CvReport& r, const std::vector<std::string>& labels,
                             const TrainOptions& o, double l2) {
    const size_t c_n = labels.size();
    std::string s =
        fmt::format("{}-fold cross-validation (stratified, seed {}), L2 {:g}, {} lines:\n",
                    r.folds.size(), o.seed, l2, r.pooled.n);
    s += fmt::format("{:>6} {:>6} {:>9} {:>9} {:>15}\n", "fold", "lines", "accuracy", "macro-F1",
                     "majority acc.");
    double sum_acc = 0, sum_f1 = 0, sq_acc = 0, sq_f1 = 0;
    for (size_t f = 0; f < r.folds.size(); ++f) {
        const CvFold& k = r.folds[f];
        s += fmt::format("{:>6} {:>6} {:>9.4f} {:>9.4f} {:>15.4f}{}\n", f + 1, k.n_test,
                         k.metrics.accuracy, k.metrics.macro_f1, k.majority.accuracy,
                         k.converged ? "" : "  (not converged)");
        sum_acc += k.metrics.accuracy;
        sum_f1 += k.metrics.macro_f1;
        sq_acc += k.metrics.accuracy * k.metrics.accuracy;
        sq_f1 += k.metrics.macro_f1 * k.metrics.macro_f1;
    }
    const double n = double(r.folds.size());
    auto sd = [n](double sum, double sq) {
        return n > 1 ? std::sqrt(std::max(0.0, (sq - sum * sum / n) / (n - 1))) : 0.0;
    };
    s += fmt::format("{:>6} {:>6} {:>9.4f} {:>9.4f}   (sd over folds: {:.4f}, {:.4f})\n", "mean",
                     "", sum_acc / n, sum_f1 / n, sd(sum_acc, sq_acc), sd(sum_f1, sq_f1));
    // The majority class of the training folds; the same on every fold unless
    // two classes are nearly tied.
    std::map<int, int> majority;
    for (const CvFold& k : r.folds) ++majority[k.majority_class];
    const int maj = std::max_element(majority.begin(), majority.end(), [](auto& a, auto& b) {
                        return a.second < b.second;
                    })->first;
    s += fmt::format(
        "classifier:              accuracy {:.4f}, macro-F1 {:.4f} (all {} held-out "
        "predictions)\n",
        r.pooled.accuracy, r.pooled.macro_f1, r.pooled.n);
    s += fmt::format("majority-class baseline: accuracy {:.4f}, macro-F1 {:.4f} (always '{}')\n",
                     r.majority_pooled.accuracy, r.majority_pooled.macro_f1, labels[size_t(maj)]);

    size_t width = 5;
    for (const std::string& l : labels) width = std::max(width, l.size());
    s += fmt::format("\n{:<{}} {:>6} {:>9} {:>7} {:>7}\n", "label", width, "lines", "precision",
                     "recall", "F1");
    for (size_t c = 0; c < c_n; ++c) {
        size_t support = 0;
        for (size_t k = 0; k < c_n; ++k) support += r.confusion[c * c_n + k];
        s += fmt::format("{:<{}} {:>6} {:>9.4f} {:>7.4f} {:>7.4f}\n", labels[c], width, support,
                         r.pooled.precision[c], r.pooled.recall[c], r.pooled.f1[c]);
    }
    s += "\nconfusion matrix (rows: true label, columns: predicted), held-out predictions:\n";
    s += fmt::format("{:<{}}", "", width);
    for (const std::string& l : labels)
        s += fmt::format(" {:>{}}", l, std::max<size_t>(l.size(), 5));
    s += "\n";
    for (size_t c = 0; c < c_n; ++c) {
        s += fmt::format("{:<{}}", labels[c], width);
        for (size_t k = 0; k < c_n; ++k)
            s += fmt::format(" {:>{}}", r.confusion[c * c_n + k],
                             std::max<size_t>(labels[k].size(), 5));
        s += "\n";
    }
    return s;
}

void run_train(const TrainOptions& o) {
    const auto t0 = std::chrono::steady_clock::now();
    // Everything that can be checked without the model is checked first.
    const std::vector<LabeledText> rows = read_labeled_tsv(o.data);
    std::map<std::string, size_t> counts;
    for (const LabeledText& r : rows) ++counts[r.label];
    std::vector<std::string> labels;
    for (const auto& [label, n] : counts) labels.push_back(label);
    if (labels.size() < 2) {
        throw Error(ErrorKind::bad_value, o.data, "labels", std::nullopt,
                    "at least two different labels",
                    fmt::format("only '{}' ({} lines)", labels[0], rows.size()));
    }
    const auto smallest = std::min_element(counts.begin(), counts.end(),
                                           [](auto& a, auto& b) { return a.second < b.second; });
    if (o.folds == 1 || o.folds > int(smallest->second)) {
        throw Error(ErrorKind::invalid_argument, o.data, "--folds", std::nullopt,
                    fmt::format("0 (no cross-validation) or 2 to {}: every fold needs a line of "
                                "each label, and the smallest, '{}', has {} lines",
                                smallest->second, smallest->first, smallest->second),
                    std::to_string(o.folds));
    }
    const std::vector<double> l2s = parse_l2_values(o.l2);
    if (l2s.size() > 1 && o.folds == 0) {
        throw Error(ErrorKind::invalid_argument, "", "--l2", std::nullopt,
                    "one value when --folds is 0 (several are chosen between by cross-validation)",
                    o.l2);
    }
    const std::vector<std::string> forms =
        o.target_word.empty() ? std::vector<std::string>{} : parse_target_forms(o.target_word);

    std::vector<std::string> texts, where;
    std::vector<int> y;
    for (const LabeledText& r : rows) {
        texts.push_back(r.text);
        where.push_back(fmt::format("{}:{}", o.data, r.line));
        y.push_back(int(std::lower_bound(labels.begin(), labels.end(), r.label) - labels.begin()));
    }

    GgufFile file = GgufFile::open(o.model);
    auto backend = make_cpu_backend({o.n_threads});
    Embedder embedder(file, *backend);
    const EncoderConfig& c = embedder.config();
    fmt::print(stderr, "classify: {} ({}, {} dims), {} lines, {} labels, {}, {}\n", o.model, c.arch,
               c.n_embd, rows.size(), labels.size(), feature_text(forms), backend->name());
    FeatureExtractor fx(embedder, forms);
    const auto t_embed = std::chrono::steady_clock::now();
    const std::vector<float> features = extract_features(fx, texts, where, o.batch);
    const double embed_s = seconds_since(t_embed);
    fmt::print(stderr, "classify: embedded {} texts in {:.2f} s ({:.1f} texts/s)\n", texts.size(),
               embed_s, embed_s > 0 ? double(texts.size()) / embed_s : 0.0);

    LogRegOptions lr;
    lr.l2 = l2s[0];
    std::string report = fmt::format(
        "data:    {} ({} lines, {} labels)\nmodel:   {} ({})\n"
        "feature: {}\n",
        o.data, rows.size(), labels.size(), o.model,
        file.get_string("general.name").value_or("unnamed"), feature_text(forms));
    double cv_s = 0;
    if (o.folds >= 2) {
        // Several penalties: each is cross-validated on the same folds and the
        // best mean accuracy wins (the first on a tie).
        std::vector<CvReport> reports;
        size_t best = 0;
        for (size_t k = 0; k < l2s.size(); ++k) {
            CvOptions cv;
            cv.folds = o.folds;
            cv.seed = o.seed;
            cv.logreg = lr;
            cv.logreg.l2 = l2s[k];
            reports.push_back(cross_validate(features, c.n_embd, y, int(labels.size()), cv));
            cv_s += reports.back().seconds;
            if (reports[k].pooled.accuracy > reports[best].pooled.accuracy) best = k;
        }
        if (l2s.size() > 1) {
            report += fmt::format("\nL2 penalties, {}-fold cross-validation each:\n", o.folds);
            report += fmt::format("{:>10} {:>9} {:>9}\n", "l2", "accuracy", "macro-F1");
            for (size_t k = 0; k < l2s.size(); ++k) {
                report +=
                    fmt::format("{:>10g} {:>9.4f} {:>9.4f}{}\n", l2s[k], reports[k].pooled.accuracy,
                                reports[k].pooled.macro_f1, k == best ? "  <- chosen" : "");
            }
            report +=
                "(the chosen penalty's figures below are optimistic: it was picked on them)\n";
        }
        lr.l2 = l2s[best];
        report += "\n" + format_cv_report(reports[best], labels, o, lr.l2);
    }
    const auto t_fit = std::chrono::steady_clock::now();
    HeadFit hf = train_head(features, c.n_embd, y, labels, lr);
    hf.head.target_forms = forms;
    hf.head.encoder_name = std::string(file.get_string("general.name").value_or("unnamed"));
    hf.head.encoder_hash = encoder_fingerprint(file);
    write_classifier_head(o.out, hf.head);
    const double fit_s = seconds_since(t_fit);
    report += fmt::format(
        "\nhead: trained on all {} lines ({} L-BFGS iterations{}, training accuracy {:.4f}), "
        "written to {}\n",
        rows.size(), hf.fit.iterations, hf.fit.converged ? "" : ", NOT converged",
        hf.train_accuracy, o.out);
    fmt::print("{}", report);
    std::fflush(stdout);
    fmt::print(stderr,
               "classify: embedding {:.2f} s, cross-validation {:.2f} s, final fit {:.2f} s, "
               "total {:.2f} s, peak RSS {}\n",
               embed_s, cv_s, fit_s, seconds_since(t0), human_bytes(double(peak_rss_bytes())));
}

std::vector<std::string> read_text_lines(const std::string& path) {
    MappedFile f(path);
    const std::string_view text(reinterpret_cast<const char*>(f.bytes().data()), f.bytes().size());
    std::vector<std::string> lines;
    for (std::string_view line : split_lines(text)) {
        if (line.find_first_not_of(" \t\r\f\v") == std::string_view::npos) {
            throw Error(ErrorKind::bad_value, path, fmt::format("line {}", lines.size() + 1),
                        std::nullopt, "a text to classify", "an empty line");
        }
        lines.emplace_back(line);
    }
    if (lines.empty()) {
        throw Error(ErrorKind::bad_value, path, "lines", std::nullopt, "at least one line of text",
                    "an empty file");
    }
    return lines;
}

void run_predict(const PredictOptions& o) {
    if (o.format != "tsv" && o.format != "jsonl") {
        throw Error(ErrorKind::invalid_argument, "", "--format", std::nullopt, "tsv or jsonl",
                    o.format);
    }
    if (o.file.empty() == o.prompts.empty()) {
        throw Error(ErrorKind::invalid_argument, "", "input", std::nullopt,
                    "exactly one of -f FILE or -p TEXT...", o.file.empty() ? "none" : "both");
    }
    const std::vector<std::string> texts = o.file.empty() ? o.prompts : read_text_lines(o.file);
    std::vector<std::string> where;
    for (size_t i = 0; i < texts.size(); ++i)
        where.push_back(o.file.empty() ? fmt::format("-p #{}", i + 1)
                                       : fmt::format("{}:{}", o.file, i + 1));

    const GgufFile head_file = GgufFile::open(o.head);
    const ClassifierHead head = read_classifier_head(head_file);
    GgufFile file = GgufFile::open(o.model);
    auto backend = make_cpu_backend({o.n_threads});
    Embedder embedder(file, *backend);
    check_head_matches(head, o.head, file, embedder.config().n_embd);
    fmt::print(stderr, "classify: {} labels, {}, {} texts, {}\n", head.labels.size(),
               feature_text(head.target_forms), texts.size(), backend->name());
    FeatureExtractor fx(embedder, head.target_forms);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> features = extract_features(fx, texts, where, o.batch);
    const std::vector<float> probs = head_probabilities(head, features);
    const size_t c_n = head.labels.size();
    std::string out;
    for (size_t i = 0; i < texts.size(); ++i) {
        const auto p = std::span(probs).subspan(i * c_n, c_n);
        const size_t best = size_t(std::max_element(p.begin(), p.end()) - p.begin());
        if (o.format == "tsv") {
            out += fmt::format("{}\t{:.6f}\n", head.labels[best], p[best]);
        } else {
            nlohmann::ordered_json j;
            j["index"] = i;
            j["label"] = head.labels[best];
            j["probability"] = p[best];
            nlohmann::ordered_json all;
            for (size_t c = 0; c < c_n; ++c) all[head.labels[c]] = p[c];
            j["probabilities"] = all;
            out += j.dump() + "\n";
        }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    const double s = seconds_since(t0);
    fmt::print(stderr, "classify: {} texts in {:.2f} s ({:.1f} texts/s), peak RSS {}\n",
               texts.size(), s, s > 0 ? double(texts.size()) / s : 0.0,
               human_bytes(double(peak_rss_bytes())));
}

}  // namespace

void add_classify_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand(
        "classify", "Train and apply a logistic-regression classifier on encoder embeddings");
    cmd->require_subcommand(1);

    auto t = std::make_shared<TrainOptions>();
    CLI::App* train = cmd->add_subcommand(
        "train", "Train a head on text<TAB>label lines, with a k-fold cross-validation report");
    train->add_option("-m,--model", t->model, "Encoder GGUF (slim convert writes one)")->required();
    train->add_option("--data", t->data, "Training data: text<TAB>label, one per line")->required();
    train->add_option("-o,--output", t->out, "The head to write (GGUF)")->required();
    train->add_option("--folds", t->folds, "Cross-validation folds (0: none)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000));
    train
        ->add_option("--l2", t->l2,
                     "L2 penalty on the standardised features' weights; several "
                     "(0.0001,0.001,0.01) are cross-validated and the best is used")
        ->capture_default_str();
    train->add_option("--target-word", t->target_word,
                      "Classify the contextual embedding of this word (first occurrence; "
                      "several forms: hard,harder,hardest) instead of the pooled sentence");
    train->add_option("-b,--batch", t->batch, "Texts per forward pass")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 16));
    train->add_option("-t,--threads", t->n_threads, "Threads (default: one per core)")
        ->check(CLI::Range(0, 1024));
    train->add_option("--seed", t->seed, "Seed of the fold assignment")->capture_default_str();
    train->callback([t] { run_train(*t); });

    auto p = std::make_shared<PredictOptions>();
    CLI::App* predict =
        cmd->add_subcommand("predict", "Label texts with a trained head: label<TAB>probability");
    predict->add_option("-m,--model", p->model, "The encoder GGUF the head was trained on")
        ->required();
    predict->add_option("--head", p->head, "Head written by slim classify train")->required();
    predict->add_option("-f,--file", p->file, "Texts to classify, one per line");
    predict->add_option("-p,--prompt", p->prompts, "Texts to classify (repeatable)");
    predict->add_option("--format", p->format, "Output: tsv (label, probability) or jsonl")
        ->capture_default_str();
    predict->add_option("-b,--batch", p->batch, "Texts per forward pass")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 16));
    predict->add_option("-t,--threads", p->n_threads, "Threads (default: one per core)")
        ->check(CLI::Range(0, 1024));
    predict->callback([p] { run_predict(*p); });
}

}  // namespace slim::cli
