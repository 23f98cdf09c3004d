#include "tools/bench.h"
#include "tools/process_stats.h"

#include <unistd.h>

#include <fmt/format.h>

#include "runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "format/error.h"
#include "runtime/sampler.h"

namespace slim {

namespace {

using Clock = std::chrono::steady_clock;

struct FtypeName {
    uint32_t id;
    const char* long_name;   // llama_ftype_name()
    const char* short_name;  // llama-quantize's argument
};

// llama.cpp's llama_ftype values (include/llama.h) and names (llama-model-loader.cpp).
constexpr FtypeName kFtypes[] = {
    {0, "all F32", "F32"},
    {1, "F16", "F16"},
    {2, "Q4_0", "Q4_0"},
    {3, "Q4_1", "Q4_1"},
    {7, "Q8_0", "Q8_0"},
    {8, "Q5_0", "Q5_0"},
    {9, "Q5_1", "Q5_1"},
    {10, "Q2_K - Medium", "Q2_K"},
    {11, "Q3_K - Small", "Q3_K_S"},
    {12, "Q3_K - Medium", "Q3_K_M"},
    {13, "Q3_K - Large", "Q3_K_L"},
    {14, "Q4_K - Small", "Q4_K_S"},
    {15, "Q4_K - Medium", "Q4_K_M"},
    {16, "Q5_K - Small", "Q5_K_S"},
    {17, "Q5_K - Medium", "Q5_K_M"},
    {18, "Q6_K", "Q6_K"},
    {19, "IQ2_XXS - 2.0625 bpw", "IQ2_XXS"},
    {20, "IQ2_XS - 2.3125 bpw", "IQ2_XS"},
    {21, "Q2_K - Small", "Q2_K_S"},
    {22, "IQ3_XS - 3.3 bpw", "IQ3_XS"},
    {23, "IQ3_XXS - 3.0625 bpw", "IQ3_XXS"},
    {24, "IQ1_S - 1.5625 bpw", "IQ1_S"},
    {25, "IQ4_NL - 4.5 bpw", "IQ4_NL"},
    {26, "IQ3_S - 3.4375 bpw", "IQ3_S"},
    {27, "IQ3_S mix - 3.66 bpw", "IQ3_M"},
    {28, "IQ2_S - 2.5 bpw", "IQ2_S"},
    {29, "IQ2_M - 2.7 bpw", "IQ2_M"},
    {30, "IQ4_XS - 4.25 bpw", "IQ4_XS"},
    {31, "IQ1_M - 1.75 bpw", "IQ1_M"},
    {32, "BF16", "BF16"},
    {36, "TQ1_0 - 1.69 bpw ternary", "TQ1_0"},
    {37, "TQ2_0 - 2.06 bpw ternary", "TQ2_0"},
};

const FtypeName* find_ftype(uint32_t ftype) {
    for (const FtypeName& f : kFtypes) {
        if (f.id == ftype) return &f;
    }
    return nullptr;
}

std::string utc_now_iso8601() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%FT%TZ", &tm);
    return buf;
}

double mean(std::span<const double> v) {
    return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

// Sample standard deviation, as llama-bench's stdev(): 0 below two samples.
double stddev(std::span<const double> v) {
    if (v.size() <= 1) return 0;
    const double m = mean(v);
    double sq = 0;
    for (double x : v) sq += (x - m) * (x - m);
    return std::sqrt(sq / double(v.size() - 1));
}

std::vector<int32_t> random_tokens(std::mt19937& rng, const Vocab& vocab, int n_vocab, int n) {
    std::uniform_int_distribution<int32_t> dist(0, n_vocab - 1);
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    for (int32_t& t : tokens) t = dist(rng);
    const TokenId bos = vocab.special().bos;
    if (vocab.flags().add_bos && bos != kTokenNull && bos < n_vocab && n > 0) tokens[0] = bos;
    return tokens;
}

void free_cache(Backend& backend, const KvCache& cache, int n_layer) {
    for (int l = 0; l < n_layer; ++l) {
        backend.free(cache.k(l));
        backend.free(cache.v(l));
    }
}

// A KvCache whose buffers go back to the backend when it goes out of scope
// (KvCache itself leaves them to the backend's lifetime).
class ScopedCache {
  public:
    ScopedCache(Backend& backend, const ModelConfig& config, int n_ctx)
        : backend_(backend), cache_(backend, config, n_ctx), n_layer_(config.n_layer) {}
    ~ScopedCache() { free_cache(backend_, cache_, n_layer_); }
    ScopedCache(const ScopedCache&) = delete;
    ScopedCache& operator=(const ScopedCache&) = delete;
    KvCache& get() { return cache_; }

  private:
    Backend& backend_;
    KvCache cache_;
    int n_layer_;
};

}  // namespace

std::string ftype_long_name(uint32_t ftype) {
    const FtypeName* f = find_ftype(ftype);
    return f ? f->long_name : "unknown";
}

std::string ftype_short_name(uint32_t ftype) {
    const FtypeName* f = find_ftype(ftype);
    return f ? f->short_name : "unknown";
}

BenchModelInfo bench_model_info(const GgufFile& file) {
    BenchModelInfo info;
    info.filename = file.path();
    info.arch = std::string(file.get_string("general.architecture").value_or("unknown"));
    for (const GgufTensorInfo& t : file.tensors()) {
        info.size += t.n_bytes;
        uint64_t n = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) n *= uint64_t(t.ne[d]);
        info.n_params += n;
    }
    const std::optional<uint64_t> ftype = file.get_u64("general.file_type");
    info.quant = ftype ? ftype_short_name(uint32_t(*ftype)) : "unknown";
    // llama.cpp names the size from a table of known layer counts; the
    // rounded parameter count gives the same label for most (135M, 0.5B,
    // 1.5B), not all (Gemma 3 270M has 268M).
    const double p = double(info.n_params);
    const std::string size =
        p >= 4e8 ? fmt::format("{:.1f}B", p / 1e9) : fmt::format("{:.0f}M", p / 1e6);
    info.type = fmt::format("{} {} {}", info.arch, size,
                            ftype ? ftype_long_name(uint32_t(*ftype)) : "unknown");
    info.n_ctx_train = int(file.get_u64(info.arch + ".context_length").value_or(0));
    return info;
}

