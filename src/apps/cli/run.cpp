// `slim run`: generate from a prompt, or chat, streaming tokens to stdout.
// Statistics and logs go to stderr so the text can be piped.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "apps/cli/commands.h"
#include "apps/cli/common.h"
#include "backend/backend.h"
#include "format/error.h"
#include "format/gguf.h"
#include "format/mapped_file.h"
#include "model/model.h"
#include "runtime/chat_template.h"
#include "runtime/generate.h"
#include "runtime/jinja/template.h"
#include "runtime/sampler.h"
#include "runtime/tokenizer.h"

namespace slim::cli {

namespace {

struct RunOptions {
    std::string model;
    std::string prompt;
    std::string prompt_file;
    std::string system;
    int n_predict = 128;
    int n_ctx = 4096;
    int n_threads = 0;
    bool chat = false;
    bool no_echo = false;
    bool no_bos = false;
    bool parse_special = false;
    std::vector<std::string> stop;
    std::vector<std::string> logit_bias;
    SamplerParams sampling;
};

struct Loaded {
    GgufFile file;
    std::unique_ptr<Backend> backend;
    std::unique_ptr<Model> model;
    Tokenizer tokenizer;
};

std::unique_ptr<Loaded> load(const RunOptions& o) {
    GgufFile file = GgufFile::open(o.model);
    Tokenizer tokenizer = Tokenizer::load(file);
    auto backend = make_cpu_backend({o.n_threads});
    auto loaded = std::unique_ptr<Loaded>(
        new Loaded{std::move(file), std::move(backend), nullptr, std::move(tokenizer)});
    loaded->model = load_model(loaded->file, *loaded->backend);
    // Weights stay in the mmap'd file: RSS here is far below the file size
    // until the first forward pass touches them.
    fmt::print(stderr, "loaded {} ({}, {}): RSS {}\n", o.model,
               human_bytes(double(loaded->file.file_size())), loaded->backend->name(),
               human_bytes(double(current_rss_bytes())));
    return loaded;
}

void print_stats(const GenerateResult& r) {
    auto rate = [](int n, double s) { return s > 0 ? n / s : 0.0; };
    fmt::print(stderr, "\n\nprompt:    {} tokens in {:.2f} s, {:.1f} tokens/s\n", r.n_prompt,
               r.prompt_seconds, rate(r.n_prompt, r.prompt_seconds));
    fmt::print(stderr, "generated: {} tokens in {:.2f} s, {:.1f} tokens/s (stop: {})\n",
               r.n_generated, r.generate_seconds, rate(r.n_generated, r.generate_seconds),
               stop_reason_name(r.reason));
    fmt::print(stderr, "peak RSS:  {}\n", human_bytes(double(peak_rss_bytes())));
}

std::unordered_map<int32_t, float> parse_logit_bias(const std::vector<std::string>& items) {
    std::unordered_map<int32_t, float> bias;
    for (const std::string& item : items) {
        size_t sep = item.find_first_of("=:");
        try {
            if (sep == std::string::npos) throw std::invalid_argument(item);
            size_t used = 0;
            int32_t id = std::stoi(item.substr(0, sep), &used);
            std::string value = item.substr(sep + 1);
            bias[id] = (value == "-inf") ? -INFINITY : std::stof(value);
        } catch (const std::exception&) {
            throw Error(ErrorKind::invalid_argument, "", "--logit-bias", std::nullopt,
                        "TOKEN_ID=BIAS", item);
        }
    }
    return bias;
}

void run_prompt(const RunOptions& o) {
    auto m = load(o);
    std::string prompt = o.prompt;
    if (!o.prompt_file.empty()) {
        MappedFile f(o.prompt_file);
        prompt.assign(reinterpret_cast<const char*>(f.bytes().data()), f.bytes().size());
    }
    std::vector<TokenId> tokens = m->tokenizer.tokenize(prompt, !o.no_bos, o.parse_special);
    if (tokens.empty()) {
        throw Error(ErrorKind::invalid_argument, "", "--prompt", std::nullopt,
                    "a prompt of at least one token", "an empty prompt");
    }
    KvCache cache(*m->backend, m->model->config(),
                  std::min(o.n_ctx, m->model->config().n_ctx_train));
    Sampler sampler(o.sampling);
    if (!o.no_echo) {
        fmt::print("{}", prompt);
        std::fflush(stdout);
    }
    GenerateOptions g{o.n_predict, o.stop, true};
    GenerateResult r =
        generate(*m->model, cache, m->tokenizer, sampler, tokens, g, [](std::string_view text) {
            fmt::print("{}", text);
            std::fflush(stdout);
            return true;
        });
    fmt::print("\n");
    print_stats(r);
}

void run_chat(const RunOptions& o) {
    auto m = load(o);
    ChatTemplateSource source = chat_template_for(m->file);
    if (source.origin != "tokenizer.chat_template") {
        fmt::print(stderr, "{} has no chat template; using the {} template\n", o.model,
                   source.origin);
    }
    jinja::Template tpl(source.source, source.origin);
    const Vocab& vocab = m->tokenizer.vocab();
    jinja::ChatRequest request;
    if (vocab.special().bos != kTokenNull)
        request.bos_token = m->tokenizer.token_to_piece(vocab.special().bos);
    if (vocab.special().eos != kTokenNull)
        request.eos_token = m->tokenizer.token_to_piece(vocab.special().eos);
    if (!o.system.empty()) request.messages.push_back({{"role", "system"}, {"content", o.system}});

    KvCache cache(*m->backend, m->model->config(),
                  std::min(o.n_ctx, m->model->config().n_ctx_train));
    Sampler sampler(o.sampling);
    std::vector<TokenId>
        cached;  // the tokens the cache holds, to reuse the common prefix each turn
    fmt::print(stderr, "chat with {} (empty line or Ctrl-D to quit)\n", o.model);
    std::string line;
    while (true) {
        fmt::print(stderr, "\n> ");
        if (!std::getline(std::cin, line) || line.empty()) break;
        request.messages.push_back({{"role", "user"}, {"content", line}});
        request.add_generation_prompt = true;
        std::string text = jinja::render_chat(tpl, request);
        // The template writes BOS itself when the model wants one.
        std::vector<TokenId> tokens = m->tokenizer.tokenize(text, false, true);
        size_t common = 0;
        while (common < cached.size() && common < tokens.size() && cached[common] == tokens[common])
            ++common;
        if (common == tokens.size())
            --common;  // the last prompt token must be run for fresh logits
        cache.truncate(int(common));
        cached.assign(tokens.begin(), tokens.end());
        std::string reply;
        GenerateOptions g{o.n_predict, o.stop, true};
        GenerateResult r = generate(*m->model, cache, m->tokenizer, sampler,
                                    std::span<const TokenId>(tokens).subspan(common), g,
                                    [&](std::string_view piece) {
                                        reply += piece;
                                        fmt::print("{}", piece);
                                        std::fflush(stdout);
                                        return true;
                                    });
        cached.insert(cached.end(), r.tokens.begin(), r.tokens.end());
        request.messages.push_back({{"role", "assistant"}, {"content", reply}});
        print_stats(r);
    }
}

}  // namespace

void add_run_command(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt, or chat (--chat)");
    cmd->add_option("-m,--model", o->model, "GGUF model (default: Gemma 3 270M from `make demo`)");
    cmd->add_option("-p,--prompt", o->prompt, "Prompt text");
    cmd->add_option("-f,--file", o->prompt_file, "Read the prompt from a file");
    cmd->add_flag("--chat", o->chat, "Interactive chat with the model's chat template");
    cmd->add_option("--system", o->system, "System message for --chat");
    cmd->add_option("-n,--n-predict", o->n_predict,
                    "Tokens to generate (-1: until EOS or the context is full)")
        ->check(CLI::Range(-1, 1 << 30));
    cmd->add_option("-c,--ctx-size", o->n_ctx, "Context size in tokens")
        ->check(CLI::Range(1, 1 << 24));
    cmd->add_option("-t,--threads", o->n_threads, "Threads (default: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd->add_option("--temp", o->sampling.temperature, "Temperature; 0 is greedy");
    cmd->add_option("--top-k", o->sampling.top_k, "Top-k (0 = off)");
    cmd->add_option("--top-p", o->sampling.top_p, "Top-p (1 = off)");
    cmd->add_option("--min-p", o->sampling.min_p, "Min-p (0 = off)");
    cmd->add_option("--typical", o->sampling.typical_p, "Locally typical sampling p (1 = off)");
    cmd->add_option("--repeat-penalty", o->sampling.repeat_penalty, "Repetition penalty (1 = off)");
    cmd->add_option("--presence-penalty", o->sampling.presence_penalty, "Presence penalty");
    cmd->add_option("--frequency-penalty", o->sampling.frequency_penalty, "Frequency penalty");
    cmd->add_option("--repeat-last-n", o->sampling.penalty_last_n,
                    "Tokens the penalties look back over");
    cmd->add_option("--logit-bias", o->logit_bias, "TOKEN_ID=BIAS (repeatable; -inf bans a token)");
    cmd->add_option("-s,--seed", o->sampling.seed, "Random seed");
    cmd->add_option("--stop", o->stop, "Stop before this string (repeatable)");
    cmd->add_flag("--no-echo", o->no_echo, "Do not print the prompt");
    cmd->add_flag("--no-bos", o->no_bos, "Do not add BOS/EOS the model asks for");
    cmd->add_flag("--parse-special", o->parse_special,
                  "Turn special-token text in the prompt into tokens");
    cmd->callback([o] {
        if (o->model.empty()) o->model = default_model_path();
        o->sampling.logit_bias = parse_logit_bias(o->logit_bias);
        validate(o->sampling);
        if (o->chat) {
            run_chat(*o);
        } else {
            if (o->prompt.empty() && o->prompt_file.empty()) {
                throw Error(ErrorKind::invalid_argument, "", "--prompt", std::nullopt,
                            "-p TEXT, -f FILE or --chat", "none");
            }
            run_prompt(*o);
        }
    });
}

}  // namespace slim::cli
