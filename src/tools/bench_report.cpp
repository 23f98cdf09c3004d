#include "tools/bench_report.h"

#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

namespace slim {

namespace {

enum class FieldType { string, boolean, integer, floating };

FieldType field_type(const std::string& f) {
    static const std::map<std::string, FieldType> kTypes = {
        {"build_number", FieldType::integer},   {"model_size", FieldType::integer},
        {"model_n_params", FieldType::integer}, {"n_batch", FieldType::integer},
        {"n_ubatch", FieldType::integer},       {"n_threads", FieldType::integer},
        {"poll", FieldType::integer},           {"n_gpu_layers", FieldType::integer},
        {"main_gpu", FieldType::integer},       {"n_prompt", FieldType::integer},
        {"n_gen", FieldType::integer},          {"n_depth", FieldType::integer},
        {"avg_ns", FieldType::integer},         {"stddev_ns", FieldType::integer},
        {"cpu_strict", FieldType::boolean},     {"no_kv_offload", FieldType::boolean},
        {"flash_attn", FieldType::boolean},     {"use_mmap", FieldType::boolean},
        {"embeddings", FieldType::boolean},     {"avg_ts", FieldType::floating},
        {"stddev_ts", FieldType::floating},
    };
    auto it = kTypes.find(f);
    return it == kTypes.end() ? FieldType::string : it->second;
}

// The values as llama-bench's get_values() writes them (std::to_string).
std::vector<std::string> field_values(const BenchContext& ctx, const BenchModelInfo& m,
                                      const BenchResult& r) {
    return {ctx.build_commit,
            std::to_string(ctx.build_number),
            ctx.cpu_info,
            "",  // gpu_info
            ctx.backend,
            m.filename,
            m.type,
            std::to_string(m.size),
            std::to_string(m.n_params),
            std::to_string(ctx.n_batch),
            std::to_string(ctx.n_ubatch),
            std::to_string(r.n_threads),
            "0x0",  // cpu_mask
            "0",    // cpu_strict
            "50",   // poll
            "f16",  // type_k
            "f16",  // type_v
            "0",    // n_gpu_layers
            "layer",
            "0",  // main_gpu
            "0",  // no_kv_offload
            "0",  // flash_attn
            "0.00",
            "1",  // use_mmap
            "0",  // embeddings
            std::to_string(r.n_prompt),
            std::to_string(r.n_gen),
            "0",  // n_depth
            r.test_time,
            std::to_string(uint64_t(r.avg_ns())),
            std::to_string(uint64_t(r.stddev_ns())),
            std::to_string(r.avg_ts()),
            std::to_string(r.stddev_ts())};
}

std::string csv_escape(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string mib(double bytes) {
    return fmt::format("{:.2f} MiB", bytes / 1024.0 / 1024.0);
}

std::string size_text(uint64_t bytes) {
    return bytes < (1ull << 30)
               ? fmt::format("{:.2f} MiB", double(bytes) / 1024.0 / 1024.0)
               : fmt::format("{:.2f} GiB", double(bytes) / 1024.0 / 1024.0 / 1024.0);
}

std::string params_text(uint64_t n) {
    return n < 1000000000ull ? fmt::format("{:.2f} M", double(n) / 1e6)
                             : fmt::format("{:.2f} B", double(n) / 1e9);
}

}  // namespace

const std::vector<std::string>& bench_fields() {
    static const std::vector<std::string> kFields = {
        "build_commit",   "build_number", "cpu_info",     "gpu_info",       "backends",
        "model_filename", "model_type",   "model_size",   "model_n_params", "n_batch",
        "n_ubatch",       "n_threads",    "cpu_mask",     "cpu_strict",     "poll",
        "type_k",         "type_v",       "n_gpu_layers", "split_mode",     "main_gpu",
        "no_kv_offload",  "flash_attn",   "tensor_split", "use_mmap",       "embeddings",
        "n_prompt",       "n_gen",        "n_depth",      "test_time",      "avg_ns",
        "stddev_ns",      "avg_ts",       "stddev_ts"};
    return kFields;
}

std::string bench_test_name(const BenchResult& r) {
    if (r.n_prompt > 0 && r.n_gen == 0) return fmt::format("pp{}", r.n_prompt);
    if (r.n_gen > 0 && r.n_prompt == 0) return fmt::format("tg{}", r.n_gen);
    return fmt::format("pp{}+tg{}", r.n_prompt, r.n_gen);
}

std::string bench_markdown(const BenchContext& ctx, const BenchModelInfo& m,
                           std::span<const BenchResult> results) {
    std::string out;
    out += fmt::format("| {:<30} | {:>10} | {:>10} | {:<10} | {:>7} | {:>15} | {:>20} |\n", "model",
                       "size", "params", "backend", "threads", "test", "t/s");
    out +=
        "| ------------------------------ | ---------: | ---------: | ---------- | ------: | "
        "--------------: | -------------------: |\n";
    for (const BenchResult& r : results) {
        out += fmt::format("| {:<30} | {:>10} | {:>10} | {:<10} | {:>7} | {:>15} | {:>20} |\n",
                           m.type, size_text(m.size), params_text(m.n_params), ctx.backend,
                           r.n_threads, bench_test_name(r),
                           fmt::format("{:.2f} ± {:.2f}", r.avg_ts(), r.stddev_ts()));
    }
    out += fmt::format("\nbuild: {} ({})\n", ctx.build_commit, ctx.build_number);
    return out;
}

std::string bench_json(const BenchContext& ctx, const BenchModelInfo& m,
                       std::span<const BenchResult> results) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    const std::vector<std::string>& fields = bench_fields();
    for (const BenchResult& r : results) {
        const std::vector<std::string> values = field_values(ctx, m, r);
        nlohmann::ordered_json o;
        for (size_t i = 0; i < fields.size(); ++i) {
            const std::string& v = values[i];
            switch (field_type(fields[i])) {
                case FieldType::string:
                    o[fields[i]] = v;
                    break;
                case FieldType::boolean:
                    o[fields[i]] = v != "0";
                    break;
                case FieldType::integer:
                    o[fields[i]] = std::strtoll(v.c_str(), nullptr, 10);
                    break;
                case FieldType::floating:
                    o[fields[i]] = std::strtod(v.c_str(), nullptr);
                    break;
            }
        }
        o["samples_ns"] = r.samples_ns;
        o["samples_ts"] = r.samples_ts();
        arr.push_back(std::move(o));
    }
    return arr.dump(2) + "\n";
}

std::string bench_csv(const BenchContext& ctx, const BenchModelInfo& m,
                      std::span<const BenchResult> results) {
    std::string out;
    const std::vector<std::string>& fields = bench_fields();
    for (size_t i = 0; i < fields.size(); ++i) {
        if (i) out += ',';
        out += fields[i];
    }
    out += "\n";
    for (const BenchResult& r : results) {
        const std::vector<std::string> values = field_values(ctx, m, r);
        for (size_t i = 0; i < values.size(); ++i) {
            if (i) out += ',';
            out += csv_escape(values[i]);
        }
        out += "\n";
    }
    return out;
}

std::string profile_markdown(std::span<const BenchResult> results) {
    std::string out;
    for (const BenchResult& r : results) {
        if (!r.profile) continue;
        const BenchProfile& p = *r.profile;
        const double wall = p.wall_seconds > 0 ? p.wall_seconds : 1;
        out +=
            fmt::format("\nprofile: {}, {} threads, {} timed runs, {:.1f} ms\n\n",
                        bench_test_name(r), r.n_threads, r.samples_ns.size(), p.wall_seconds * 1e3);
        out += "| op kind | calls | time (ms) | share |\n|---|---:|---:|---:|\n";
        auto row = [&](const std::string& name, uint64_t calls, double s) {
            out += fmt::format("| {} | {} | {:.2f} | {:.1f}% |\n", name, calls, s * 1e3,
                               100.0 * s / wall);
        };
        for (size_t k = 0; k < kOpKindCount; ++k) {
            if (p.ops[k].calls > 0) row(op_kind_name(OpKind(k)), p.ops[k].calls, p.ops[k].seconds);
        }
        row("sampling", r.n_gen > 0 ? uint64_t(r.n_gen) * r.samples_ns.size() : r.samples_ns.size(),
            p.sampling_seconds);
        row("other (outside ops)", 0, p.other_seconds());
        out += fmt::format("| total | | {:.2f} | 100.0% |\n", p.wall_seconds * 1e3);
    }
    return out;
}

std::string memory_markdown(const BenchModelInfo& m, std::span<const MemoryRow> rows) {
    std::string out = fmt::format(
        "memory: {} ({}), trained context {}\n\n"
        "| context | weights | KV cache | scratch | total (computed) | KV share | RSS before "
        "cache | RSS with cache | cache RSS |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        m.filename, m.type, m.n_ctx_train);
    bool beyond = false;
    for (const MemoryRow& r : rows) {
        beyond = beyond || r.beyond_trained;
        out += fmt::format("| {}{} | {} | {} | {} | {} | {:.1f}% | {} | {} | {} |\n", r.n_ctx,
                           r.beyond_trained ? "*" : "", mib(double(r.weights)), mib(double(r.kv)),
                           mib(double(r.scratch)), mib(double(r.total())), 100.0 * r.kv_share(),
                           mib(double(r.rss_before)), mib(double(r.rss_after)),
                           mib(double(r.rss_after) - double(r.rss_before)));
    }
    if (beyond) out += "\n* beyond the model's trained context\n";
    return out;
}

namespace {

struct RequestCells {
    std::string model, quant;
    int input, max, output;
    double seconds, peak_mib;
};

std::vector<RequestCells> request_cells(const BenchModelInfo& m, std::span<const RequestRow> rows) {
    std::vector<RequestCells> cells;
    const std::string name = std::filesystem::path(m.filename).filename().string();
    for (const RequestRow& r : rows) {
        cells.push_back({name, m.quant, r.result.input_tokens, r.result.max_tokens,
                         r.result.output_tokens, r.result.seconds,
                         double(r.result.peak_rss) / 1024.0 / 1024.0});
    }
    return cells;
}

}  // namespace

std::string requests_markdown(const BenchModelInfo& m, std::span<const RequestRow> rows) {
    std::string out =
        "| model | quantization | input tokens | output max tokens | output tokens | time per "
        "request (s) | peak RAM (MiB) |\n|---|---|---:|---:|---:|---:|---:|\n";
    for (const RequestCells& c : request_cells(m, rows)) {
        out += fmt::format("| {} | {} | {} | {} | {} | {:.3f} | {:.1f} |\n", c.model, c.quant,
                           c.input, c.max, c.output, c.seconds, c.peak_mib);
    }
    return out;
}

std::string requests_csv(const BenchModelInfo& m, std::span<const RequestRow> rows) {
    std::string out =
        "model,quantization,input_tokens,output_max_tokens,output_tokens,time_per_request_s,"
        "peak_ram_mib\n";
    for (const RequestCells& c : request_cells(m, rows)) {
        out += fmt::format("{},{},{},{},{},{:.3f},{:.1f}\n", csv_escape(c.model), c.quant, c.input,
                           c.max, c.output, c.seconds, c.peak_mib);
    }
    return out;
}

}  // namespace slim
