// `slim bench` output: llama-bench's markdown table, JSON and CSV (same field
// names and value formats, so tools that read llama-bench's output read
// slim's), and the tables of --profile, --memory and --requests.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tools/bench.h"

namespace slim {

// What the tests do not know: the build, the machine and the batch.
struct BenchContext {
    std::string build_commit;
    int build_number = 0;
    std::string cpu_info;         // the CPU's model name
    std::string backend = "CPU";  // llama-bench's backend names: CPU, CUDA, ...
    int n_batch = 512;
    int n_ubatch = 512;
};

// llama-bench's fields, in its order (the JSON objects add samples_ns and samples_ts).
const std::vector<std::string>& bench_fields();

// "pp512", "tg128".
std::string bench_test_name(const BenchResult& r);

std::string bench_markdown(const BenchContext& ctx, const BenchModelInfo& model,
                           std::span<const BenchResult> results);
std::string bench_json(const BenchContext& ctx, const BenchModelInfo& model,
                       std::span<const BenchResult> results);
std::string bench_csv(const BenchContext& ctx, const BenchModelInfo& model,
                      std::span<const BenchResult> results);

// One table per profiled test: op kind | calls | time | share of the timed runs.
std::string profile_markdown(std::span<const BenchResult> results);

std::string memory_markdown(const BenchModelInfo& model, std::span<const MemoryRow> rows);

struct RequestRow {
    BenchRequest request;
    RequestResult result;
};
std::string requests_markdown(const BenchModelInfo& model, std::span<const RequestRow> rows);
std::string requests_csv(const BenchModelInfo& model, std::span<const RequestRow> rows);

}  // namespace slim
