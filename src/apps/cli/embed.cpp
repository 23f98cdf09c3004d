// `slim embed -m MODEL.gguf [-f FILE | -p TEXT...] [--format jsonl|npy] [-o OUT]
//  [--normalize] [--batch 32] [-t N]` and `slim embed -m MODEL --similarity a.txt b.txt`:
// sentence embeddings from an encoder GGUF (src/tools/embed.h). Embeddings or
// similarities go to stdout (or -o); the progress bar, the truncation warning
// and the statistics go to stderr.
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "apps/cli/commands.h"
#include "apps/cli/common.h"
#include "format/error.h"
#include "format/mapped_file.h"
#include "tools/embed.h"
#include "tools/text_lines.h"

namespace slim::cli {

namespace {

struct EmbedCliOptions {
    std::string model;
    std::string file;
    std::vector<std::string> prompts;
    std::string format = "jsonl";
    std::string out;
    std::vector<std::string> similarity;
    bool normalize = false;
    int batch = 32;
    int n_threads = 0;
};

std::vector<std::string> read_lines(const std::string& path) {
    MappedFile f(path);
    const std::string_view text(reinterpret_cast<const char*>(f.bytes().data()), f.bytes().size());
    std::vector<std::string> lines;
    for (std::string_view line : split_lines(text)) lines.emplace_back(line);
    if (lines.empty()) {
        throw Error(ErrorKind::invalid_argument, path, "lines", std::nullopt,
                    "at least one line of text", "an empty file");
    }
    return lines;
}

// Writes through a temporary name, renamed when complete.
void write_output(const std::string& path, const std::string& bytes) {
    if (path.empty() || path == "-") {
        std::fwrite(bytes.data(), 1, bytes.size(), stdout);
        std::fflush(stdout);
        return;
    }
    const std::string tmp = path + ".tmp";
    {
        std::ofstream o(tmp, std::ios::binary);
        o.write(bytes.data(), std::streamsize(bytes.size()));
        if (!o) {
            throw Error(ErrorKind::io, path, "output", std::nullopt, "a writable file",
                        "a write error");
        }
    }
    std::filesystem::rename(tmp, path);
}

// A bar redrawn in place on a terminal, a line per tenth of the work on a log;
// nothing for inputs that take a moment.
class EmbedProgressBar {
  public:
    explicit EmbedProgressBar(size_t total)
        : tty_(::isatty(STDERR_FILENO) != 0), show_(total >= 256) {}

    void update(const EmbedProgress& p) {
        if (!show_) return;
        const size_t tenth = p.done * 10 / p.total;
        if (!tty_ && tenth == last_tenth_ && p.done < p.total) return;
        last_tenth_ = tenth;
        constexpr size_t kWidth = 30;
        const size_t filled = p.done * kWidth / p.total;
        const double rate = p.seconds > 0 ? double(p.done) / p.seconds : 0.0;
        fmt::print(stderr, "{}[{}{}] {}/{} texts  {:.1f} texts/s  ETA {:.0f} s{}", tty_ ? "\r" : "",
                   std::string(filled, '#'), std::string(kWidth - filled, '.'), p.done, p.total,
                   rate, rate > 0 ? double(p.total - p.done) / rate : 0.0,
                   tty_ && p.done < p.total ? "" : "\n");
        std::fflush(stderr);
    }

