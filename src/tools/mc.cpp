#include "tools/mc.h"

#include <bzlib.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "format/error.h"
#include "format/mapped_file.h"
#include "tools/perplexity.h"
#include "tools/text_lines.h"

namespace slim {

namespace {

Error bad_item(const std::string& source, size_t line, std::string expected, std::string found) {
    return Error(ErrorKind::bad_value, source, fmt::format("line {}", line), std::nullopt,
                 std::move(expected), std::move(found));
}

bool blank(std::string_view s) {
    return s.find_first_not_of(" \t\r") == std::string_view::npos;
}

std::string quote_text(std::string_view s) {
    if (s.size() > 60) return fmt::format("\"{}...\"", s.substr(0, 60));
    return fmt::format("\"{}\"", s);
}

std::optional<int> parse_index(std::string_view s) {
    if (s.empty() || s.size() > 6) return std::nullopt;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

Error no_items(const std::string& source) {
    return Error(ErrorKind::invalid_argument, source, "items", std::nullopt, "at least one item",
                 "an empty file");
}

using Json = nlohmann::json;

Json parse_line(std::string_view line, const std::string& source, size_t n) {
    try {
        Json j = Json::parse(line);
        if (!j.is_object()) throw bad_item(source, n, "a JSON object", quote_text(line));
        return j;
    } catch (const Json::exception& e) {
        throw bad_item(source, n, "a JSON object", fmt::format("bad JSON ({})", e.what()));
    }
}

std::string string_field(const Json& j, const char* key, const std::string& source, size_t n) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string())
        throw bad_item(source, n, fmt::format("a string \"{}\"", key),
                       it == j.end() ? "none" : it->dump());
    return it->get<std::string>();
}

std::vector<std::string> endings_field(const Json& j, const char* key, const std::string& source,
                                       size_t n) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array() || it->size() < 2) {
        throw bad_item(source, n, fmt::format("an array \"{}\" of at least 2 strings", key),
                       it == j.end() ? "none" : it->dump());
    }
    std::vector<std::string> out;
    for (const Json& e : *it) {
        if (!e.is_string() || blank(e.get_ref<const std::string&>())) {
            throw bad_item(source, n, fmt::format("non-empty strings in \"{}\"", key), e.dump());
        }
        out.push_back(e.get<std::string>());
    }
    return out;
}

int gold_field(const Json& j, size_t n_endings, const std::string& source, size_t n) {
    auto it = j.find("gold");
    if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0 ||
        it->get<int64_t>() >= int64_t(n_endings)) {
        throw bad_item(source, n, fmt::format("\"gold\": an index from 0 to {}", n_endings - 1),
                       it == j.end() ? "none" : it->dump());
    }
    return it->get<int>();
}

template <typename F>
std::vector<McItem> read_jsonl(std::string_view text, const std::string& source, F item_of) {
    std::vector<McItem> items;
    const auto lines = split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
        if (blank(lines[i])) continue;
        items.push_back(item_of(parse_line(lines[i], source, i + 1), i + 1));
    }
    if (items.empty()) throw no_items(source);
    return items;
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

double logprob(std::span<const float> logits, TokenId token) {
    return double(logits[size_t(token)]) - log_sum_exp(logits);
}

// What one item runs through the model: the context once, then per ending
// the tokens after the prefix it shares with the context.
struct Encoded {
    std::vector<TokenId> context;
    std::vector<std::vector<TokenId>> whole;  // per ending: context + continuation
    std::vector<size_t> chars;                // per ending: code points of the ending
};

Encoded encode(const Tokenizer& tokenizer, const McItem& item) {
    // _encode_pair: trailing spaces of the context go to the continuation.
    std::string context = item.context;
    size_t n_spaces = 0;
    while (!context.empty() && context.back() == ' ') {
        context.pop_back();
        ++n_spaces;
    }
    Encoded e;
    e.context = tokenizer.tokenize(context, /*add_special=*/true, /*parse_special=*/false);
    for (const std::string& ending : item.endings) {
        const std::string whole = context + std::string(n_spaces, ' ') + " " + ending;
        e.whole.push_back(tokenizer.tokenize(whole, true, false));
        e.chars.push_back(utf8_length(ending));
    }
    return e;
}

}  // namespace

