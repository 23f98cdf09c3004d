// `slim tokenize` and `slim detokenize`: text <-> token ids with a model's
// tokenizer. The output of `tokenize --ids` is one Python-style list, as
// llama.cpp's llama-tokenize prints it, so scripts written for it work.
// `tokenize --bench N` also times the tokenizer (bench/tokenizer_speed.py
// compares it with llama.cpp's and Hugging Face's on the same text).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.h"
#include "format/error.h"
#include "format/gguf.h"
#include "runtime/tokenizer.h"

namespace slim::cli {

namespace {

std::string read_stdin() {
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) text.append(buf, n);
    return text;
}

std::string read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        throw Error(ErrorKind::io, path, "file", std::nullopt, "a readable file",
                    std::strerror(errno));
    }
    std::string text;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    return text;
}

// Ids as "[1, 2, 3]" or "1 2 3" (commas, brackets and whitespace all separate).
std::vector<TokenId> parse_ids(const std::string& text) {
    std::vector<TokenId> ids;
    size_t pos = 0;
    while (pos < text.size()) {
        char c = text[pos];
        if (c == '[' || c == ']' || c == ',' || std::isspace(uint8_t(c))) {
            ++pos;
            continue;
        }
        size_t end = pos;
        if (text[end] == '-') ++end;
        while (end < text.size() && std::isdigit(uint8_t(text[end]))) ++end;
        std::string word = text.substr(pos, end - pos);
        bool digits = end > pos && std::isdigit(uint8_t(text[end - 1]));
        if (!digits || word.size() > 11 ||
            (end < text.size() && !std::isspace(uint8_t(text[end])) && text[end] != ',' &&
             text[end] != ']')) {
            size_t stop = text.find_first_of(" \t\r\n,[]", pos);
            throw Error(
                ErrorKind::invalid_argument, "", "token ids", pos,
                "integer token ids such as \"[1, 2, 3]\" or \"1 2 3\"",
                "\"" + text.substr(pos, stop == std::string::npos ? stop : stop - pos) + "\"");
        }
        long long v = std::stoll(word);
        if (v < INT32_MIN || v > INT32_MAX) {
            throw Error(ErrorKind::invalid_argument, "", "token ids", pos, "a 32-bit token id",
                        word);
        }
        ids.push_back(TokenId(v));
        pos = end;
    }
    return ids;
}

// Tokenizes text `runs` times after one warm-up run (which pages in the
// vocabulary's tables and sizes `ids`) and prints the median wall time and
// throughput to stderr. One thread: the tokenizer runs on the caller's.
void bench_tokenize(const Tokenizer& tokenizer, const std::string& text, bool add_special,
                    bool parse_special, int runs, std::vector<TokenId>& ids) {
    using Clock = std::chrono::steady_clock;
    tokenizer.tokenize(text, add_special, parse_special, ids);
    std::vector<double> seconds;
    for (int i = 0; i < runs; ++i) {
        Clock::time_point start = Clock::now();
        tokenizer.tokenize(text, add_special, parse_special, ids);
        seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    size_t n = seconds.size();
    double median = n % 2 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2;
    fmt::print(stderr,
               "tokenize: {} bytes -> {} tokens; {} runs, median {:.6f} s (min {:.6f} s), "
               "{:.2f} MB/s, 1 thread\n",
               text.size(), ids.size(), n, median, seconds.front(),
               median > 0 ? double(text.size()) / median / 1e6 : 0.0);
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
    struct TokenizeOptions {
        std::string model;
        std::string prompt;
        std::string file;
        bool ids = false;
        bool pieces = false;
        bool parse_special = false;
        bool no_bos = false;
        int bench = 0;
    };
    auto t = std::make_shared<TokenizeOptions>();
    CLI::App* tok = app.add_subcommand("tokenize", "Text to token ids with a model's tokenizer");
    tok->add_option("-m,--model", t->model, "GGUF file (a vocab-only file will do)")->required();
    auto* p = tok->add_option("-p,--prompt", t->prompt, "Text to tokenize");
    tok->add_option("-f,--file", t->file, "Read the text from a file (default: stdin)")
        ->excludes(p);
    auto* ids_flag = tok->add_flag("--ids", t->ids, "Print only the ids, as [1, 2, 3]");
    tok->add_flag("--pieces", t->pieces, "Print only the pieces, as a JSON list of strings")
        ->excludes(ids_flag);
    tok->add_flag("--parse-special", t->parse_special,
                  "Turn control-token text such as <|im_start|> into those tokens");
    tok->add_flag("--no-bos", t->no_bos, "Add no BOS (or other special) token");
    tok->add_option("--bench", t->bench,
                    "Also tokenize the text N more times and print the median time and MB/s "
                    "(single thread) to stderr")
        ->check(CLI::Range(1, 1000000));
    tok->callback([t, p] {
        GgufFile file = GgufFile::open(t->model);
        Tokenizer tokenizer = Tokenizer::load(file);
        std::string text = p->count() > 0     ? t->prompt
                           : !t->file.empty() ? read_file(t->file)
                                              : read_stdin();
        // As llama-tokenize: special tokens are added when the model adds BOS.
        bool add_special = tokenizer.vocab().flags().add_bos && !t->no_bos;
        std::vector<TokenId> ids;
        if (t->bench > 0) {
            bench_tokenize(tokenizer, text, add_special, t->parse_special, t->bench, ids);
        } else {
            tokenizer.tokenize(text, add_special, t->parse_special, ids);
        }
        if (t->ids) {
            fmt::print("[{}]\n", fmt::join(ids, ", "));
        } else if (t->pieces) {
            nlohmann::json list = nlohmann::json::array();
            for (TokenId id : ids) list.push_back(std::string(tokenizer.token_to_piece(id)));
            fmt::print("{}\n", list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        } else {
            for (TokenId id : ids) {
                std::string piece(tokenizer.token_to_piece(id));
                fmt::print("{:6d} -> '{}'\n", id, piece);
            }
        }
    });

    struct DetokenizeOptions {
        std::string model;
        std::vector<std::string> ids;
        bool special = false;
        bool remove_special = false;
    };
    auto d = std::make_shared<DetokenizeOptions>();
    CLI::App* detok =
        app.add_subcommand("detokenize", "Token ids to text with a model's tokenizer");
    detok->add_option("-m,--model", d->model, "GGUF file (a vocab-only file will do)")->required();
    detok->add_option("ids", d->ids, "Token ids, as [1, 2, 3] or 1 2 3 (default: stdin)");
    detok->add_flag("--special", d->special, "Render control tokens as their text");
    detok->add_flag("--remove-special", d->remove_special,
                    "Drop the BOS/EOS the model adds at the ends");
    detok->callback([d] {
        std::string joined;
        for (const std::string& s : d->ids) joined += s + " ";
        std::vector<TokenId> ids = parse_ids(d->ids.empty() ? read_stdin() : joined);
        GgufFile file = GgufFile::open(d->model);
        Tokenizer tokenizer = Tokenizer::load(file);
        std::string text = tokenizer.detokenize(ids, d->remove_special, d->special);
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fputc('\n', stdout);
    });
}

}  // namespace slim::cli