double BenchProfile::other_seconds() const {
    double in_ops = sampling_seconds;
    for (const OpStats& s : ops) in_ops += s.seconds;
    return wall_seconds - in_ops;
}

std::vector<double> BenchResult::samples_ts() const {
    std::vector<double> ts;
    for (uint64_t ns : samples_ns) ts.push_back(1e9 * double(n_tokens()) / double(ns));
    return ts;
}

double BenchResult::avg_ns() const {
    std::vector<double> v(samples_ns.begin(), samples_ns.end());
    return mean(v);
}

double BenchResult::stddev_ns() const {
    std::vector<double> v(samples_ns.begin(), samples_ns.end());
    return stddev(v);
}

double BenchResult::avg_ts() const {
    return mean(samples_ts());
}

double BenchResult::stddev_ts() const {
    return stddev(samples_ts());
}

BenchResult run_bench_test(Model& model, Backend& backend, const Vocab& vocab, int n_threads,
                           const BenchTestOptions& o, ProfilingBackend* profiler) {
    if (o.n_prompt < 0 || o.n_gen < 0 || (o.n_prompt > 0) == (o.n_gen > 0)) {
        throw Error(ErrorKind::invalid_argument, "", "bench test", std::nullopt,
                    "either n_prompt > 0 or n_gen > 0",
                    fmt::format("n_prompt {}, n_gen {}", o.n_prompt, o.n_gen));
    }
    if (o.repetitions < 1) {
        throw Error(ErrorKind::invalid_argument, "", "--repetitions", std::nullopt, "at least 1",
                    std::to_string(o.repetitions));
    }
    const ModelConfig& c = model.config();
    const int n_ctx = o.n_prompt + o.n_gen;
    if (c.n_ctx_train > 0 && n_ctx > c.n_ctx_train) {
        throw Error(ErrorKind::invalid_argument, "", o.n_prompt ? "-p" : "-n", std::nullopt,
                    fmt::format("at most the model's trained context of {} tokens", c.n_ctx_train),
                    std::to_string(n_ctx));
    }
    BenchResult result;
    result.n_threads = n_threads;
    result.n_prompt = o.n_prompt;
    result.n_gen = o.n_gen;
    result.test_time = utc_now_iso8601();

    std::mt19937 rng(o.seed);
    ScopedCache scoped(backend, c, n_ctx);
    KvCache& cache = scoped.get();
    std::vector<float> logits(size_t(c.n_vocab));
    SamplerParams sampling;  // `slim run`'s defaults
    Sampler sampler(sampling);
    BenchProfile profile;

    auto sample = [&] {
        const auto t0 = Clock::now();
        sampler.sample(logits);
        profile.sampling_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    };
    auto run_once = [&](bool timed) {
        cache.clear();
        std::vector<int32_t> tokens = random_tokens(rng, vocab, c.n_vocab, n_ctx);
        backend.synchronize();
        const auto t0 = Clock::now();
        if (o.n_prompt > 0) {
            model.forward(tokens, cache, logits, false);
            if (profiler && timed) sample();
        } else {
            for (int i = 0; i < o.n_gen; ++i) {
                model.forward(std::span<const int32_t>(&tokens[size_t(i)], 1), cache, logits,
                              false);
                if (profiler && timed) sample();
            }
        }
        backend.synchronize();
        const auto t1 = Clock::now();
        if (timed) {
            result.samples_ns.push_back(
                uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
            profile.wall_seconds += std::chrono::duration<double>(t1 - t0).count();
        }
    };

    // The warm-up: with a tg test llama-bench warms up with one token; a full
    // run costs little more here and faults in every page the test touches.
    run_once(false);
    if (profiler) profiler->reset_stats();
    for (int r = 0; r < o.repetitions; ++r) run_once(true);
    if (profiler) {
        profile.ops = profiler->stats();
        result.profile = profile;
    }
    return result;
}

uint64_t kv_cache_bytes(const ModelConfig& c, int n_ctx) {
    return 2 * uint64_t(c.n_layer) * uint64_t(n_ctx) * uint64_t(c.n_head_kv) *
           uint64_t(c.head_dim) * 2;
}

std::vector<MemoryRow> bench_memory(const GgufFile& file, Model& model, ProfilingBackend& profiler,
                                    std::span<const int> contexts) {
    const ModelConfig& c = model.config();
    uint64_t weights = 0;
    for (const GgufTensorInfo& t : file.tensors()) weights += t.n_bytes;

    // The weights become resident: one forward (which also allocates the
    // logits buffer where the backend has its own) reads every matrix, and one read per page of an
    // untied token embedding brings in the rows a forward never looks up (a lookup table stays in
    // the file mapping: WeightUse::lookup). Only that tensor's pages are read: the file pages of
    // the weights the backend copied at load were released (its copy is what counts), and reading
    // them back would count such a weight twice.
    {
        ScopedCache small(profiler, c, 1);
        std::vector<float> logits(size_t(c.n_vocab));
        const int32_t token = 0;
        model.forward(std::span<const int32_t>(&token, 1), small.get(), logits, false);
    }
    const GgufTensorInfo* embd = file.find_tensor("token_embd.weight");
    if (embd && file.find_tensor("output.weight")) {
        volatile uint8_t sink = 0;
        const long page = sysconf(_SC_PAGESIZE);
        std::span<const uint8_t> data = file.tensor_data(*embd);
        for (size_t i = 0; i < data.size(); i += size_t(page)) sink = sink + data[i];
    }
    const uint64_t scratch = profiler.allocated_bytes();

    std::vector<MemoryRow> rows;
    for (int n_ctx : contexts) {
        if (n_ctx < 1) {
            throw Error(ErrorKind::invalid_argument, "", "memory context", std::nullopt,
                        "a positive size", std::to_string(n_ctx));
        }
        MemoryRow row;
        row.n_ctx = n_ctx;
        row.beyond_trained = c.n_ctx_train > 0 && n_ctx > c.n_ctx_train;
        row.weights = weights;
        row.kv = kv_cache_bytes(c, n_ctx);
        row.scratch = scratch;
        row.rss_before = current_rss_bytes();
        {
            ScopedCache scoped(profiler, c, n_ctx);
            // Written in full with F16 ones, as a full context would leave it,
            // in chunks of rows so that the source buffer adds little to RSS.
            const KvCache& cache = scoped.get();
            constexpr int64_t kChunk = 256;
            std::vector<uint16_t> fill(cache.k(0).row_bytes * size_t(kChunk) / 2, 0x3c00);
            for (int l = 0; l < c.n_layer; ++l) {
                for (const Tensor& t : {cache.k(l), cache.v(l)}) {
                    for (int64_t r = 0; r < t.n_rows; r += kChunk) {
                        const size_t n = size_t(std::min(kChunk, t.n_rows - r));
                        profiler.upload(t.rows_from(r), fill.data(), n * t.row_bytes);
                    }
                }
            }
            row.rss_after = current_rss_bytes();
        }
        rows.push_back(row);
    }
    return rows;
}

namespace {

[[noreturn]] void bad_request_line(const std::string& file, size_t line, const std::string& what,
                                   const std::string& found) {
    throw Error(ErrorKind::bad_value, file, fmt::format("line {}", line), std::nullopt, what,
                found);
}

std::string unescape_tsv(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            const char n = s[i + 1];
            if (n == 'n' || n == 't' || n == '\\') {
                out += n == 'n' ? '\n' : (n == 't' ? '\t' : '\\');
                ++i;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

std::string abbreviate(const std::string& s) {
    return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

}  // namespace

std::vector<BenchRequest> read_bench_requests(const std::filesystem::path& path) {
    const std::string name = path.string();
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw Error(ErrorKind::io, name, "", std::nullopt, "a readable requests file",
                    "cannot open it");
    }
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(std::move(line));
    }
    const std::string ext = path.extension().string();
    bool jsonl = ext == ".jsonl" || ext == ".json";
    if (ext != ".tsv" && !jsonl) {
        for (const std::string& line : lines) {
            const size_t first = line.find_first_not_of(" \t");
            if (first == std::string::npos) continue;
            jsonl = line[first] == '{';
            break;
        }
    }

    std::vector<BenchRequest> requests;
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        const size_t line_no = i + 1;
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        BenchRequest r;
        if (jsonl) {
            nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object()) {
                bad_request_line(name, line_no, R"(a JSON object {"prompt": ..., "max_tokens": N})",
                                 abbreviate(line));
            }
            if (!j.contains("prompt") || !j["prompt"].is_string())
                bad_request_line(name, line_no, "a string \"prompt\"", abbreviate(line));
            if (!j.contains("max_tokens") || !j["max_tokens"].is_number_integer())
                bad_request_line(name, line_no, "an integer \"max_tokens\"", abbreviate(line));
            r.prompt = j["prompt"].get<std::string>();
            const int64_t n = j["max_tokens"].get<int64_t>();
            if (n < 1 || n > (1 << 24))
                bad_request_line(name, line_no, "max_tokens from 1 to 2^24", std::to_string(n));
            r.max_tokens = int(n);
        } else {
            if (line[0] == '#') continue;
            const size_t tab = line.find('\t');
            if (tab == std::string::npos)
                bad_request_line(name, line_no, "MAX_TOKENS<TAB>PROMPT", abbreviate(line));
            const std::string count = line.substr(0, tab);
            int n = 0;
            size_t used = 0;
            try {
                n = std::stoi(count, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != count.size())
                bad_request_line(name, line_no, "an integer MAX_TOKENS before the tab", count);
            if (n < 1 || n > (1 << 24))
                bad_request_line(name, line_no, "MAX_TOKENS from 1 to 2^24", count);
            r.max_tokens = n;
            r.prompt = unescape_tsv(line.substr(tab + 1));
        }
        if (r.prompt.empty()) bad_request_line(name, line_no, "a non-empty prompt", "\"\"");
        requests.push_back(std::move(r));
    }
    if (requests.empty()) {
        throw Error(ErrorKind::bad_value, name, "", std::nullopt, "at least one request", "none");
    }
    return requests;
}

RequestResult run_bench_request(Model& model, Backend& backend, const Tokenizer& tokenizer,
                                const BenchRequest& request) {
    const ModelConfig& c = model.config();
    std::vector<TokenId> tokens = tokenizer.tokenize(request.prompt, true, false);
    const int n_ctx = int(tokens.size()) + request.max_tokens;
    if (tokens.empty() || (c.n_ctx_train > 0 && n_ctx > c.n_ctx_train)) {
        throw Error(ErrorKind::invalid_argument, "", "request", std::nullopt,
                    fmt::format("input + max_tokens of 1 to {} tokens", c.n_ctx_train),
                    fmt::format("{} + {}", tokens.size(), request.max_tokens));
    }
    RequestResult r;
    r.input_tokens = int(tokens.size());
    r.max_tokens = request.max_tokens;
    ScopedCache scoped(backend, c, n_ctx);
    SamplerParams greedy;
    greedy.temperature = 0;
    Sampler sampler(greedy);
    GenerateOptions options;
    options.n_predict = request.max_tokens;
    const auto t0 = Clock::now();
    GenerateResult g = generate(model, scoped.get(), tokenizer, sampler, tokens, options,
                                [](std::string_view) { return true; });
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    r.output_tokens = g.n_generated;
    r.peak_rss = peak_rss_bytes();
    return r;
}

}  // namespace slim
