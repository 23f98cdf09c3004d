// Text classification on an encoder's embeddings (`slim classify`): a
// softmax-regression head (tools/logreg.h) trained on the pooled sentence
// embedding of each text, or, for word-sense classification, on the
// contextual embedding of one word in it.
//
//   - Training data is text<TAB>label, one example per line.
//   - Features: the model's pooled embedding (as `slim embed` computes it), or
//     with target forms the mean of the last hidden states of the tokens of
//     the first occurrence of any of the forms in the text (ASCII
//     case-insensitive, on word boundaries: the bytes around it are not
//     letters, digits, '_' or non-ASCII). A line without the word is an error.
//   - Features are standardised (mean 0, variance 1 per dimension, on the
//     training rows) before the regression; the head stores the weights with
//     the standardisation folded in, so predicting is one affine map and a
//     softmax on the raw features.
//   - Cross-validation is stratified k-fold with a seeded, portable shuffle
//     (SplitMix64), so a seed gives the same folds on every machine.
//
// The head is a small GGUF (docs/FORMATS.md, "Classifier heads") that records
// the encoder it was trained on (name and a hash of its tensors); predicting
// with another encoder is refused.
//
// Library code: no printing; progress goes through a callback.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "format/gguf.h"
#include "tools/embed.h"
#include "tools/logreg.h"

namespace slim {

// ---- Training data ----

struct LabeledText {
    std::string text;
    std::string label;
    size_t line = 0;  // 1-based, in the file
};

// text<TAB>label lines ("\n" or "\r\n"; a final newline is optional). Throws
// Error naming `name` and the line for a line without exactly one tab, or with
// an empty text or label, and for a file with no lines.
std::vector<LabeledText> parse_labeled_tsv(std::string_view bytes, const std::string& name);
std::vector<LabeledText> read_labeled_tsv(const std::filesystem::path& path);

// ---- Features ----

// "interest,interests" -> {"interest", "interests"}. Throws
// Error(invalid_argument) for an empty form or one with a space or a tab.
std::vector<std::string> parse_target_forms(std::string_view spec);

struct ByteRange {
    size_t begin = 0, end = 0;
};
// The first occurrence in `text` of any of `forms` (see above), or nullopt.
std::optional<ByteRange> find_target_word(std::string_view text,
                                          std::span<const std::string> forms);

struct FeatureProgress {
    size_t done = 0, total = 0;
    double seconds = 0;
};

// Embeds texts into classifier features with an Embedder.
class FeatureExtractor {
  public:
    // target_forms empty: the model's pooled embedding.
    FeatureExtractor(Embedder& embedder, std::vector<std::string> target_forms);

    // n_texts x n_embd floats. `where` names each text for errors ("file:line")
    // and has one entry per text. Throws Error naming it for a text without the
    // target word, or whose word lies past the model's positions.
    std::vector<float> extract(std::span<const std::string> texts,
                               std::span<const std::string> where, int batch,
                               const std::function<void(const FeatureProgress&)>& progress = {});

    // The token range [begin, end) of the target word in `ids`, which are
    // embedder.tokenize(text) (nullopt when the text lacks the word). Throws
    // Error(unsupported) when the tokenizer merges the word with its
    // neighbours, so no token range is the word.
    std::optional<std::pair<size_t, size_t>> target_tokens(std::string_view text,
                                                           std::span<const int32_t> ids) const;

  private:
    Embedder& embedder_;
    std::vector<std::string> forms_;
};

// ---- Evaluation ----

// Accuracy and macro-F1 (the unweighted mean over the classes of each class's
// F1; a class never predicted has precision 0) of a confusion matrix,
// n_classes x n_classes, rows the true class, columns the predicted one.
struct ClassMetrics {
    double accuracy = 0, macro_f1 = 0;
    std::vector<double> precision, recall, f1;  // per class
    size_t n = 0;
};
ClassMetrics class_metrics(std::span<const size_t> confusion, int n_classes);

// The fold (0..k-1) of each example: each class's examples shuffled with the
// seed and dealt round-robin, continuing across classes, so every fold gets
// floor or ceil of its share of each class and folds differ in size by at
// most one. Needs 2 <= k <= the smallest class count.
std::vector<int> stratified_folds(std::span<const int> y, int n_classes, int k, uint64_t seed);

struct CvOptions {
    int folds = 5;
    uint64_t seed = 0;
    LogRegOptions logreg;
};

struct CvFold {
    size_t n_test = 0;
    ClassMetrics metrics;
    ClassMetrics majority;  // predicting the training folds' most frequent class
    int majority_class = 0;
    int iterations = 0;
    bool converged = false;
};

struct CvReport {
    int n_classes = 0;
    std::vector<CvFold> folds;
    std::vector<size_t> confusion;           // summed over the folds' test rows
    std::vector<size_t> majority_confusion;  // the same for the majority baseline
    ClassMetrics pooled, majority_pooled;    // of those two matrices
    double seconds = 0;
};

// Stratified k-fold cross-validation of the regression on `features`
// (n x n_features floats), standardised per training fold. Throws
// Error(invalid_argument) for folds outside [2, smallest class count].
CvReport cross_validate(std::span<const float> features, int n_features, std::span<const int> y,
                        int n_classes, const CvOptions& options);

// ---- Heads ----

struct ClassifierHead {
    std::vector<std::string> labels;
    int n_embd = 0;
    std::vector<float> weight;  // labels.size() rows of n_embd, on raw (unstandardised) features
    std::vector<float> bias;    // labels.size()
    std::vector<std::string> target_forms;  // empty: pooled sentence embedding
    std::string encoder_name;               // general.name of the encoder GGUF
    std::string encoder_hash;               // encoder_fingerprint() of it
    double l2 = 0;
    uint64_t n_train = 0;
};

// "xxh3-64:<16 hex digits>" over every tensor's name, type, shape and bytes,
// in file order: the same weights give the same hash whatever the metadata.
std::string encoder_fingerprint(const GgufFile& model);

struct HeadFit {
    ClassifierHead head;
    LogRegFit fit;
    double train_accuracy = 0;
};
// Standardises the features, trains on all of them and folds the
// standardisation into the weights.
HeadFit train_head(std::span<const float> features, int n_features, std::span<const int> y,
                   std::vector<std::string> labels, const LogRegOptions& options);

// Class probabilities, n x labels.size(), of n rows of head.n_embd features.
std::vector<float> head_probabilities(const ClassifierHead& head, std::span<const float> features);

// Writes through a temporary file renamed into place. Throws Error.
void write_classifier_head(const std::filesystem::path& path, const ClassifierHead& head);
// Throws Error naming the file and key for a GGUF that is not a classifier
// head (general.architecture is not "classifier") or a malformed one.
ClassifierHead read_classifier_head(const GgufFile& file);
// Throws Error(bad_value) naming head_path when the head was trained on
// another encoder than `model` (by hash) or for other dimensions.
void check_head_matches(const ClassifierHead& head, const std::string& head_path,
                        const GgufFile& model, int model_n_embd);

}  // namespace slim
