// Multiple-choice accuracy by log-likelihood (`slim mc`), scored as
// EleutherAI's lm-evaluation-harness scores its `multiple_choice` tasks:
//
//   - each item is a context and n endings; the continuation of ending i is
//     " " + ending (the harness's target_delimiter), and its score is the sum
//     of the log-probabilities of the continuation's tokens given the context;
//   - tokens as the harness's _encode_pair makes them: trailing spaces of the
//     context move to the continuation, the whole string context +
//     continuation is tokenized, and the continuation is the tokens after the
//     first len(tokenize(context)) (so a merge across the join counts for the
//     continuation). Both are tokenized with BOS where the vocabulary adds
//     one, as llama.cpp's llama-perplexity --hellaswag does;
//   - acc: the ending with the highest sum is right; acc_norm: the highest
//     sum divided by the ending's length in characters (Unicode code points
//     of the ending without the delimiter, Python's len()); ties go to the
//     lower index, as numpy.argmax;
//   - 95% confidence interval: normal approximation, +-1.96 sqrt(p(1-p)/n).
//
// The context is evaluated once per item; each ending then runs from the
// context's KV cache (truncated back to the shared prefix between endings).
//
// Task formats (docs/EVALUATION.md):
//   hellaswag      llama.cpp's 6 lines per item: context, gold index, 4 endings;
//   arc            llm-foundry jsonl: {"query": "Question: ...", "choices":
//                  [...], "gold": i}; the context is query + "\nAnswer:", the
//                  harness's arc_easy / arc_challenge doc_to_text;
//   generic jsonl  {"context": "...", "endings": [...], "gold": i}.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"
#include "runtime/tokenizer.h"

namespace slim {

struct McItem {
    std::string context;
    std::vector<std::string> endings;
    int gold = 0;
};

// Readers: Error(bad_value) naming the file and line for a malformed item
// (wrong line count, gold not an index of the endings, bad JSON, missing or
// mistyped field, empty ending), Error(invalid_argument) for a file with no
// items. `source` names the file in errors.
std::vector<McItem> read_hellaswag(std::string_view text, const std::string& source);
std::vector<McItem> read_arc_jsonl(std::string_view text, const std::string& source);
std::vector<McItem> read_mc_jsonl(std::string_view text, const std::string& source);

// A task file by its name: *.bz2 is decompressed (libbz2) first; *.jsonl /
// *.json is ARC when its first item has "query", else the generic jsonl;
// anything else is the HellaSwag text format. Error(io) when it cannot be
// read, Error(bad_value) when the bz2 stream is corrupt.
std::vector<McItem> load_mc_file(const std::string& path);

// bzip2 data -> bytes. Error(bad_value) naming `source` for corrupt data.
std::string bz2_decompress(std::string_view data, const std::string& source);

struct McOptions {
    int offset = 0;      // skip this many items first (to split a long run)
    int limit = -1;      // then score `limit` items; -1: all the rest
    std::string source;  // names the task file in errors
};

struct McItemResult {
    std::vector<double> logprob;  // per ending: sum of the continuation's log-probs
    std::vector<int> n_tokens;    // per ending: continuation tokens
    int pred = 0;                 // argmax logprob
    int pred_norm = 0;            // argmax logprob / characters
};

struct McProgress {
    int done = 0;
    int total = 0;
    double acc = 0, acc_norm = 0;  // running
    double seconds = 0;
};

struct McResult {
    int n_items = 0;
    int correct = 0, correct_norm = 0;
    double acc = 0, acc_norm = 0;
    double acc_ci = 0, acc_norm_ci = 0;  // half-width of the 95% interval
    std::vector<McItemResult> items;
    double seconds = 0;
    int64_t n_tokens_evaluated = 0;  // tokens run through the model
};

// Unicode code points in UTF-8 text (Python's len() of the decoded string).
size_t utf8_length(std::string_view text);

// Half-width of the 95% normal-approximation interval of a proportion.
double proportion_ci95(double p, int n);

// Scores options.limit items from options.offset. Throws
// Error(invalid_argument) for a limit of 0 or below -1, an offset outside the
// items, and for an item whose context + ending is longer
// than the model's trained context (naming the item), before evaluating any.
McResult mc_evaluate(Model& model, Backend& backend, const Tokenizer& tokenizer,
                     std::span<const McItem> items, const McOptions& options,
                     const std::function<void(const McProgress&)>& progress = {});

}  // namespace slim
