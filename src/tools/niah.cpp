#include "tools/niah.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "format/error.h"
#include "runtime/chat_template.h"
#include "runtime/generate.h"
#include "runtime/jinja/template.h"
#include "runtime/sampler.h"

namespace slim {

namespace {

// src/tools/data/niah_haystack.txt as bytes, written by CMake at configure time.
constexpr unsigned char kHaystack[] = {
#include "slim/niah_haystack.inc"
};

// Stands for the user message while the template is rendered; the text
// before and after it are the prompt's prefix and suffix.
constexpr std::string_view kPlaceholder = "NIAH_USER_MESSAGE_PLACEHOLDER";

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

std::string_view trim_left(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    return s;
}

}  // namespace

NiahNeedle niah_default_needle() {
    // The needle of Greg Kamradt's LLMTest_NeedleInAHaystack, the test's origin.
    return {
        "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a "
        "sunny day.",
        "What is the best thing to do in San Francisco?", "Dolores Park"};
}

void niah_validate_needle(const NiahNeedle& n) {
    auto need = [](const std::string& value, const char* flag) {
        if (trim_left(value).empty()) {
            throw Error(ErrorKind::invalid_argument, "", flag, std::nullopt, "a non-empty text",
                        value.empty() ? "an empty one" : "only whitespace");
        }
    };
    need(n.needle, "--needle");
    need(n.question, "--question");
    need(n.answer, "--answer");
    if (!niah_score(n.needle, n.answer)) {
        throw Error(ErrorKind::invalid_argument, "", "--answer", std::nullopt,
                    fmt::format("text the needle contains ('{}')", n.needle), n.answer);
    }
}

std::string_view niah_default_haystack() {
    return {reinterpret_cast<const char*>(kHaystack), sizeof kHaystack};
}

std::vector<std::string_view> niah_split_sentences(std::string_view text) {
    constexpr size_t kMaxBytes = 1000;
    std::vector<std::string_view> out;
    size_t start = 0;
    bool content = false;  // the sentence so far has more than whitespace
    size_t last_space = 0;
    size_t i = 0;
    auto cut = [&](size_t end) {
        out.push_back(text.substr(start, end - start));
        start = end;
        content = false;
        last_space = 0;
    };
    while (i < text.size()) {
        const char c = text[i];
        if (c == '\n' && content) {
            cut(i);
        } else if (c == '.' || c == '!' || c == '?') {
            size_t j = i + 1;
            while (j < text.size() && std::string_view("\"')]").find(text[j]) != std::string::npos)
                ++j;
            if (content && (j == text.size() || is_space(text[j]))) {
                cut(j);
                i = j;
                continue;
            }
            content = true;
        } else if (is_space(c)) {
            if (content) last_space = i;
        } else {
            content = true;
        }
        if (content && i - start >= kMaxBytes && last_space > start) {
            // Scan again from the cut: the rest of this run belongs to the next piece.
            const size_t at = last_space;
            cut(at);
            i = at;
            continue;
        }
        ++i;
    }
    if (start < text.size()) {
        if (content) {
            out.push_back(text.substr(start));
        }  // else trailing whitespace: the haystack ends with its last sentence
    }
    return out;
}

int niah_score(std::string_view reply, std::string_view answer) {
    if (answer.empty()) return 0;
    auto it = std::search(reply.begin(), reply.end(), answer.begin(), answer.end(),
                          [](char a, char b) { return ascii_lower(a) == ascii_lower(b); });
    return it != reply.end() ? 1 : 0;
}

NiahPromptTemplate niah_prompt_template(const GgufFile& file, const Tokenizer& tokenizer,
                                        NiahPromptStyle style) {
    const Vocab& vocab = tokenizer.vocab();
    ChatTemplateSource source = chat_template_for(file);
    const bool in_file = source.origin == "tokenizer.chat_template";
    if (style == NiahPromptStyle::plain || (style == NiahPromptStyle::automatic && !in_file)) {
        return {"", "\n\nAnswer:", vocab.flags().add_bos, "plain"};
    }
    if (source.origin == "built-in chatml") {
        throw Error(ErrorKind::unsupported, file.path(), "tokenizer.chat_template", std::nullopt,
                    "a chat template in the file, or a family with a published one (gemma)",
                    "neither");
    }
    jinja::Template tpl(source.source, source.origin);
    jinja::ChatRequest request;
    if (vocab.special().bos != kTokenNull)
        request.bos_token = tokenizer.token_to_piece(vocab.special().bos);
    if (vocab.special().eos != kTokenNull)
        request.eos_token = tokenizer.token_to_piece(vocab.special().eos);
    request.messages.push_back({{"role", "user"}, {"content", std::string(kPlaceholder)}});
    request.add_generation_prompt = true;
    const std::string text = jinja::render_chat(tpl, request);
    const size_t at = text.find(kPlaceholder);
    if (at == std::string::npos || text.find(kPlaceholder, at + 1) != std::string::npos) {
        throw Error(ErrorKind::unsupported, file.path(), source.origin, std::nullopt,
                    "a chat template that writes the user message once, unchanged",
                    at == std::string::npos ? "a rendering without it" : "it twice");
    }
    return {text.substr(0, at), text.substr(at + kPlaceholder.size()), false, source.origin};
}

namespace {

// Tokens of a piece of text that follows other text. SentencePiece
// vocabularies with add_space_prefix put a space before every text they
// tokenize: a piece's own leading space stands in for it, and a lone space
// token in front of a piece that starts otherwise (a line break) is dropped.
std::vector<TokenId> tokenize_piece(const Tokenizer& tokenizer, std::string_view piece,
                                    bool parse_special = false) {
    if (!tokenizer.vocab().flags().add_space_prefix)
        return tokenizer.tokenize(piece, false, parse_special);
    if (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    std::vector<TokenId> tokens = tokenizer.tokenize(piece, false, parse_special);
    if (!tokens.empty() && !piece.starts_with(' ') && tokenizer.token_to_piece(tokens[0]) == " ")
        tokens.erase(tokens.begin());
    return tokens;
}

}  // namespace

NiahHaystack::NiahHaystack(std::string_view text, const Tokenizer& tokenizer, std::string source)
    : source_(std::move(source)), text_(text) {
    sentences_ = niah_split_sentences(text_);
    tokens_.reserve(sentences_.size());
    for (std::string_view s : sentences_) {
        tokens_.push_back(tokenize_piece(tokenizer, s));
        n_tokens_ += int64_t(tokens_.back().size());
    }
    if (n_tokens_ == 0) {
        throw Error(ErrorKind::invalid_argument, source_, "haystack", std::nullopt,
                    "a text with at least one sentence",
                    text.empty() ? "an empty text" : "only whitespace");
    }
    std::string restart = "\n";  // (not "\n" + string: GCC 12 warns falsely, -Wrestrict)
    restart += trim_left(sentences_[0]);
    restart_tokens_ = tokenize_piece(tokenizer, restart);
}

NiahPromptBuilder::NiahPromptBuilder(const Tokenizer& tokenizer, const NiahPromptTemplate& tpl,
                                     const NiahHaystack& haystack, const NiahNeedle& needle)
    : haystack_(haystack), answer_(needle.answer) {
    prefix_ = tokenizer.tokenize(tpl.prefix, false, true);
    if (tpl.add_bos && tokenizer.vocab().special().bos != kTokenNull)
        prefix_.insert(prefix_.begin(), tokenizer.vocab().special().bos);
    suffix_ = tokenize_piece(tokenizer, tpl.suffix, true);
    needle_first_ = tokenizer.tokenize(needle.needle, false, false);
    needle_inline_ = tokenize_piece(tokenizer, " " + needle.needle);
    question_ = tokenize_piece(tokenizer, "\n\n" + needle.question);
}

int NiahPromptBuilder::overhead_tokens() const {
    return int(prefix_.size() + std::max(needle_first_.size(), needle_inline_.size()) +
               question_.size() + suffix_.size());
}

NiahPrompt NiahPromptBuilder::build(int n_tokens, double depth_percent) const {
    if (!(depth_percent >= 0 && depth_percent <= 100)) {
        throw Error(ErrorKind::invalid_argument, "", "depth", std::nullopt, "0 to 100 (%)",
                    fmt::format("{}", depth_percent));
    }
    if (n_tokens < overhead_tokens()) {
        throw Error(
            ErrorKind::invalid_argument, "", "length", std::nullopt,
            fmt::format("at least {} tokens (template, needle and question)", overhead_tokens()),
            std::to_string(n_tokens));
    }
    const size_t n_sent = haystack_.n_sentences();
    // The tokens of haystack sentence k of the prompt (k counts on past the
    // end when the haystack starts over).
    auto sentence_tokens = [&](size_t k,
                               bool after_needle_at_start) -> const std::vector<TokenId>& {
        const size_t i = k % n_sent;
        if (i == 0 && (k > 0 || after_needle_at_start)) return haystack_.restart_tokens();
        return haystack_.tokens(i);
    };

    // Sentences while they fit, counted with the longer needle form; the
    // needle at the start changes the first sentence's tokens, so the
    // assembled prompt is checked and trimmed below.
    const int64_t budget = n_tokens - overhead_tokens();
    // Ends: every pass over the haystack adds its n_tokens() > 0 tokens.
    std::vector<int64_t> cum{0};  // haystack tokens before sentence k
    for (size_t k = 0;; ++k) {
        const int64_t next = cum.back() + int64_t(sentence_tokens(k, false).size());
        if (next > budget) break;
        cum.push_back(next);
    }

    for (size_t n_taken = cum.size() - 1;; --n_taken) {
        const double target = depth_percent / 100.0 * double(cum[n_taken]);
        size_t at = 0;  // the needle goes before sentence `at`
        for (size_t k = 0; k <= n_taken; ++k) {
            if (std::abs(double(cum[k]) - target) < std::abs(double(cum[at]) - target)) at = k;
        }
        NiahPrompt p;
        p.tokens = prefix_;
        int hay = 0;
        for (size_t k = 0; k <= n_taken; ++k) {
            if (k == at) {
                const auto& needle = at == 0 ? needle_first_ : needle_inline_;
                p.needle_token = int(p.tokens.size());
                p.needle_n_tokens = int(needle.size());
                p.tokens.insert(p.tokens.end(), needle.begin(), needle.end());
            }
            if (k == n_taken) break;
            const auto& s = sentence_tokens(k, at == 0);
            p.tokens.insert(p.tokens.end(), s.begin(), s.end());
            hay += int(s.size());
        }
        p.tokens.insert(p.tokens.end(), question_.begin(), question_.end());
        p.tokens.insert(p.tokens.end(), suffix_.begin(), suffix_.end());
        if (int(p.tokens.size()) > n_tokens && n_taken > 0) continue;
        p.haystack_tokens = hay;
        p.haystack_sentences = int(n_taken);
        p.repeated = n_taken > n_sent;
        p.depth = cum[n_taken] > 0 ? 100.0 * double(cum[at]) / double(cum[n_taken]) : 0.0;
        return p;
    }
}

void niah_validate(const NiahOptions& o, int max_ctx, int overhead_tokens) {
    auto bad = [](const char* flag, std::string expected, std::string found) {
        throw Error(ErrorKind::invalid_argument, "", flag, std::nullopt, std::move(expected),
                    std::move(found));
    };
    if (o.max_tokens < 1) bad("--max-tokens", "at least 1", std::to_string(o.max_tokens));
    if (o.lengths.empty()) bad("--lengths", "at least one length", "none");
    if (o.depths.empty()) bad("--depths", "at least one depth", "none");
    const int min_length = overhead_tokens + o.max_tokens + 1;
    for (size_t i = 0; i < o.lengths.size(); ++i) {
        const int n = o.lengths[i];
        if (n > max_ctx) {
            bad("--lengths", fmt::format("lengths of at most {} tokens (the context)", max_ctx),
                std::to_string(n));
        }
        if (n < min_length) {
            bad("--lengths",
                fmt::format("lengths of at least {} tokens (template, needle and question: {}, "
                            "reply: {}, haystack: 1)",
                            min_length, overhead_tokens, o.max_tokens),
                std::to_string(n));
        }
        if (i > 0 && n <= o.lengths[i - 1]) {
            bad("--lengths", "lengths in ascending order, each once",
                fmt::format("{} after {}", n, o.lengths[i - 1]));
        }
    }
    for (double d : o.depths) {
        if (!(d >= 0 && d <= 100))
            bad("--depths", "depths from 0 to 100 (%)", fmt::format("{}", d));
    }
}

NiahResult niah_run(Model& model, Backend& backend, const Tokenizer& tokenizer,
                    const NiahPromptBuilder& builder, const NiahOptions& options,
                    const std::function<void(const NiahProgress&)>& progress) {
    niah_validate(options, model.config().n_ctx_train, builder.overhead_tokens());
    using clock = std::chrono::steady_clock;
    const size_t n_len = options.lengths.size(), n_dep = options.depths.size();

    // Depths up for one length and down for the next: neighbouring cells
    // share the prompt up to the earlier of their needles (or up to the end of
    // the shorter haystack where the depth is the same).
    std::vector<size_t> order;
    for (size_t i = 0; i < n_len; ++i) {
        for (size_t j = 0; j < n_dep; ++j) order.push_back(i * n_dep + (i % 2 ? n_dep - 1 - j : j));
    }
    std::vector<NiahPrompt> prompts(n_len * n_dep);
    for (size_t c : order) {
        prompts[c] = builder.build(options.lengths[c / n_dep] - options.max_tokens,
                                   options.depths[c % n_dep]);
    }
    auto common_prefix = [](const std::vector<TokenId>& a, const std::vector<TokenId>& b) {
        size_t n = 0;
        while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
        return n;
    };

    NiahProgress prog;
    prog.total = int(order.size());
    {
        const std::vector<TokenId>* prev = nullptr;
        for (size_t c : order) {
            const size_t reuse = prev ? std::min(common_prefix(*prev, prompts[c].tokens),
                                                 prompts[c].tokens.size() - 1)
                                      : 0;
            prog.tokens_total += int64_t(prompts[c].tokens.size() - reuse) + options.max_tokens;
            prev = &prompts[c].tokens;
        }
    }

    NiahResult result;
    result.cells.resize(order.size());
    KvCache cache(backend, model.config(), options.lengths.back());
    SamplerParams greedy;
    greedy.temperature = 0;
    const std::vector<TokenId>* cached = nullptr;  // the prompt whose KV the cache holds
    const auto t0 = clock::now();
    for (size_t c : order) {
        const NiahPrompt& p = prompts[c];
        size_t reuse = cached ? std::min(common_prefix(*cached, p.tokens), p.tokens.size() - 1) : 0;
        cache.truncate(int(reuse));
        Sampler sampler(greedy);
        GenerateOptions g{options.max_tokens, {}, true};
        std::string reply;
        GenerateResult r = generate(model, cache, tokenizer, sampler,
                                    std::span<const TokenId>(p.tokens).subspan(reuse), g,
                                    [&](std::string_view text) {
                                        reply += text;
                                        return true;
                                    });
        cached = &p.tokens;

        NiahCell& cell = result.cells[c];
        cell.length = options.lengths[c / n_dep];
        cell.depth = options.depths[c % n_dep];
        cell.depth_actual = p.depth;
        cell.prompt_tokens = int(p.tokens.size());
        cell.needle_token = p.needle_token;
        cell.reused_tokens = int(reuse);
        cell.haystack_tokens = p.haystack_tokens;
        cell.repeated = p.repeated;
        cell.reply = reply;
        cell.reply_tokens = r.n_generated;
        cell.stop = stop_reason_name(r.reason);
        cell.score = niah_score(reply, builder.answer());
        cell.prompt_seconds = r.prompt_seconds;
        cell.reply_seconds = r.generate_seconds;

        result.correct += cell.score;
        result.tokens_computed += int64_t(p.tokens.size() - reuse);
        ++prog.done;
        prog.correct = result.correct;
        prog.tokens_done += int64_t(p.tokens.size() - reuse) + options.max_tokens;
        prog.seconds = std::chrono::duration<double>(clock::now() - t0).count();
        if (progress) progress(prog);
    }
    result.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    return result;
}

}  // namespace slim
