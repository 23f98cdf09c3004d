// Needle in a haystack (`slim niah`): a sentence (the needle) is put into
// long filler text (the haystack) at a given depth, the model is asked a
// question only the needle answers, and the reply scores 1 when it contains
// the needle's fact. A grid of context lengths x depths shows where in how
// long a context the model still finds it.
//
// A cell's prompt, for a context length L and a depth d%:
//
//   - the user message is  haystack sentences + needle at d% + "\n\n" + question,
//     wrapped in the model's chat template with add_generation_prompt, or
//     followed by "\n\nAnswer:" for models without one (niah_prompt_template);
//   - the prompt fills L - max_tokens tokens as closely as whole sentences
//     allow (it falls short by less than one sentence), so prompt and reply
//     fit in L tokens;
//   - the haystack is cut after a sentence, and the needle goes between two
//     sentences: the boundary nearest to d% of the haystack tokens in the
//     prompt (0%: before the first sentence, 100%: after the last);
//   - the haystack is tokenized once, a sentence at a time (whitespace before
//     a sentence belongs to it, so the pieces join as the text would), and a
//     cell's tokens are the template's, the sentences', the needle's and the
//     question's put together; a haystack shorter than L starts over from its
//     first sentence on a new line (the cell records that it did).
//
// Scoring: the greedy reply (at most max_tokens, ended by end-of-generation)
// scores 1 when it contains the answer, ASCII case-insensitively, else 0.
//
// Cells run in an order that lets each reuse the KV cache of the previous
// one up to the first token where their prompts differ (depths up one length
// and down the next): a cell's prompt is only computed from there on.
//
// Library code: no I/O; progress is reported through a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "format/gguf.h"
#include "model/model.h"
#include "runtime/tokenizer.h"

namespace slim {

struct NiahNeedle {
    std::string needle;    // the sentence put into the haystack
    std::string question;  // asked after the haystack
    std::string answer;    // a reply scores 1 when it contains this
};

// The classic needle: a sentence about the best thing to do in San Francisco.
NiahNeedle niah_default_needle();

// Error(invalid_argument) naming the flag for an empty needle, question or
// answer, or an answer the needle does not contain.
void niah_validate_needle(const NiahNeedle& needle);

// The built-in haystack, compiled into the binary: about 160 KB (37k Gemma 3
// tokens) of WikiText-2 articles as prose (src/tools/data/README.md).
std::string_view niah_default_haystack();

// Sentences of `text`: a sentence ends after . ! or ? (and any closing
// quote or bracket) followed by whitespace, or before a line break; a run of
// 1,000 bytes without either is cut at its last space. The whitespace before a
// sentence belongs to it, so the sentences concatenate to the text.
std::vector<std::string_view> niah_split_sentences(std::string_view text);

// 1 when `reply` contains `answer` (ASCII letters compared case-insensitively), else 0.
int niah_score(std::string_view reply, std::string_view answer);

// The text around the user message.
struct NiahPromptTemplate {
    std::string prefix;    // before the message (control tokens written as text)
    std::string suffix;    // after it, up to where the reply starts
    bool add_bos = false;  // BOS token before the prefix (plain prompts, as the vocabulary asks)
    std::string origin;    // "tokenizer.chat_template", "built-in gemma" or "plain"
};

enum class NiahPromptStyle {
    automatic,  // the file's chat template if it has one, else plain
    chat,       // the file's template, else its family's published one
    plain,      // the message, then "\n\nAnswer:", after BOS where the vocabulary adds one
};

// The text around the user message: a chat template rendered around one
// user message with add_generation_prompt, or the plain prompt. `automatic`
// asks base models, whose files ship without a template, in plain text: Gemma
// 3 270M (the default model) answers the plain prompt and only repeats the
// text's first sentence inside Gemma's chat turns, which it was not tuned
// on. `chat` with no template in the file nor a published one for the family
// is Error(unsupported): ChatML, llama.cpp's fallback, would be a guess.
// Error(unsupported) too when a template drops or repeats the message.
NiahPromptTemplate niah_prompt_template(const GgufFile& file, const Tokenizer& tokenizer,
                                        NiahPromptStyle style);

// The haystack's sentences, tokenized once.
class NiahHaystack {
  public:
    // Error(invalid_argument) naming `source` for a text with no sentence
    // that has a token (empty, or only whitespace).
    NiahHaystack(std::string_view text, const Tokenizer& tokenizer, std::string source);

