// `slim bench`: prefill (pp) and decode (tg) tokens/s as llama-bench measures
// them, with llama-bench's table, JSON and CSV; --profile splits the time by
// op kind, --memory breaks memory down by context size, --requests times real
// prompts. Results go to stdout, progress to stderr.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "apps/cli/commands.h"
#include "apps/cli/common.h"
#include "backend/backend.h"
#include "backend/profiling_backend.h"
#include "format/error.h"
#include "format/gguf.h"
#include "model/model.h"
#include "runtime/tokenizer.h"
#include "slim/version.h"
#include "tools/bench.h"
#include "tools/bench_report.h"

namespace slim::cli {

namespace {

struct BenchCliOptions {
    std::string model;
    std::vector<int> n_prompt = {512};
    std::vector<int> n_gen = {128};
    std::vector<int> n_threads;
    int repetitions = 5;
    std::string output = "md";
    bool profile = false;
    bool memory = false;
    std::vector<int> memory_ctx = {512, 2048, 8192, 32768};
    std::string requests;
    uint32_t seed = 1;
};

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon != std::string::npos) {
                const size_t start = line.find_first_not_of(' ', colon + 1);
                return start == std::string::npos ? "" : line.substr(start);
            }
        }
    }
    return "";
}

void check_list(const std::vector<int>& values, const char* flag, int min, const char* expected) {
    for (int v : values) {
        if (v < min) {
            throw Error(ErrorKind::invalid_argument, "", flag, std::nullopt, expected,
                        std::to_string(v));
        }
    }
}

void validate(BenchCliOptions& o) {
    if (o.n_threads.empty()) o.n_threads = {std::max(1, int(std::thread::hardware_concurrency()))};
    check_list(o.n_threads, "-t", 1, "thread counts of at least 1");
    check_list(o.n_prompt, "-p", 0, "prompt sizes of at least 0 (0 skips the pp test)");
    check_list(o.n_gen, "-n", 0, "generation sizes of at least 0 (0 skips the tg test)");
    check_list(o.memory_ctx, "--memory-ctx", 1, "context sizes of at least 1");
    if (o.repetitions < 1) {
        throw Error(ErrorKind::invalid_argument, "", "-r", std::nullopt, "at least 1 repetition",
                    std::to_string(o.repetitions));
    }
    const bool table_only = o.memory || !o.requests.empty();
    if (o.output != "md" && o.output != "json" && o.output != "csv") {
        throw Error(ErrorKind::invalid_argument, "", "-o", std::nullopt, "md, json or csv",
                    o.output);
    }
    if (o.memory && o.output != "md") {
        throw Error(ErrorKind::invalid_argument, "", "-o", std::nullopt, "md with --memory",
                    o.output);
    }
    if (!o.requests.empty() && o.output == "json") {
        throw Error(ErrorKind::invalid_argument, "", "-o", std::nullopt,
                    "md or csv with --requests", o.output);
    }
    if (o.memory && !o.requests.empty()) {
        throw Error(ErrorKind::invalid_argument, "", "--memory", std::nullopt,
                    "one of --memory and --requests", "both");
    }
    bool any = false;
    for (int p : o.n_prompt) any = any || p > 0;
    for (int n : o.n_gen) any = any || n > 0;
    if (!any && !table_only) {
        throw Error(ErrorKind::invalid_argument, "", "-p/-n", std::nullopt,
                    "at least one positive prompt or generation size", "only zeros");
    }
}

// A model on a CPU backend with n_threads, optionally behind a profiler.
struct Bench {
    std::unique_ptr<Backend> cpu;
    std::unique_ptr<ProfilingBackend> profiler;
    std::unique_ptr<Model> model;
    Backend& backend() { return profiler ? *profiler : *cpu; }
};

Bench load(const GgufFile& file, int n_threads, bool profiled) {
    Bench b;
    b.cpu = make_cpu_backend({n_threads});
    if (profiled) b.profiler = std::make_unique<ProfilingBackend>(*b.cpu);
    b.model = load_model(file, b.backend());
    return b;
}

