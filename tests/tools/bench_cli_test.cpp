// `slim bench` as a user runs it, on the 4-layer random qwen2 model (tiny
// tests: -p 8 -n 4 -r 1). The field list and the markdown header are
// llama-bench's (tools/llama-bench/llama-bench.cpp, llama.cpp 0c1e57098 as
// vendored in llama-cpp-python 0.3.36), written out here as the reference.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

using test::run_command;

std::filesystem::path model() {
    return test::models_dir() / "qwen2-random-Q8_0.gguf";
}

std::string bench(const std::string& args) {
    return test::slim_binary().string() + " bench -m " + model().string() + " " + args;
}

class SlimBench : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists(model()))
            GTEST_SKIP() << model() << " is missing (scripts/get-models.sh)";
    }
};

// The fields llama-bench's JSON printer writes that slim fills in (it leaves
// out those of newer llama-bench versions about offloading and MoE).
const char* kLlamaBenchFields[] = {
    "build_commit",   "build_number", "cpu_info",     "gpu_info",       "backends",
    "model_filename", "model_type",   "model_size",   "model_n_params", "n_batch",
    "n_ubatch",       "n_threads",    "cpu_mask",     "cpu_strict",     "poll",
    "type_k",         "type_v",       "n_gpu_layers", "split_mode",     "main_gpu",
    "no_kv_offload",  "flash_attn",   "tensor_split", "use_mmap",       "embeddings",
    "n_prompt",       "n_gen",        "n_depth",      "test_time",      "avg_ns",
    "stddev_ns",      "avg_ts",       "stddev_ts",    "samples_ns",     "samples_ts"};

TEST_F(SlimBench, JsonHasLlamaBenchFields) {
    auto r = run_command(bench("-p 8 -n 4 -r 1 -t 1 -o json"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out);
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), 2u);
    for (const auto& o : j) {
        for (const char* f : kLlamaBenchFields) EXPECT_TRUE(o.contains(f)) << f;
        EXPECT_GT(o["avg_ts"].get<double>(), 0);
        EXPECT_GT(o["avg_ns"].get<int64_t>(), 0);
        EXPECT_EQ(o["n_threads"], 1);
        EXPECT_EQ(o["model_filename"], model().string());
        EXPECT_EQ(o["samples_ns"].size(), 1u);
        // t/s is tokens per second of each sample.
        const double tokens = o["n_prompt"].get<double>() + o["n_gen"].get<double>();
        EXPECT_NEAR(o["samples_ts"][0].get<double>(),
                    tokens * 1e9 / o["samples_ns"][0].get<double>(),
                    1e-6 * o["samples_ts"][0].get<double>());
        EXPECT_EQ(o["model_type"].get<std::string>().rfind("qwen2 ", 0), 0u) << o["model_type"];
        EXPECT_NE(o["model_type"].get<std::string>().find("Q8_0"), std::string::npos);
        EXPECT_TRUE(o["cpu_strict"].is_boolean());
        EXPECT_TRUE(o["avg_ts"].is_number_float());
    }
    EXPECT_EQ(j[0]["n_prompt"], 8);
    EXPECT_EQ(j[0]["n_gen"], 0);
    EXPECT_EQ(j[1]["n_prompt"], 0);
    EXPECT_EQ(j[1]["n_gen"], 4);
    // The parameter count of the file, from its shapes (Qwen2.5-0.5B's, 4
    // layers, 151,936-token vocabulary, tied embeddings; make_qwen2_random.py):
    const int64_t embd = 896, kv = 128, ff = 4864, vocab = 151936;
    const int64_t layer =
        2 * embd * embd + 2 * embd * kv + embd + 2 * kv + 3 * embd * ff + 2 * embd;
    EXPECT_EQ(j[0]["model_n_params"].get<int64_t>(), vocab * embd + embd + 4 * layer);
}

