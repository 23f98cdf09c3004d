// `slim mc`: multiple-choice accuracy by log-likelihood (acc and acc_norm as
// lm-evaluation-harness defines them, see tools/mc.h) on HellaSwag, ARC-Easy,
// ARC-Challenge or a jsonl file of one's own. Scores go to stdout, the
// progress bar (with the running accuracy) to stderr.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli/commands.h"
#include "apps/cli/common.h"
#include "backend/backend.h"
#include "format/error.h"
#include "format/gguf.h"
#include "model/model.h"
#include "runtime/tokenizer.h"
#include "tools/mc.h"

namespace slim::cli {

namespace {

struct McCliOptions {
    std::string model;
    std::string task;
    std::string data_dir;
    std::optional<int> limit;
    int offset = 0;
    int n_threads = 0;
};

struct BuiltinTask {
    const char* name;
    const char* path;  // under the data directory
};

constexpr BuiltinTask kTasks[] = {
    {"hellaswag", "hellaswag/hellaswag_val_full.txt.bz2"},
    {"arc-easy", "arc/arc_easy_test.llm-foundry.jsonl"},
    {"arc-challenge", "arc/arc_challenge_test.llm-foundry.jsonl"},
};

std::string task_path(const McCliOptions& o) {
    for (const BuiltinTask& t : kTasks) {
        if (o.task == t.name) {
            const std::string dir = o.data_dir.empty() ? default_data_dir() : o.data_dir;
            return (std::filesystem::path(dir) / t.path).string();
        }
    }
    return o.task;
}

void run_mc(const McCliOptions& o) {
    if (o.limit && *o.limit <= 0) {
        throw Error(ErrorKind::invalid_argument, o.task, "--limit", std::nullopt, "at least 1 item",
                    std::to_string(*o.limit));
    }
    const std::string path = task_path(o);
    std::vector<McItem> items = load_mc_file(path);

    McOptions options;
    options.limit = o.limit.value_or(-1);
    options.offset = o.offset;
    options.source = path;

    GgufFile file = GgufFile::open(o.model);
    Tokenizer tokenizer = Tokenizer::load(file);
    auto backend = make_cpu_backend({o.n_threads});
    auto model = load_model(file, *backend, 512);

    const int n_rest = std::max(0, int(items.size()) - o.offset);
    const int n = options.limit > 0 ? std::min(n_rest, options.limit) : n_rest;
    fmt::print(stderr, "mc: {} on {} ({} of {} items), threads={}\n", o.model, path, n,
               items.size(), o.n_threads > 0 ? std::to_string(o.n_threads) : "all cores");
    ProgressBar bar("items");
    int last_shown = 0;
    McResult r = mc_evaluate(*model, *backend, tokenizer, items, options, [&](const McProgress& p) {
        // About 200 updates in all, and the last.
        if (p.done < p.total && p.done - last_shown < std::max(1, p.total / 200)) return;
        last_shown = p.done;
        bar.update(p.done, p.total, p.seconds,
                   fmt::format("acc {:.4f}  acc_norm {:.4f}", p.acc, p.acc_norm));
    });
    fmt::print("task: {} ({}), {} items{}\n", o.task, path, r.n_items,
               o.offset > 0 ? fmt::format(" from item {}", o.offset + 1) : "");
    fmt::print("acc      = {:.4f} +/- {:.4f} (95% CI, {}/{})\n", r.acc, r.acc_ci, r.correct,
               r.n_items);
    fmt::print("acc_norm = {:.4f} +/- {:.4f} (95% CI, {}/{})\n", r.acc_norm, r.acc_norm_ci,
               r.correct_norm, r.n_items);
    std::fflush(stdout);
    fmt::print(stderr, "mc: {:.1f} s ({:.2f} items/s, {} tokens evaluated), peak RSS {}\n",
               r.seconds, r.seconds > 0 ? r.n_items / r.seconds : 0.0, r.n_tokens_evaluated,
               human_bytes(double(peak_rss_bytes())));
}

}  // namespace

void add_mc_command(CLI::App& app) {
    auto o = std::make_shared<McCliOptions>();
    CLI::App* cmd = app.add_subcommand(
        "mc",
        "Multiple-choice accuracy by log-likelihood (acc, acc_norm as lm-evaluation-harness)");
    cmd->add_option("-m,--model", o->model, "GGUF model (default: Gemma 3 270M from `make demo`)");
    cmd->add_option("--task", o->task,
                    "hellaswag, arc-easy, arc-challenge, or a file: llama.cpp's HellaSwag text "
                    "(.txt, .bz2), llm-foundry ARC jsonl, or jsonl of "
                    "{\"context\",\"endings\",\"gold\"}")
        ->required();
    cmd->add_option("--limit", o->limit, "Score only the first N items (default: all)");
    cmd->add_option("--offset", o->offset, "Skip the first N items (to split a run)")
        ->check(CLI::Range(0, 1 << 30));
    cmd->add_option("--data-dir", o->data_dir,
                    "Where the built-in tasks are (default: ../shared/testdata/eval)");
    cmd->add_option("-t,--threads", o->n_threads, "Threads (default: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd->callback([o] {
        if (o->model.empty()) o->model = default_model_path();
        run_mc(*o);
    });
}

}  // namespace slim::cli