size_t utf8_length(std::string_view text) {
    size_t n = 0;
    for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

double proportion_ci95(double p, int n) {
    return n > 0 ? 1.96 * std::sqrt(p * (1 - p) / n) : 0.0;
}

std::vector<McItem> read_hellaswag(std::string_view text, const std::string& source) {
    std::vector<std::string_view> lines = split_lines(text);
    while (!lines.empty() && blank(lines.back())) lines.pop_back();
    if (lines.empty()) throw no_items(source);
    if (lines.size() % 6 != 0) {
        throw Error(ErrorKind::bad_value, source, "lines", std::nullopt,
                    "6 lines per item (context, gold index 0-3, 4 endings)",
                    fmt::format("{} lines: {} items and {} lines left over", lines.size(),
                                lines.size() / 6, lines.size() % 6));
    }
    std::vector<McItem> items;
    for (size_t i = 0; i < lines.size(); i += 6) {
        McItem item;
        if (blank(lines[i])) throw bad_item(source, i + 1, "a context", "an empty line");
        item.context = std::string(lines[i]);
        const std::optional<int> gold = parse_index(lines[i + 1]);
        if (!gold || *gold > 3) {
            throw bad_item(source, i + 2, "the gold ending's index, 0 to 3",
                           quote_text(lines[i + 1]));
        }
        item.gold = *gold;
        for (size_t j = 2; j < 6; ++j) {
            if (blank(lines[i + j]))
                throw bad_item(source, i + j + 1, "an ending", "an empty line");
            item.endings.emplace_back(lines[i + j]);
        }
        items.push_back(std::move(item));
    }
    return items;
}

std::vector<McItem> read_arc_jsonl(std::string_view text, const std::string& source) {
    return read_jsonl(text, source, [&](const Json& j, size_t n) {
        McItem item;
        item.context = string_field(j, "query", source, n) + "\nAnswer:";
        item.endings = endings_field(j, "choices", source, n);
        item.gold = gold_field(j, item.endings.size(), source, n);
        return item;
    });
}

std::vector<McItem> read_mc_jsonl(std::string_view text, const std::string& source) {
    return read_jsonl(text, source, [&](const Json& j, size_t n) {
        McItem item;
        item.context = string_field(j, "context", source, n);
        if (blank(item.context)) throw bad_item(source, n, "a non-empty \"context\"", "\"\"");
        item.endings = endings_field(j, "endings", source, n);
        item.gold = gold_field(j, item.endings.size(), source, n);
        return item;
    });
}

std::string bz2_decompress(std::string_view data, const std::string& source) {
    bz_stream s{};
    if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) {
        throw Error(ErrorKind::io, source, "bzip2", std::nullopt, "a decompressor",
                    "BZ2_bzDecompressInit failed");
    }
    std::string out;
    char buf[1 << 16];
    s.next_in = const_cast<char*>(data.data());
    s.avail_in = unsigned(data.size());
    int rc = BZ_OK;
    while (rc == BZ_OK) {
        s.next_out = buf;
        s.avail_out = sizeof buf;
        rc = BZ2_bzDecompress(&s);
        out.append(buf, sizeof buf - s.avail_out);
        if (rc == BZ_OK && s.avail_in == 0 && s.avail_out != 0) break;  // input ended early
    }
    BZ2_bzDecompressEnd(&s);
    if (rc != BZ_STREAM_END) {
        throw Error(ErrorKind::bad_value, source, "bzip2 stream", std::nullopt,
                    "a complete bzip2 stream",
                    rc == BZ_OK ? "a stream cut short" : fmt::format("libbz2 error {}", rc));
    }
    return out;
}

std::vector<McItem> load_mc_file(const std::string& path) {
    MappedFile file(path);
    std::string_view text(reinterpret_cast<const char*>(file.bytes().data()), file.bytes().size());
    std::string decompressed;
    std::string name = path;
    if (ends_with(name, ".bz2")) {
        decompressed = bz2_decompress(text, path);
        text = decompressed;
        name.resize(name.size() - 4);
    }
    if (ends_with(name, ".jsonl") || ends_with(name, ".json")) {
        // ARC when the first item has "query", else the generic format.
        for (std::string_view line : split_lines(text)) {
            if (blank(line)) continue;
            const bool arc = line.find("\"query\"") != std::string_view::npos;
            return arc ? read_arc_jsonl(text, path) : read_mc_jsonl(text, path);
        }
        throw no_items(path);
    }
    return read_hellaswag(text, path);
}

