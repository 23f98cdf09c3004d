// `slim perplexity`: perplexity of a model over a text file, scored as
// llama-perplexity scores it (see tools/perplexity.h). The per-chunk running
// estimates and the final line go to stdout in llama-perplexity's format; the
// progress bar and statistics go to stderr.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli/commands.h"
#include "apps/cli/common.h"
#include "backend/backend.h"
#include "format/error.h"
#include "format/gguf.h"
#include "format/mapped_file.h"
#include "model/model.h"
#include "runtime/tokenizer.h"
#include "tools/perplexity.h"

namespace slim::cli {

namespace {

struct PerplexityCliOptions {
    std::string model;
    std::string text_file;
    int n_ctx = 512;
    int n_batch = 0;
    int n_chunks = -1;
    int n_threads = 0;
};

void run_perplexity(const PerplexityCliOptions& o) {
    MappedFile text_file(o.text_file);
    const std::string_view text(reinterpret_cast<const char*>(text_file.bytes().data()),
                                text_file.bytes().size());
    if (text.empty()) {
        throw Error(ErrorKind::invalid_argument, o.text_file, "text", std::nullopt,
                    "a non-empty text", "an empty file");
    }

    PerplexityOptions options;
    options.n_ctx = o.n_ctx;
    options.n_batch = o.n_batch;
    options.n_chunks = o.n_chunks;
    options.source = o.text_file;

    // Everything that can be wrong with the input is found before the model
    // and its threads are set up.
    GgufFile file = GgufFile::open(o.model);
    check_trained_context(file, o.n_ctx, "--ctx-size");
    Tokenizer tokenizer = Tokenizer::load(file);
    std::vector<TokenId> tokens = perplexity_tokenize(tokenizer, text, options);

    auto backend = make_cpu_backend({o.n_threads});
    // A batch never needs to be longer than the half of a chunk that is scored.
    const int max_batch = o.n_batch > 0 ? o.n_batch : std::max(1, o.n_ctx - o.n_ctx / 2);
    auto model = load_model(file, *backend, max_batch);

    fmt::print(stderr, "perplexity: {} on {}, n_ctx={}, batch={}, threads={}\n", o.model,
               o.text_file, o.n_ctx, max_batch,
               o.n_threads > 0 ? std::to_string(o.n_threads) : "all cores");
    ProgressBar bar("chunks");
    PerplexityResult r = perplexity_tokens(
        *model, *backend, tokens, perplexity_bos(tokenizer), options,
        [&](const PerplexityProgress& p) {
            if (p.chunks_done == 1) {
                fmt::print(stderr, "perplexity: {} chunks of {} tokens, {} scored each\n",
                           p.n_chunks, o.n_ctx, o.n_ctx - o.n_ctx / 2 - 1);
            }
            bar.update(p.chunks_done, p.n_chunks, p.seconds, fmt::format("ppl {:.4f}", p.ppl));
        });

    std::string chunks;
    for (size_t i = 0; i < r.chunk_ppl.size(); ++i)
        chunks += fmt::format("[{}]{:.4f},", i + 1, r.chunk_ppl[i]);
    fmt::print("{}\n", chunks);
    fmt::print("Final estimate: PPL = {:.4f} +/- {:.5f}\n", r.ppl, r.ppl_stderr);
    std::fflush(stdout);
    fmt::print(stderr,
               "perplexity: {} tokens in the text, {} chunks, {} tokens scored, {:.1f} s ({:.1f} "
               "tokens/s)\n",
               r.n_tokens, r.n_chunks, r.n_scored, r.seconds,
               r.seconds > 0 ? double(r.n_chunks) * (o.n_ctx - 1) / r.seconds : 0.0);
    fmt::print(stderr, "peak RSS: {}\n", human_bytes(double(peak_rss_bytes())));
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
    auto o = std::make_shared<PerplexityCliOptions>();
    CLI::App* cmd =
        app.add_subcommand("perplexity", "Perplexity over a text, scored as llama-perplexity does");
    cmd->add_option("-m,--model", o->model, "GGUF model (default: Gemma 3 270M from `make demo`)");
    cmd->add_option("-f,--file", o->text_file, "Text to score (e.g. wiki.test.raw)")->required();
    cmd->add_option("-c,--ctx-size", o->n_ctx,
                    "Tokens per chunk; the second half of each is scored")
        ->check(CLI::Range(1, 1 << 24));
    cmd->add_option("-b,--batch-size", o->n_batch,
                    "Tokens per forward batch (default: half a chunk)")
        ->check(CLI::Range(1, 1 << 24));
    cmd->add_option("--chunks", o->n_chunks, "Score at most this many chunks (default: all)")
        ->check(CLI::Range(1, 1 << 30));
    cmd->add_option("-t,--threads", o->n_threads, "Threads (default: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd->callback([o] {
        if (o->model.empty()) o->model = default_model_path();
        run_perplexity(*o);
    });
}

}  // namespace slim::cli