  private:
    bool tty_, show_;
    size_t last_tenth_ = 0;
};

EmbedResult embed_texts(Embedder& embedder, const std::vector<std::string>& texts,
                        const EmbedCliOptions& o, bool normalize) {
    EmbedOptions options;
    options.batch = o.batch;
    options.normalize = normalize;
    EmbedProgressBar bar(texts.size());
    EmbedResult r = embedder.embed(texts, options, [&](const EmbedProgress& p) { bar.update(p); });
    if (r.n_truncated > 0) {
        fmt::print(stderr,
                   "slim: warning: {} of {} texts longer than the model's {} positions were "
                   "truncated (longest: {} tokens)\n",
                   r.n_truncated, r.n_texts, embedder.config().n_ctx_train, r.longest);
    }
    return r;
}

void run_embed(const EmbedCliOptions& o) {
    if (o.format != "jsonl" && o.format != "npy") {
        throw Error(ErrorKind::invalid_argument, "", "--format", std::nullopt, "jsonl or npy",
                    o.format);
    }
    const bool similarity = !o.similarity.empty();
    if (similarity + !o.file.empty() + !o.prompts.empty() != 1) {
        throw Error(ErrorKind::invalid_argument, "", "input", std::nullopt,
                    "exactly one of -f FILE, -p TEXT... or --similarity A B",
                    similarity + !o.file.empty() + !o.prompts.empty() == 0 ? "none" : "several");
    }
    // Inputs are read before the model is loaded, so a bad one fails fast.
    std::vector<std::string> texts, second;
    if (similarity) {
        texts = read_lines(o.similarity[0]);
        second = read_lines(o.similarity[1]);
        if (texts.size() != second.size()) {
            throw Error(ErrorKind::invalid_argument, o.similarity[1], "lines", std::nullopt,
                        fmt::format("{} lines (as many as {})", texts.size(), o.similarity[0]),
                        std::to_string(second.size()));
        }
        texts.insert(texts.end(), second.begin(), second.end());
    } else if (!o.file.empty()) {
        texts = read_lines(o.file);
    } else {
        texts = o.prompts;
    }

    GgufFile file = GgufFile::open(o.model);
    auto backend = make_cpu_backend({o.n_threads});
    Embedder embedder(file, *backend);
    const EncoderConfig& c = embedder.config();
    fmt::print(stderr, "embed: {} ({}, {} layers, {} dims, {} pooling), {} texts, batch {}, {}\n",
               o.model, c.arch, c.n_layer, c.n_embd, pooling_name(c.pooling), texts.size(), o.batch,
               backend->name());

    const EmbedResult r = embed_texts(embedder, texts, o, o.normalize || similarity);
    if (similarity) {
        const size_t n = texts.size() / 2, e = size_t(r.n_embd);
        std::string out;
        for (size_t i = 0; i < n; ++i) {
            const std::span<const float> all(r.embeddings);
            out += fmt::format(
                "{:.6f}\n", cosine_similarity(all.subspan(i * e, e), all.subspan((n + i) * e, e)));
        }
        write_output(o.out, out);
    } else if (o.format == "npy") {
        if (o.out.empty() && ::isatty(STDOUT_FILENO)) {
            throw Error(ErrorKind::invalid_argument, "", "--output", std::nullopt,
                        "a file for --format npy (or stdout redirected)", "a terminal");
        }
        write_output(o.out, embeddings_to_npy(r.embeddings, r.n_embd));
    } else {
        write_output(o.out, embeddings_to_jsonl(r.embeddings, r.n_embd));
    }
    fmt::print(stderr, "embed: {} texts, {} tokens in {:.2f} s ({:.1f} texts/s), peak RSS {}\n",
               r.n_texts, r.n_tokens, r.seconds,
               r.seconds > 0 ? double(r.n_texts) / r.seconds : 0.0,
               human_bytes(double(peak_rss_bytes())));
}

}  // namespace

void add_embed_command(CLI::App& app) {
    auto o = std::make_shared<EmbedCliOptions>();
    CLI::App* cmd = app.add_subcommand(
        "embed", "Sentence embeddings from an encoder GGUF (BERT, e.g. all-MiniLM-L6-v2)");
    cmd->add_option("-m,--model", o->model, "Encoder GGUF (slim convert writes one)")->required();
    cmd->add_option("-f,--file", o->file, "Texts to embed, one per line");
    cmd->add_option("-p,--prompt", o->prompts, "Texts to embed (repeatable)");
    cmd->add_option("--format", o->format, "Output: jsonl (one JSON object per line) or npy")
        ->capture_default_str();
    cmd->add_option("-o,--output", o->out, "Write the output here (default: stdout)");
    cmd->add_flag("--normalize", o->normalize, "Scale every embedding to unit L2 norm");
    cmd->add_option("--similarity", o->similarity,
                    "Cosine similarity of line i of A with line i of B, one per line")
        ->expected(2);
    cmd->add_option("-b,--batch", o->batch, "Texts per forward pass")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 16));
    cmd->add_option("-t,--threads", o->n_threads, "Threads (default: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd->callback([o] { run_embed(*o); });
}

}  // namespace slim::cli