McResult mc_evaluate(Model& model, Backend& backend, const Tokenizer& tokenizer,
                     std::span<const McItem> items, const McOptions& options,
                     const std::function<void(const McProgress&)>& progress) {
    if (options.limit == 0 || options.limit < -1) {
        throw Error(ErrorKind::invalid_argument, options.source, "--limit", std::nullopt,
                    "at least 1 item (or -1 for all)", std::to_string(options.limit));
    }
    if (items.empty()) throw no_items(options.source);
    if (options.offset < 0 || size_t(options.offset) >= items.size()) {
        throw Error(ErrorKind::invalid_argument, options.source, "--offset", std::nullopt,
                    fmt::format("0 to {} (the file has {} items)", items.size() - 1, items.size()),
                    std::to_string(options.offset));
    }
    items = items.subspan(size_t(options.offset));
    const size_t n_items =
        options.limit > 0 ? std::min(items.size(), size_t(options.limit)) : items.size();

    // Everything is tokenized and checked before the first forward pass.
    std::vector<Encoded> encoded;
    encoded.reserve(n_items);
    size_t max_len = 1;
    const int n_ctx_train = model.config().n_ctx_train;
    for (size_t i = 0; i < n_items; ++i) {
        encoded.push_back(encode(tokenizer, items[i]));
        const Encoded& e = encoded.back();
        const size_t item_no = size_t(options.offset) + i + 1;  // 1-based, in the file
        if (e.context.empty()) {
            throw Error(ErrorKind::bad_value, options.source, fmt::format("item {}", item_no),
                        std::nullopt, "a context of at least one token", "none");
        }
        for (size_t j = 0; j < e.whole.size(); ++j) {
            const size_t n = e.whole[j].size();
            if (n <= e.context.size()) {
                throw Error(ErrorKind::bad_value, options.source,
                            fmt::format("item {} ending {}", item_no, j), std::nullopt,
                            "an ending that adds tokens to the context",
                            quote_text(items[i].endings[j]));
            }
            if (n_ctx_train > 0 && n > size_t(n_ctx_train)) {
                throw Error(
                    ErrorKind::invalid_argument, options.source,
                    fmt::format("item {} ending {}", item_no, j), std::nullopt,
                    fmt::format("at most the model's trained context of {} tokens", n_ctx_train),
                    fmt::format("{} tokens of context and ending", n));
            }
            max_len = std::max(max_len, n);
        }
    }

    const size_t n_vocab = size_t(model.config().n_vocab);
    KvCache cache(backend, model.config(), int(max_len));
    std::vector<float> last(n_vocab);  // logits after the context
    std::vector<float> logits;

    McResult r;
    const auto t_start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n_items; ++i) {
        const Encoded& e = encoded[i];
        const size_t n_context = e.context.size();
        cache.clear();
        model.forward(e.context, cache, last, false);
        r.n_tokens_evaluated += int64_t(n_context);

        McItemResult ir;
        bool context_in_cache = true;
        for (size_t j = 0; j < e.whole.size(); ++j) {
            const std::vector<TokenId>& whole = e.whole[j];
            if (!context_in_cache) {
                cache.clear();
                model.forward(e.context, cache, last, false);
                r.n_tokens_evaluated += int64_t(n_context);
                context_in_cache = true;
            }
            // The prefix this ending shares with the context in the cache.
            size_t shared = 0;
            while (shared < n_context && whole[shared] == e.context[shared]) ++shared;
            // First position whose logits are computed below: after the
            // context, or after the shared prefix when the join merged tokens.
            const size_t begin = shared;
            cache.truncate(int(begin));
            if (shared < n_context) context_in_cache = false;
            const size_t n_run = whole.size() - 1 - begin;
            if (n_run > 0) {
                logits.resize(n_run * n_vocab);
                model.forward(std::span<const TokenId>(whole).subspan(begin, n_run), cache, logits,
                              true);
                r.n_tokens_evaluated += int64_t(n_run);
            }
            // Logits at positions n_context-1 .. len-2 predict the continuation.
            double sum = 0;
            for (size_t p = n_context - 1; p + 1 < whole.size(); ++p) {
                const std::span<const float> row =
                    p < begin
                        ? std::span<const float>(last)
                        : std::span<const float>(logits).subspan((p - begin) * n_vocab, n_vocab);
                sum += logprob(row, whole[p + 1]);
            }
            ir.logprob.push_back(sum);
            ir.n_tokens.push_back(int(whole.size() - n_context));
        }
        // numpy.argmax: the first maximum.
        for (size_t j = 1; j < ir.logprob.size(); ++j) {
            if (ir.logprob[j] > ir.logprob[size_t(ir.pred)]) ir.pred = int(j);
            if (ir.logprob[j] / double(e.chars[j]) >
                ir.logprob[size_t(ir.pred_norm)] / double(e.chars[size_t(ir.pred_norm)]))
                ir.pred_norm = int(j);
        }
        r.correct += ir.pred == items[i].gold;
        r.correct_norm += ir.pred_norm == items[i].gold;
        r.items.push_back(std::move(ir));
        r.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
        if (progress) {
            const double n = double(i + 1);
            progress({int(i + 1), int(n_items), r.correct / n, r.correct_norm / n, r.seconds});
        }
    }
    r.n_items = int(n_items);
    r.acc = double(r.correct) / r.n_items;
    r.acc_norm = double(r.correct_norm) / r.n_items;
    r.acc_ci = proportion_ci95(r.acc, r.n_items);
    r.acc_norm_ci = proportion_ci95(r.acc_norm, r.n_items);
    return r;
}

}  // namespace slim
