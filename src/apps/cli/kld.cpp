// `slim kld`: KL divergence of a model's next-token distributions from a
// base model's, over a text (see tools/kld.h). Two steps:
//   slim kld --save-logits base.bin -m BASE -f TEXT   saves the base's top-k
//   slim kld --base base.bin -m OTHER [-f TEXT]       compares OTHER with it
// The statistics go to stdout, the progress bar to stderr.
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
#include "format/mapped_file.h"
#include "model/model.h"
#include "runtime/tokenizer.h"
#include "tools/kld.h"
#include "tools/perplexity.h"

namespace slim::cli {

namespace {

struct KldCliOptions {
    std::string model;
    std::string text_file;
    std::string save_path;
    std::string base_path;
    std::optional<int> n_ctx;
    int n_batch = 0;
    int n_chunks = -1;
    int top_k = kKldDefaultTopK;
    int n_threads = 0;
};

std::string read_text(const std::string& path) {
    MappedFile f(path);
    std::string text(reinterpret_cast<const char*>(f.bytes().data()), f.bytes().size());
    if (text.empty()) {
        throw Error(ErrorKind::invalid_argument, path, "text", std::nullopt, "a non-empty text",
                    "an empty file");
    }
    return text;
}

int max_batch_for(int n_ctx, int n_batch) {
    return n_batch > 0 ? n_batch : std::max(1, n_ctx - n_ctx / 2);
}

void run_save(const KldCliOptions& o) {
    if (o.text_file.empty()) {
        throw Error(ErrorKind::invalid_argument, o.save_path, "--file", std::nullopt,
                    "the text to save the base's logits on (-f)", "none");
    }
    PerplexityOptions options;
    options.n_ctx = o.n_ctx.value_or(512);
    options.n_batch = o.n_batch;
    options.n_chunks = o.n_chunks;
    options.source = o.text_file;

    const std::string text = read_text(o.text_file);
    GgufFile file = GgufFile::open(o.model);
    check_trained_context(file, options.n_ctx, "--ctx-size");
    Tokenizer tokenizer = Tokenizer::load(file);
    std::vector<TokenId> tokens = perplexity_tokenize(tokenizer, text, options);

    auto backend = make_cpu_backend({o.n_threads});
    auto model = load_model(file, *backend, max_batch_for(options.n_ctx, o.n_batch));
    fmt::print(stderr, "kld: saving the top-{} log-probs of {} on {}, n_ctx={}, threads={}\n",
               o.top_k, o.model, o.text_file, options.n_ctx,
               o.n_threads > 0 ? std::to_string(o.n_threads) : "all cores");
    ProgressBar bar("chunks");
    KldLogits logits = kld_save(
        *model, *backend, tokenizer, tokens, options, o.top_k, model_name(file, o.model),
        std::filesystem::path(o.text_file).filename().string(),
        [&](const KldProgress& p) { bar.update(p.chunks_done, p.n_chunks, p.seconds, ""); });
    write_kld_logits(logits, o.save_path);
    fmt::print("saved {} positions ({} chunks of {}, top-{}) of {} to {} ({})\n",
               logits.header.n_positions, logits.header.n_chunks, logits.header.n_ctx,
               logits.header.top_k, logits.header.model_name, o.save_path,
               human_bytes(double(std::filesystem::file_size(o.save_path))));
}

void run_compare(const KldCliOptions& o) {
    KldLogits base = read_kld_logits(o.base_path);
    const KldHeader& h = base.header;
    if (o.n_ctx && *o.n_ctx != int(h.n_ctx)) {
        throw Error(ErrorKind::invalid_argument, o.base_path, "--ctx-size", std::nullopt,
                    fmt::format("the base's context of {} tokens (or no -c)", h.n_ctx),
                    std::to_string(*o.n_ctx));
    }
    GgufFile file = GgufFile::open(o.model);
    check_trained_context(file, h.n_ctx, "--ctx-size");
    Tokenizer tokenizer = Tokenizer::load(file);
    check_kld_vocab(h, o.model, h.n_vocab, kld_vocab_hash(tokenizer.vocab()));
    if (!o.text_file.empty()) {
        // A text given again must be the one the base was saved on.
        PerplexityOptions options;
        options.n_ctx = int(h.n_ctx);
        options.source = o.text_file;
        const std::string text = read_text(o.text_file);
        check_kld_text(h, o.text_file, perplexity_tokenize(tokenizer, text, options), int(h.n_ctx));
    }

    auto backend = make_cpu_backend({o.n_threads});
    auto model = load_model(file, *backend, max_batch_for(int(h.n_ctx), o.n_batch));
    check_kld_vocab(h, o.model, uint32_t(model->config().n_vocab),
                    kld_vocab_hash(tokenizer.vocab()));
    fmt::print(stderr, "kld: {} against the base {} ({}), {} chunks of {}, top-{}, threads={}\n",
               o.model, h.model_name, o.base_path, h.n_chunks, h.n_ctx, h.top_k,
               o.n_threads > 0 ? std::to_string(o.n_threads) : "all cores");
    PerplexityOptions options;
    options.n_batch = o.n_batch;
    options.source = o.base_path;
    ProgressBar bar("chunks");
    KldResult r = kld_compare(*model, *backend, perplexity_bos(tokenizer), base, options,
                              [&](const KldProgress& p) {
                                  bar.update(p.chunks_done, p.n_chunks, p.seconds,
                                             fmt::format("mean KLD {:.6f}", p.kl_mean));
                              });

    fmt::print("base:  {} ({})\nother: {}\ntext:  {}, {} chunks of {}, {} positions scored\n",
               h.model_name, o.base_path, model_name(file, o.model), h.text_name, h.n_chunks,
               h.n_ctx, r.n_positions);
    fmt::print("====== Perplexity ======\n");
    fmt::print("PPL(base)  = {:.4f}\nPPL(other) = {:.4f}\n", r.ppl_base, r.ppl_other);
    fmt::print("dPPL       = {:+.4f} ({:+.3f} %)\n", r.ppl_other - r.ppl_base,
               100 * (r.ppl_other / r.ppl_base - 1));
    fmt::print("====== KL divergence (top-{} + rest, a lower bound) ======\n", h.top_k);
    fmt::print("Mean   KLD = {:.6f} +/- {:.6f}\n", r.kl_mean, r.kl_stderr);
    fmt::print("Median KLD = {:.6f}\n99.0%  KLD = {:.6f}\nMax    KLD = {:.6f}\n", r.kl_median,
               r.kl_p99, r.kl_max);
    fmt::print("====== Agreement ======\n");
    fmt::print("Same top-1 = {:.3f} %\nTop-5      = {:.3f} % (base top-1 in other's top 5)\n",
               100 * r.top1, 100 * r.top5);
    std::fflush(stdout);
    fmt::print(stderr, "kld: {:.1f} s, peak RSS {}\n", r.seconds,
               human_bytes(double(peak_rss_bytes())));
}

}  // namespace

void add_kld_command(CLI::App& app) {
    auto o = std::make_shared<KldCliOptions>();
    CLI::App* cmd = app.add_subcommand(
        "kld",
        "KL divergence from a base model's saved top-k logits, as llama-perplexity "
        "--kl-divergence");
    cmd->add_option("-m,--model", o->model, "GGUF model (default: Gemma 3 270M from `make demo`)");
    cmd->add_option("-f,--file", o->text_file,
                    "Text to score (required with --save-logits; checked against the base's "
                    "with --base)");
    auto* save = cmd->add_option("--save-logits", o->save_path,
                                 "Run the model as the base and save its top-k log-probs here");
    auto* base = cmd->add_option("--base", o->base_path,
                                 "Compare the model with the base logits saved in this file");
    save->excludes(base);
    cmd->add_option("-c,--ctx-size", o->n_ctx,
                    "Tokens per chunk, as slim perplexity (default: 512; with --base: the base's)")
        ->check(CLI::Range(1, 1 << 24));
    cmd->add_option("-b,--batch-size", o->n_batch,
                    "Tokens per forward batch (default: half a chunk)")
        ->check(CLI::Range(1, 1 << 24));
    cmd->add_option("--chunks", o->n_chunks, "Save at most this many chunks (default: all)")
        ->check(CLI::Range(1, 1 << 30));
    cmd->add_option("--top-k", o->top_k,
                    fmt::format("Log-probs saved per position (default: {})", kKldDefaultTopK))
        ->check(CLI::Range(1, 1 << 24));
    cmd->add_option("-t,--threads", o->n_threads, "Threads (default: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd->callback([o] {
        if (o->model.empty()) o->model = default_model_path();
        if (!o->save_path.empty()) {
            run_save(*o);
        } else if (!o->base_path.empty()) {
            run_compare(*o);
        } else {
            throw Error(ErrorKind::invalid_argument, "slim kld", "--save-logits / --base",
                        std::nullopt, "one of them", "neither");
        }
    });
}

}  // namespace slim::cli
