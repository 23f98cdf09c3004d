// `slim niah`: needle in a haystack over a grid of context lengths x needle
// depths (tools/niah.h). The score table goes to stdout, progress to stderr,
// and the cells to PREFIX.json, PREFIX.png and PREFIX.svg (a heatmap).
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/cli/commands.h"
#include "apps/cli/common.h"
#include "backend/backend.h"
#include "format/error.h"
#include "format/gguf.h"
#include "format/mapped_file.h"
#include "model/model.h"
#include "runtime/tokenizer.h"
#include "slim/version.h"
#include "tools/heatmap.h"
#include "tools/niah.h"

namespace slim::cli {

namespace {

struct NiahCliOptions {
    std::string model;
    std::string haystack;
    std::optional<std::string> needle, question, answer;
    std::optional<int> max_ctx;
    std::vector<std::string> lengths;
    std::vector<double> depths{0, 25, 50, 75, 100};
    std::string prefix = "niah";
    int max_tokens = 32;
    int n_threads = 0;
    std::string prompt_style = "auto";
};

// "4096" or "4k" (4096).
int parse_length(const std::string& text) {
    size_t used = 0;
    long long v = -1;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used > 0 && used + 1 == text.size() && (text[used] == 'k' || text[used] == 'K')) {
        v *= 1024;
        ++used;
    }
    if (used == 0 || used != text.size() || v < 1 || v > (1 << 30)) {
        throw Error(ErrorKind::invalid_argument, "", "--lengths", std::nullopt,
                    "positive token counts such as 1024 or 1k", text);
    }
    return int(v);
}

std::string length_label(int n) {
    return n % 1024 == 0 ? fmt::format("{}k", n / 1024) : std::to_string(n);
}

int trained_context(const GgufFile& file) {
    std::string arch(file.get_string("general.architecture").value_or(""));
    std::optional<int64_t> n = file.get_i64(arch + ".context_length");
    if (!n || *n < 1) {
        throw Error(ErrorKind::bad_value, file.path(), arch + ".context_length", std::nullopt,
                    "the model's trained context (a positive count)", "none");
    }
    return int(std::min<int64_t>(*n, 1 << 30));
}

// 1k, 2k, 4k, ... up to max_ctx, and max_ctx itself.
std::vector<int> default_lengths(int max_ctx) {
    std::vector<int> out;
    for (int n = 1024; n < max_ctx; n *= 2) out.push_back(n);
    out.push_back(max_ctx);
    return out;
}

void write_json(const std::string& path, const nlohmann::ordered_json& j) {
    const std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << j.dump(2) << "\n";
        if (!out) {
            throw Error(ErrorKind::io, path, "", std::nullopt, "a file that can be written",
                        "a write error");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw Error(ErrorKind::io, path, "", std::nullopt, "the file renamed into place",
                    ec.message());
    }
}

void run_niah(const NiahCliOptions& o) {
    // Everything that needs no model is checked before the model loads.
    NiahNeedle needle = niah_default_needle();
    const int n_given =
        int(o.needle.has_value()) + int(o.question.has_value()) + int(o.answer.has_value());
    if (n_given != 0 && n_given != 3) {
        throw Error(ErrorKind::invalid_argument, "", "--needle", std::nullopt,
                    "--needle, --question and --answer together", "only some of them");
    }
    if (n_given == 3) needle = {*o.needle, *o.question, *o.answer};
    niah_validate_needle(needle);

    // The outputs come after the whole run: their folder is checked first.
    const std::filesystem::path out_dir = std::filesystem::path(o.prefix).parent_path();
    if (std::error_code ec; !out_dir.empty() && !std::filesystem::is_directory(out_dir, ec)) {
        throw Error(ErrorKind::io, o.prefix, "--output", std::nullopt,
                    "a prefix in an existing folder", out_dir.string() + " is not a folder");
    }

    std::string haystack_text;
    std::string haystack_source = "built-in (WikiText-2 articles)";
    if (!o.haystack.empty()) {
        MappedFile f(o.haystack);
        haystack_text.assign(reinterpret_cast<const char*>(f.bytes().data()), f.bytes().size());
        haystack_source = o.haystack;
    } else {
        haystack_text = niah_default_haystack();
    }

    NiahOptions options;
    options.max_tokens = o.max_tokens;
    options.depths = o.depths;
    for (const std::string& s : o.lengths) options.lengths.push_back(parse_length(s));

    GgufFile file = GgufFile::open(o.model);
    const int n_ctx_train = trained_context(file);
    if (o.max_ctx) {
        if (*o.max_ctx < 1) {
            throw Error(ErrorKind::invalid_argument, "", "--max-ctx", std::nullopt,
                        "at least 1 token", std::to_string(*o.max_ctx));
        }
        check_trained_context(file, *o.max_ctx, "--max-ctx");
    }
    const int max_ctx = o.max_ctx.value_or(n_ctx_train);
    if (options.lengths.empty()) options.lengths = default_lengths(max_ctx);

    Tokenizer tokenizer = Tokenizer::load(file);
    const NiahPromptStyle style = o.prompt_style == "chat"    ? NiahPromptStyle::chat
                                  : o.prompt_style == "plain" ? NiahPromptStyle::plain
                                                              : NiahPromptStyle::automatic;
    NiahPromptTemplate tpl = niah_prompt_template(file, tokenizer, style);
    if (tpl.origin == "plain" && style == NiahPromptStyle::automatic) {
        fmt::print(stderr,
                   "niah: {} has no chat template (a base model?); asking with a plain prompt "
                   "(text, question, \"Answer:\"); --prompt chat uses its family's published "
                   "template where there is one\n",
                   o.model);
    }
    NiahHaystack haystack(haystack_text, tokenizer, haystack_source);
    NiahPromptBuilder builder(tokenizer, tpl, haystack, needle);
    niah_validate(options, max_ctx, builder.overhead_tokens());
    const int longest = options.lengths.back() - o.max_tokens - builder.overhead_tokens();
    if (haystack.n_tokens() < longest) {
        fmt::print(
            stderr,
            "slim: warning: the haystack ({} tokens) is shorter than the longest cell "
            "needs ({}); it starts over from its first sentence there (\"haystack_repeated\" "
            "in the JSON)\n",
            haystack.n_tokens(), longest);
    }

    auto backend = make_cpu_backend({o.n_threads});
    auto model = load_model(file, *backend, 512);
    const std::string name = model_name(file, o.model);
    const size_t n_cells = options.lengths.size() * options.depths.size();
    fmt::print(stderr,
               "niah: {}, template {}, haystack {} ({} tokens), {} lengths x {} depths = {} "
               "cells, threads={}\n",
               name, tpl.origin, haystack_source, haystack.n_tokens(), options.lengths.size(),
               options.depths.size(), n_cells,
               o.n_threads > 0 ? std::to_string(o.n_threads) : "all cores");
    ProgressBar bar("cells");
    NiahResult r =
        niah_run(*model, *backend, tokenizer, builder, options, [&](const NiahProgress& p) {
            bar.update(p.done, p.total, p.seconds, fmt::format("found {}/{}", p.correct, p.done),
                       double(p.tokens_done) / double(p.tokens_total));
        });

    // Stdout: depths down, lengths across, as in the heatmap.
    fmt::print("{:>8}", "depth");
    for (int n : options.lengths) fmt::print(" {:>6}", length_label(n));
    fmt::print("\n");
    for (size_t j = 0; j < options.depths.size(); ++j) {
        fmt::print("{:>7}%", fmt::format("{:g}", options.depths[j]));
        for (size_t i = 0; i < options.lengths.size(); ++i)
            fmt::print(" {:>6}", r.cells[i * options.depths.size() + j].score);
        fmt::print("\n");
    }
    fmt::print("found {}/{} ({:.1f}%)\n", r.correct, n_cells, 100.0 * r.correct / double(n_cells));
    std::fflush(stdout);

    nlohmann::ordered_json j;
    j["slim"] = fmt::format("{} ({})", kVersion, kGitCommit);
    j["model"] = {{"path", o.model}, {"name", name}, {"n_ctx_train", n_ctx_train}};
    j["settings"] = {
        {"haystack", haystack_source},
        {"haystack_tokens", haystack.n_tokens()},
        {"needle", needle.needle},
        {"question", needle.question},
        {"answer", needle.answer},
        {"template", tpl.origin},
        {"max_tokens", o.max_tokens},
        {"lengths", options.lengths},
        {"depths", options.depths},
        {"threads",
         o.n_threads > 0 ? o.n_threads : std::max(1, int(std::thread::hardware_concurrency()))},
        {"scoring", "1 when the reply contains the answer (ASCII case-insensitive)"}};
    nlohmann::ordered_json cells = nlohmann::ordered_json::array();
    for (const NiahCell& c : r.cells) {
        cells.push_back({{"length", c.length},
                         {"depth", c.depth},
                         {"depth_actual", c.depth_actual},
                         {"score", c.score},
                         {"reply", c.reply},
                         {"prompt_tokens", c.prompt_tokens},
                         {"needle_token", c.needle_token},
                         {"reused_tokens", c.reused_tokens},
                         {"haystack_tokens", c.haystack_tokens},
                         {"haystack_repeated", c.repeated},
                         {"reply_tokens", c.reply_tokens},
                         {"stop", c.stop},
                         {"prompt_seconds", c.prompt_seconds},
                         {"reply_seconds", c.reply_seconds}});
    }
    j["cells"] = std::move(cells);
    j["summary"] = {{"cells", n_cells},
                    {"found", r.correct},
                    {"score", double(r.correct) / double(n_cells)},
                    {"seconds", r.seconds},
                    {"tokens_computed", r.tokens_computed},
                    {"peak_rss_bytes", peak_rss_bytes()}};
    write_json(o.prefix + ".json", j);

    Heatmap map;
    map.title = "Needle in a haystack";
    map.subtitle = name;
    map.x_title = "Context length (tokens)";
    map.y_title = "Needle depth (% of the text)";
    map.value_title = "Score (reply contains the answer)";
    for (int n : options.lengths) map.x_labels.push_back(length_label(n));
    for (double d : options.depths) map.y_labels.push_back(fmt::format("{:g}%", d));
    for (size_t jd = 0; jd < options.depths.size(); ++jd) {
        for (size_t il = 0; il < options.lengths.size(); ++il)
            map.values.push_back(r.cells[il * options.depths.size() + jd].score);
    }
    write_heatmap(map, o.prefix + ".png", HeatmapFormat::png);
    write_heatmap(map, o.prefix + ".svg", HeatmapFormat::svg);
    fmt::print(stderr,
               "niah: {:.1f} s, {} prompt tokens computed, peak RSS {}; wrote {}.json, "
               "{}.png, {}.svg\n",
               r.seconds, r.tokens_computed, human_bytes(double(peak_rss_bytes())), o.prefix,
               o.prefix, o.prefix);
}

}  // namespace