TEST_F(SlimBench, MarkdownTableLikeLlamaBench) {
    auto r = run_command(bench("-p 4 -n 2 -r 2 -t 1,2"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream in(r.out);
    std::string header, sep;
    std::getline(in, header);
    std::getline(in, sep);
    EXPECT_EQ(header,
              "| model                          |       size |     params | backend    | threads | "
              "           test |                  t/s |");
    EXPECT_EQ(sep,
              "| ------------------------------ | ---------: | ---------: | ---------- | ------: | "
              "--------------: | -------------------: |");
    std::vector<std::string> rows;
    for (std::string line; std::getline(in, line) && !line.empty();) rows.push_back(line);
    ASSERT_EQ(rows.size(), 4u) << r.out;
    const std::regex row(
        R"(\| qwen2 .* \| +[0-9.]+ MiB \| +[0-9.]+ M \| CPU +\| +([12]) \| +(pp4|tg2) \| +[0-9.]+ ± [0-9.]+ \|)");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(rows[0], m, row)) << rows[0];
    EXPECT_EQ(m[1], "1");
    EXPECT_EQ(m[2], "pp4");
    ASSERT_TRUE(std::regex_match(rows[3], m, row)) << rows[3];
    EXPECT_EQ(m[1], "2");
    EXPECT_EQ(m[2], "tg2");
    EXPECT_NE(r.out.find("\nbuild: "), std::string::npos);
}

TEST_F(SlimBench, CsvHasTheFieldsAsHeader) {
    auto r = run_command(bench("-p 8 -n 0 -r 1 -t 1 -o csv"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream in(r.out);
    std::string header, row, extra;
    std::getline(in, header);
    std::getline(in, row);
    EXPECT_FALSE(std::getline(in, extra));
    std::string expected;
    for (const char* f : kLlamaBenchFields) {
        if (std::string(f).rfind("samples_", 0) == 0) continue;  // JSON only
        if (!expected.empty()) expected += ',';
        expected += f;
    }
    EXPECT_EQ(header, expected);
    EXPECT_NE(row.find("\"8\",\"0\",\"0\""), std::string::npos) << row;  // n_prompt, n_gen, n_depth
}

// Parses the profile tables: one per test, shares in the last column.
std::vector<std::map<std::string, double>> profile_tables(const std::string& out) {
    std::vector<std::map<std::string, double>> tables;
    std::istringstream in(out);
    const std::regex row(R"(\| ([^|]+) \| [0-9]* \| [0-9.-]+ \| (-?[0-9.]+)% \|)");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("profile: ", 0) == 0) tables.emplace_back();
        std::smatch m;
        if (!tables.empty() && std::regex_match(line, m, row) && m[1] != "total")
            tables.back()[m[1]] = std::stod(m[2]);
    }
    return tables;
}

TEST_F(SlimBench, ProfileSharesSumToAHundred) {
    auto r = run_command(bench("-p 8 -n 4 -r 1 -t 1 --profile"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto tables = profile_tables(r.out);
    ASSERT_EQ(tables.size(), 2u) << r.out;
    for (const auto& t : tables) {
        double sum = 0;
        for (const auto& [name, share] : t) {
            if (name != "other (outside ops)") {
                EXPECT_GE(share, 0) << name;
            }
            sum += share;
        }
        EXPECT_NEAR(sum, 100.0, 0.6) << r.out;
        EXPECT_TRUE(t.count("attention") && t.count("norms") && t.count("rope") &&
                    t.count("sampling"))
            << r.out;
    }
    // pp8 multiplies 8 rows by every layer's matrices and one row by the
    // output matrix (only the last logits); tg4 only ever has one row.
    EXPECT_GT(tables[0].at("matmul (mat x mat)"), 0);
    EXPECT_GT(tables[0].at("matmul (mat x vec)"), 0);
    EXPECT_EQ(tables[1].count("matmul (mat x mat)"), 0u);
    EXPECT_GT(tables[1].at("matmul (mat x vec)"), 0);
}

TEST_F(SlimBench, MemoryKvBytesFollowTheFormula) {
    auto r = run_command(bench("--memory --memory-ctx 512,8192,65536"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // 2 (K, V) * 4 layers * n_ctx * 2 KV heads * 64 per head * 2 bytes (F16).
    const std::regex row(
        R"(\| ([0-9]+)(\*?) \| ([0-9.]+) MiB \| ([0-9.]+) MiB \| ([0-9.]+) MiB \| ([0-9.]+) MiB \| ([0-9.]+)% \| ([0-9.]+) MiB \| ([0-9.]+) MiB \| (-?[0-9.]+) MiB \|)");
    std::istringstream in(r.out);
    int seen = 0;
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (!std::regex_match(line, m, row)) continue;
        const int n_ctx = std::stoi(m[1]);
        const double kv_mib = 2.0 * 4 * n_ctx * 2 * 64 * 2 / (1024.0 * 1024.0);
        EXPECT_NEAR(std::stod(m[4]), kv_mib, 0.005) << line;
        EXPECT_EQ(m[2] == "*", n_ctx > 32768) << line;  // the trained context is 32768
        // The weights: Q8_0 matrices (34 bytes per 32) and F32 vectors, by the
        // shapes of make_qwen2_random.py.
        const double matrices =
            151936.0 * 896 + 4 * (2 * 896.0 * 896 + 2 * 896.0 * 128 + 3 * 896.0 * 4864);
        const double vectors = 896 + 4 * (896 + 256 + 2 * 896);
        EXPECT_NEAR(std::stod(m[3]), (matrices * 34 / 32 + vectors * 4) / (1024.0 * 1024.0), 0.005)
            << line;
        const double total = std::stod(m[3]) + std::stod(m[4]) + std::stod(m[5]);
        EXPECT_NEAR(std::stod(m[6]), total, 0.02) << line;
        EXPECT_NEAR(std::stod(m[7]), 100.0 * kv_mib / total, 0.06) << line;
        // Writing the whole cache makes it resident: RSS grows by its size.
        if (kv_mib >= 16) {
            EXPECT_NEAR(std::stod(m[10]), kv_mib, 0.1 * kv_mib) << line;
        }
        ++seen;
    }
    EXPECT_EQ(seen, 3) << r.out;
}

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
    std::filesystem::path p = std::filesystem::temp_directory_path() /
                              ("slim-bench-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

TEST_F(SlimBench, RequestsTableAndCsv) {
    auto jsonl = write_temp("req.jsonl",
                            "{\"prompt\": \"Hello there\", \"max_tokens\": 3}\n\n"
                            "{\"prompt\": \"One two three four\", \"max_tokens\": 2}\n");
    auto r = run_command(bench("-t 1 --requests " + jsonl.string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::regex row(
        R"(\| qwen2-random-Q8_0.gguf \| Q8_0 \| ([0-9]+) \| ([0-9]+) \| ([0-9]+) \| ([0-9.]+) \| ([0-9.]+) \|)");
    std::istringstream in(r.out);
    std::vector<std::vector<std::string>> rows;  // the matched groups, [1] to [5]
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_match(line, m, row)) rows.push_back({m[0], m[1], m[2], m[3], m[4], m[5]});
    }
    ASSERT_EQ(rows.size(), 2u) << r.out;
    EXPECT_EQ(rows[0][2], "3");
    EXPECT_EQ(rows[1][2], "2");
    for (const auto& m : rows) {
        EXPECT_GT(std::stoi(m[1]), 0);
        EXPECT_LE(std::stoi(m[3]), std::stoi(m[2]));
        EXPECT_GT(std::stod(m[4]), 0);
        EXPECT_GT(std::stod(m[5]), 50);  // the weights alone are 200 MiB once touched
    }

    auto tsv = write_temp("req.tsv", "# max tokens, tab, prompt\n2\tHello\\tthere\n");
    auto c = run_command(bench("-t 1 -o csv --requests " + tsv.string()));
    ASSERT_EQ(c.exit_code, 0) << c.err;
    EXPECT_EQ(c.out.rfind("model,quantization,input_tokens,output_max_tokens,output_tokens,"
                          "time_per_request_s,peak_ram_mib\n\"qwen2-random-Q8_0.gguf\",Q8_0,",
                          0),
              0u)
        << c.out;
    std::filesystem::remove(jsonl);
    std::filesystem::remove(tsv);
}

struct BadCase {
    const char* args;
    const char* message;  // a piece of the error
};

TEST_F(SlimBench, BadFlagsAreClearErrors) {
    const BadCase cases[] = {
        {"-t 0", "-t"},
        {"-t 1,0", "thread counts of at least 1"},
        {"-p -1", "-p"},
        {"-n -3", "-n"},
        {"-p 0 -n 0", "at least one positive"},
        {"-r 0", "-r"},
        {"-o xml", "md, json or csv"},
        {"--memory -o json", "md with --memory"},
        {"--requests /nonexistent/requests.jsonl", "/nonexistent/requests.jsonl"},
        {"-p 40000 -n 0", "trained context"},
    };
    for (const BadCase& c : cases) {
        auto r = run_command(bench(c.args));
        EXPECT_NE(r.exit_code, 0) << c.args;
        EXPECT_EQ(r.out, "") << c.args;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
    }
}

TEST_F(SlimBench, MalformedRequestLinesNameTheLine) {
    const BadCase cases[] = {
        {"{\"prompt\": \"a\", \"max_tokens\": 2}\n{\"prompt\": \"b\", \"max_tokens\": \n",
         "line 2"},
        {"{\"prompt\": \"a\"}\n", "max_tokens"},
        {"{\"prompt\": 3, \"max_tokens\": 2}\n", "prompt"},
        {"{\"prompt\": \"a\", \"max_tokens\": 0}\n", "max_tokens from 1"},
        {"\n\n", "at least one request"},
    };
    int i = 0;
    for (const BadCase& c : cases) {
        auto p = write_temp("bad" + std::to_string(i++) + ".jsonl", c.args);
        auto r = run_command(bench("--requests " + p.string()));
        EXPECT_NE(r.exit_code, 0) << c.args;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
        EXPECT_NE(r.err.find(p.string()), std::string::npos) << r.err;
        std::filesystem::remove(p);
    }
    const BadCase tsv[] = {
        {"5 no tab here\n", "MAX_TOKENS<TAB>PROMPT"},
        {"x\thello\n", "an integer MAX_TOKENS"},
        {"3\t\n", "a non-empty prompt"},
    };
    for (const BadCase& c : tsv) {
        auto p = write_temp("bad" + std::to_string(i++) + ".tsv", c.args);
        auto r = run_command(bench("--requests " + p.string()));
        EXPECT_NE(r.exit_code, 0) << c.args;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
        EXPECT_NE(r.err.find("line 1"), std::string::npos) << r.err;
        std::filesystem::remove(p);
    }
}

}  // namespace
}  // namespace slim