    const std::string& source() const { return source_; }
    size_t n_sentences() const { return sentences_.size(); }
    int64_t n_tokens() const { return n_tokens_; }
    std::string_view sentence(size_t i) const { return sentences_[i]; }
    const std::vector<TokenId>& tokens(size_t i) const { return tokens_[i]; }
    // The first sentence after a line break, where the haystack starts over.
    const std::vector<TokenId>& restart_tokens() const { return restart_tokens_; }

  private:
    std::string source_;
    std::string text_;
    std::vector<std::string_view> sentences_;
    std::vector<std::vector<TokenId>> tokens_;
    std::vector<TokenId> restart_tokens_;
    int64_t n_tokens_ = 0;
};

struct NiahPrompt {
    std::vector<TokenId> tokens;
    int needle_token = 0;     // index of the needle's first token
    int needle_n_tokens = 0;  // tokens of the needle
    int haystack_tokens = 0;  // haystack tokens in the prompt (needle and question not counted)
    int haystack_sentences = 0;
    double depth = 0;       // the needle's actual depth: % of the haystack tokens before it
    bool repeated = false;  // the haystack started over
};

class NiahPromptBuilder {
  public:
    // Keeps references to the tokenizer and the haystack.
    NiahPromptBuilder(const Tokenizer& tokenizer, const NiahPromptTemplate& tpl,
                      const NiahHaystack& haystack, const NiahNeedle& needle);

    // Tokens of a prompt with no haystack: template, needle and question.
    int overhead_tokens() const;

    // The prompt of at most n_tokens tokens with the needle at depth_percent.
    // Error(invalid_argument) when n_tokens is below overhead_tokens() or the
    // depth is outside 0..100.
    NiahPrompt build(int n_tokens, double depth_percent) const;

    const std::string& answer() const { return answer_; }

  private:
    const NiahHaystack& haystack_;
    std::string answer_;
    std::vector<TokenId> prefix_, suffix_, needle_first_, needle_inline_, question_;
};

struct NiahOptions {
    std::vector<int> lengths;    // context lengths, ascending, each at most the model's context
    std::vector<double> depths;  // needle depths in %, 0..100
    int max_tokens = 32;         // reply length limit
};

// Error(invalid_argument) naming the flag: no lengths or depths, a length
// below 1 or above max_ctx, lengths not strictly ascending, a depth outside
// 0..100, max_tokens below 1, or a length that leaves fewer than one token of
// haystack after the overhead and the reply.
void niah_validate(const NiahOptions& options, int max_ctx, int overhead_tokens);

struct NiahCell {
    int length = 0;
    double depth = 0;         // as asked
    double depth_actual = 0;  // where the needle went (NiahPrompt::depth)
    int prompt_tokens = 0;
    int needle_token = 0;   // index of the needle's first token in the prompt
    int reused_tokens = 0;  // prompt tokens whose KV the previous cell left
    int haystack_tokens = 0;
    bool repeated = false;
    int score = 0;
    std::string reply;
    int reply_tokens = 0;
    std::string stop;  // why the reply ended: "eog" or "length"
    double prompt_seconds = 0;
    double reply_seconds = 0;
};

struct NiahProgress {
    int done = 0;
    int total = 0;
    int64_t tokens_done = 0;   // prompt tokens computed + reply tokens, so far
    int64_t tokens_total = 0;  // the same, planned (replies counted at max_tokens)
    int correct = 0;
    double seconds = 0;
};

struct NiahResult {
    // One per (length, depth), length-major: cells[i * depths.size() + j].
    std::vector<NiahCell> cells;
    int correct = 0;
    double seconds = 0;
    int64_t tokens_computed = 0;  // prompt tokens run through the model (reused ones not counted)
};

// Runs every cell. Validates with niah_validate against the model's trained
// context first.
NiahResult niah_run(Model& model, Backend& backend, const Tokenizer& tokenizer,
                    const NiahPromptBuilder& builder, const NiahOptions& options,
                    const std::function<void(const NiahProgress&)>& progress = {});

}  // namespace slim