void add_niah_command(CLI::App& app) {
    auto o = std::make_shared<NiahCliOptions>();
    CLI::App* cmd = app.add_subcommand(
        "niah", "Needle in a haystack: find a fact over context lengths x depths (heatmap)");
    cmd->add_option("-m,--model", o->model, "GGUF model (default: Gemma 3 270M from `make demo`)");
    cmd->add_option("--haystack", o->haystack,
                    "Filler text file (default: built in, about 37k tokens of WikiText-2 "
                    "articles; a shorter text starts over where a cell needs more)");
    cmd->add_option("--needle", o->needle,
                    "The sentence to hide (default: the best thing to do in San Francisco ...); "
                    "needs --question and --answer");
    cmd->add_option("--question", o->question, "The question the needle answers");
    cmd->add_option("--answer", o->answer,
                    "Text of the needle a reply must contain to score 1 (case-insensitive)");
    cmd->add_option("--max-ctx", o->max_ctx,
                    "Longest context (default: the model's trained context)");
    cmd->add_option("--lengths", o->lengths,
                    "Context lengths in tokens, prompt and reply together, ascending "
                    "(default: 1k, 2k, 4k, ... up to --max-ctx)")
        ->delimiter(',');
    cmd->add_option("--depths", o->depths,
                    "Needle depths in % of the text (default: 0,25,50,75,100)")
        ->delimiter(',');
    cmd->add_option("-o,--output", o->prefix,
                    "Write PREFIX.json, PREFIX.png and PREFIX.svg (default: niah)");
    cmd->add_option("--max-tokens", o->max_tokens, "Reply length limit in tokens (default: 32)")
        ->check(CLI::Range(1, 4096));
    cmd->add_option("--prompt", o->prompt_style,
                    "auto: the file's chat template, plain where it has none (base models); "
                    "chat: the file's or its family's published template; plain: text, "
                    "question, \"Answer:\" (default: auto)")
        ->check(CLI::IsMember({"auto", "chat", "plain"}));
    cmd->add_option("-t,--threads", o->n_threads, "Threads (default: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd->callback([o] {
        if (o->model.empty()) o->model = default_model_path();
        run_niah(*o);
    });
}

}  // namespace slim::cli