void run_tests(const BenchCliOptions& o, const GgufFile& file, const Tokenizer& tokenizer) {
    const BenchModelInfo info = bench_model_info(file);
    BenchContext ctx;
    ctx.build_commit = kGitCommit;
    ctx.cpu_info = cpu_model_name();
    std::vector<BenchResult> results;
    for (int t : o.n_threads) {
        Bench b = load(file, t, o.profile);
        ctx.n_batch = ctx.n_ubatch = b.model->max_batch();
        fmt::print(stderr, "slim bench: {} on {}\n", info.filename, b.cpu->name());
        auto run = [&](int n_prompt, int n_gen) {
            BenchTestOptions test{n_prompt, n_gen, o.repetitions, o.seed};
            results.push_back(run_bench_test(*b.model, b.backend(), tokenizer.vocab(), t, test,
                                             b.profiler.get()));
            const BenchResult& r = results.back();
            fmt::print(stderr, "  {} t={}: {:.2f} ± {:.2f} t/s\n", bench_test_name(r), t,
                       r.avg_ts(), r.stddev_ts());
        };
        for (int p : o.n_prompt)
            if (p > 0) run(p, 0);
        for (int n : o.n_gen)
            if (n > 0) run(0, n);
    }
    if (o.output == "json") {
        fmt::print("{}", bench_json(ctx, info, results));
    } else if (o.output == "csv") {
        fmt::print("{}", bench_csv(ctx, info, results));
    } else {
        fmt::print("{}", bench_markdown(ctx, info, results));
    }
    if (o.profile) {
        // Beside JSON or CSV the tables would break the parse: they go to stderr.
        fmt::print(o.output == "md" ? stdout : stderr, "{}", profile_markdown(results));
    }
}

void run_memory(const BenchCliOptions& o, const GgufFile& file) {
    Bench b = load(file, o.n_threads.front(), true);
    fmt::print(stderr, "slim bench --memory: {} on {}\n", file.path(), b.cpu->name());
    std::vector<MemoryRow> rows = bench_memory(file, *b.model, *b.profiler, o.memory_ctx);
    fmt::print("{}", memory_markdown(bench_model_info(file), rows));
}

void run_requests(const BenchCliOptions& o, const GgufFile& file,
                  const std::vector<BenchRequest>& requests) {
    const Tokenizer tokenizer = Tokenizer::load(file);
    Bench b = load(file, o.n_threads.front(), false);
    fmt::print(stderr, "slim bench --requests: {} requests on {}\n", requests.size(),
               b.cpu->name());
    std::vector<RequestRow> rows;
    for (const BenchRequest& r : requests) {
        rows.push_back({r, run_bench_request(*b.model, *b.cpu, tokenizer, r)});
        fmt::print(stderr, "  {} + {} tokens: {:.3f} s\n", rows.back().result.input_tokens,
                   r.max_tokens, rows.back().result.seconds);
    }
    const BenchModelInfo info = bench_model_info(file);
    fmt::print("{}", o.output == "csv" ? requests_csv(info, rows) : requests_markdown(info, rows));
}

}  // namespace

void add_bench_command(CLI::App& app) {
    auto o = std::make_shared<BenchCliOptions>();
    CLI::App* cmd = app.add_subcommand(
        "bench", "Prefill/decode tokens/s like llama-bench; --profile, --memory, --requests");
    cmd->add_option("-m,--model", o->model, "GGUF model (default: Gemma 3 270M from `make demo`)");
    cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt sizes of the pp tests (0: none)")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("-n,--n-gen", o->n_gen, "Generated tokens of the tg tests (0: none)")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("-t,--threads", o->n_threads, "Thread counts (default: one per core)")
        ->delimiter(',');
    cmd->add_option("-r,--repetitions", o->repetitions, "Timed runs of each test, after a warm-up")
        ->capture_default_str();
    cmd->add_option("-o,--output", o->output, "md, json or csv (llama-bench's fields)")
        ->capture_default_str();
    cmd->add_flag("--profile", o->profile, "Time per op kind (mat x vec, attention, ...)");
    cmd->add_flag("--memory", o->memory,
                  "Weights, KV cache and scratch bytes by context, computed and measured");
    cmd->add_option("--memory-ctx", o->memory_ctx, "Context sizes for --memory")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--requests", o->requests,
                    "Time the requests of a file: JSON lines {\"prompt\", \"max_tokens\"} or "
                    "TSV MAX_TOKENS<TAB>PROMPT");
    cmd->add_option("-s,--seed", o->seed, "Seed of the random prompt tokens");
    cmd->callback([o] {
        if (o->model.empty()) o->model = default_model_path();
        validate(*o);
        // A bad requests file is reported before the model is loaded.
        std::vector<BenchRequest> requests;
        if (!o->requests.empty()) requests = read_bench_requests(o->requests);
        GgufFile file = GgufFile::open(o->model);
        if (o->memory) return run_memory(*o, file);
        if (!requests.empty()) return run_requests(*o, file, requests);
        run_tests(*o, file, Tokenizer::load(file));
    });
}

}  // namespace slim::cli
