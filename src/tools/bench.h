// `slim bench`: what llama-bench measures, measured the way llama-bench does
// (tools/llama-bench/llama-bench.cpp in llama.cpp), so the figures and the
// JSON/CSV fields compare one to one:
//
//   - a pp test runs a prompt of n_prompt tokens (BOS first where the
//     vocabulary adds one, then uniformly random ids) as one forward on an
//     empty cache; a tg test runs n_gen single-token forwards from an empty
//     cache, each on a random id. Neither samples: the logits of the last
//     token are computed and left alone, as in llama-bench;
//   - each test runs once untimed (warm-up: page faults on the mmap'd
//     weights, thread start-up) and then `repetitions` times, timed;
//   - t/s = tokens / seconds per run, averaged over the runs, with the
//     sample standard deviation.
//
// Beyond llama-bench: a per-op time profile (through ProfilingBackend), a
// memory breakdown at several context sizes, and timed requests of real
// prompts (the lab-notebook log). Library code: no printing.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend/profiling_backend.h"
#include "format/gguf.h"
#include "model/model.h"
#include "runtime/tokenizer.h"

namespace slim {

// The model fields llama-bench reports.
struct BenchModelInfo {
    std::string filename;  // as given
    std::string arch;
    std::string type;       // llama.cpp's description: "qwen2 1.5B Q4_0"
    std::string quant;      // the file type's short name: "Q4_K_M", "Q8_0"
    uint64_t size = 0;      // bytes of all tensors
    uint64_t n_params = 0;  // elements of all tensors
    int n_ctx_train = 0;    // 0 when the file does not say
};
BenchModelInfo bench_model_info(const GgufFile& file);

// llama_ftype (general.file_type) as llama.cpp names it ("Q4_K - Medium") and
// as quantize tools do ("Q4_K_M"); "unknown" for an id outside the table.
std::string ftype_long_name(uint32_t ftype);
std::string ftype_short_name(uint32_t ftype);

// Where the time of the timed runs of one test went.
struct BenchProfile {
    std::array<OpStats, kOpKindCount> ops{};
    double sampling_seconds = 0;  // a default sampler on the logits of every forward
    double wall_seconds = 0;      // the timed runs, start to end
    // Time outside any backend op and the sampler (cache bookkeeping, glue).
    double other_seconds() const;
};

struct BenchResult {
    int n_threads = 0;
    int n_prompt = 0;
    int n_gen = 0;
    std::string test_time;  // ISO 8601 UTC, when the test started
    std::vector<uint64_t> samples_ns;
    std::optional<BenchProfile> profile;

    int n_tokens() const { return n_prompt + n_gen; }
    std::vector<double> samples_ts() const;
    double avg_ns() const;
    double stddev_ns() const;
    double avg_ts() const;
    double stddev_ts() const;
};

struct BenchTestOptions {
    int n_prompt = 0;  // exactly one of n_prompt and n_gen is positive
    int n_gen = 0;
    int repetitions = 5;
    uint32_t seed = 1;  // of the random token ids
};

// Runs one test on `model` (built on `backend`). With a profiler (the
// ProfilingBackend the model was built on), the timed runs also sample from
// the logits after every forward and the result carries a profile; without
// one nothing is sampled, as in llama-bench. Throws Error(invalid_argument)
// for a test with no tokens, both kinds at once, or fewer than 1 repetition.
BenchResult run_bench_test(Model& model, Backend& backend, const Vocab& vocab, int n_threads,
                           const BenchTestOptions& options, ProfilingBackend* profiler = nullptr);

// KV cache bytes for a context: 2 (K and V) * n_layer * n_ctx * n_head_kv *
// head_dim * 2 (F16), the layout KvCache allocates.
uint64_t kv_cache_bytes(const ModelConfig& config, int n_ctx);

struct MemoryRow {
    int n_ctx = 0;
    bool beyond_trained = false;  // n_ctx above the model's trained context
    // Computed: tensor bytes of the GGUF, the formula above, and the bytes of
    // the activation buffers the model allocated (at its max batch).
    uint64_t weights = 0, kv = 0, scratch = 0;
    // Measured resident set size before the cache was allocated and after it
    // was written in full.
    uint64_t rss_before = 0, rss_after = 0;

    uint64_t total() const { return weights + kv + scratch; }
    double kv_share() const { return total() ? double(kv) / double(total()) : 0; }
};

// For each context: allocates a KvCache of that size on `profiler` (the
// backend the model was built on), writes all of it, and measures RSS. The
// weights are made resident first (one forward, then a read of every page).
std::vector<MemoryRow> bench_memory(const GgufFile& file, Model& model, ProfilingBackend& profiler,
                                    std::span<const int> contexts);

// A line of a --requests file.
struct BenchRequest {
    std::string prompt;
    int max_tokens = 0;
};

// Reads requests as JSON lines ({"prompt": "...", "max_tokens": 64}) when the
// file name ends in .jsonl/.json or its first non-blank line starts with '{',
// else as TSV lines `MAX_TOKENS<TAB>PROMPT` (the prompt may hold tabs; \n,
// \t and \\ in it are escapes). Blank lines and, in TSV, lines starting with
// '#' are skipped. Throws Error naming the file and line for a line that does
// not parse, a missing field, max_tokens below 1, an empty prompt, or a file
// without requests; Error(io) when the file cannot be read.
std::vector<BenchRequest> read_bench_requests(const std::filesystem::path& path);

struct RequestResult {
    int input_tokens = 0;
    int max_tokens = 0;
    int output_tokens = 0;  // fewer than max_tokens when the model ended (EOS)
    double seconds = 0;     // prompt + generation
    uint64_t peak_rss = 0;  // of the process, after this request
};

// Runs one request greedily on a fresh cache of input + max_tokens tokens.
// Throws Error(invalid_argument) when that exceeds the trained context.
RequestResult run_bench_request(Model& model, Backend& backend, const Tokenizer& tokenizer,
                                const BenchRequest& request);

}  // namespace slim
