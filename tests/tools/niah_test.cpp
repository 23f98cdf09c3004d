// The prompts `slim niah` builds (haystack cut to length, needle at its depth,
// chat template around them), its scoring, its checks of bad input and its
// heatmap files. The expected template text is written out from the
// templates the models publish; the haystack inside a prompt must be the
// haystack's own text, byte for byte.
#include "tools/niah.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "format/error.h"
#include "format/gguf.h"
#include "run_command.h"
#include "runtime/tokenizer.h"
#include "test_paths.h"
#include "tools/heatmap.h"

namespace slim {
namespace {

struct Loaded {
    GgufFile file;
    Tokenizer tokenizer;
};

const Loaded& smollm2() {
    static const Loaded* m = [] {
        GgufFile f = GgufFile::open(test::smollm2_model());
        Tokenizer t = Tokenizer::load(f);
        return new Loaded{std::move(f), std::move(t)};
    }();
    return *m;
}

const Loaded& gemma() {
    static const Loaded* m = [] {
        GgufFile f = GgufFile::open(test::default_model());
        Tokenizer t = Tokenizer::load(f);
        return new Loaded{std::move(f), std::move(t)};
    }();
    return *m;
}

ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no slim::Error thrown";
    return ErrorKind::io;
}

TEST(NiahSentences, SplitAfterPunctuationAndBeforeLineBreaks) {
    const std::string text =
        "He said \"Stop.\" Then he left. Was it 3.5 km? Yes!\nA new paragraph\nwithout a stop";
    std::vector<std::string_view> s = niah_split_sentences(text);
    ASSERT_EQ(s.size(), 6u);
    EXPECT_EQ(s[0], "He said \"Stop.\"");
    EXPECT_EQ(s[1], " Then he left.");
    EXPECT_EQ(s[2], " Was it 3.5 km?");
    EXPECT_EQ(s[3], " Yes!");
    EXPECT_EQ(s[4], "\nA new paragraph");
    EXPECT_EQ(s[5], "\nwithout a stop");
}

TEST(NiahSentences, PiecesJoinToTheText) {
    const std::string_view text = niah_default_haystack();
    std::vector<std::string_view> s = niah_split_sentences(text);
    ASSERT_GT(s.size(), 1000u);
    std::string joined;
    for (std::string_view p : s) joined += p;
    // The text ends with a line break, which no sentence keeps.
    EXPECT_EQ(joined + "\n", text);
}

TEST(NiahSentences, LongRunsAreCutAtSpaces) {
    std::string text;
    for (int i = 0; i < 600; ++i) text += "word ";
    std::vector<std::string_view> s = niah_split_sentences(text);
    ASSERT_GE(s.size(), 3u);
    for (std::string_view p : s) EXPECT_LE(p.size(), 1001u);
}

TEST(NiahScore, ContainsTheAnswerIgnoringCase) {
    EXPECT_EQ(niah_score("Eat a sandwich in DOLORES park.", "Dolores Park"), 1);
    EXPECT_EQ(niah_score("Dolores\nPark", "Dolores Park"), 0);
    EXPECT_EQ(niah_score("The Golden Gate Bridge.", "Dolores Park"), 0);
    EXPECT_EQ(niah_score("", "Dolores Park"), 0);
}

TEST(NiahNeedle, DefaultIsValidAndBadOnesAreRejected) {
    NiahNeedle n = niah_default_needle();
    EXPECT_NO_THROW(niah_validate_needle(n));
    EXPECT_EQ(niah_score(n.needle, n.answer), 1);
    NiahNeedle not_in = n;
    not_in.answer = "Golden Gate";
    EXPECT_EQ(kind_of([&] { niah_validate_needle(not_in); }), ErrorKind::invalid_argument);
    NiahNeedle empty = n;
    empty.question = " ";
    EXPECT_EQ(kind_of([&] { niah_validate_needle(empty); }), ErrorKind::invalid_argument);
}

// SmolLM2's template (tokenizer.chat_template in its GGUF) adds a system
// turn when the conversation has none.
constexpr std::string_view kSmolPrefix =
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n<|im_start|>user\n";
constexpr std::string_view kSmolSuffix = "<|im_end|>\n<|im_start|>assistant\n";

TEST(NiahPrompt, FillsTheLengthWithTheNeedleAtItsDepth) {
    const Loaded& m = smollm2();
    NiahPromptTemplate tpl = niah_prompt_template(m.file, m.tokenizer, NiahPromptStyle::automatic);
    EXPECT_EQ(tpl.origin, "tokenizer.chat_template");
    EXPECT_EQ(tpl.prefix, kSmolPrefix);
    EXPECT_EQ(tpl.suffix, kSmolSuffix);
    const NiahNeedle needle = niah_default_needle();
    NiahHaystack haystack(niah_default_haystack(), m.tokenizer, "built-in");
    NiahPromptBuilder builder(m.tokenizer, tpl, haystack, needle);
    const std::string hay(niah_default_haystack());

    int longest_sentence = 0;
    for (size_t i = 0; i < 200; ++i)
        longest_sentence = std::max(longest_sentence, int(haystack.tokens(i).size()));

    for (int n : {400, 1000, 3000}) {
        for (double depth : {0.0, 10.0, 50.0, 75.0, 100.0}) {
            SCOPED_TRACE(testing::Message() << n << " tokens, depth " << depth);
            NiahPrompt p = builder.build(n, depth);
            EXPECT_LE(int(p.tokens.size()), n);
            EXPECT_GE(int(p.tokens.size()), n - longest_sentence - 2);
            EXPECT_FALSE(p.repeated);
            // Within one sentence of the depth asked for.
            EXPECT_NEAR(p.depth, depth, 100.0 * longest_sentence / p.haystack_tokens);

            const std::string text = m.tokenizer.detokenize(p.tokens, false, true);
            ASSERT_TRUE(text.starts_with(kSmolPrefix));
            ASSERT_TRUE(text.ends_with("\n\n" + needle.question + std::string(kSmolSuffix)));
            const std::string body = text.substr(
                kSmolPrefix.size(),
                text.size() - kSmolPrefix.size() - kSmolSuffix.size() - needle.question.size() - 2);
            const size_t at = body.find(needle.needle);
            ASSERT_NE(at, std::string::npos);
            // Around the needle: the haystack's own text, cut after a sentence.
            std::string before = body.substr(0, at);
            std::string after = body.substr(at + needle.needle.size());
            if (depth == 0) {
                EXPECT_EQ(at, 0u);
                ASSERT_TRUE(after.starts_with("\n"));
                after.erase(0, 1);
            } else {
                ASSERT_TRUE(before.ends_with(" "));
                before.pop_back();
            }
            if (depth == 100) {
                EXPECT_TRUE(after.empty());
            }
            EXPECT_EQ(before + after, hay.substr(0, before.size() + after.size()));
            const char last = (before + after).back();
            EXPECT_TRUE(last == '.' || last == '?' || last == '!' || last == '"' || last == ')')
                << last;
            // The needle's tokens are where the prompt says.
            const std::string needle_text =
                m.tokenizer.detokenize(std::span<const TokenId>(p.tokens).subspan(
                    size_t(p.needle_token), size_t(p.needle_n_tokens)));
            EXPECT_EQ(needle_text, (depth == 0 ? "" : " ") + needle.needle);
        }
    }
}

TEST(NiahPrompt, GemmaBaseModelAsksPlainUnlessToldOtherwise) {
    // The default model's file has no template: a base model.
    const Loaded& m = gemma();
    NiahPromptTemplate plain =
        niah_prompt_template(m.file, m.tokenizer, NiahPromptStyle::automatic);
    EXPECT_EQ(plain.origin, "plain");
    EXPECT_TRUE(plain.add_bos);
    EXPECT_EQ(plain.prefix, "");
    EXPECT_EQ(plain.suffix, "\n\nAnswer:");

    NiahPromptTemplate tpl = niah_prompt_template(m.file, m.tokenizer, NiahPromptStyle::chat);
    EXPECT_EQ(tpl.origin, "built-in gemma");
    EXPECT_EQ(tpl.prefix, "<bos><start_of_turn>user\n");
    EXPECT_EQ(tpl.suffix, "<end_of_turn>\n<start_of_turn>model\n");
    NiahHaystack haystack(niah_default_haystack(), m.tokenizer, "built-in");
    NiahPromptBuilder builder(m.tokenizer, tpl, haystack, niah_default_needle());
    NiahPrompt p = builder.build(2048, 50);
    ASSERT_GE(p.tokens.size(), 1900u);
    EXPECT_LE(p.tokens.size(), 2048u);
    EXPECT_EQ(p.tokens[0], m.tokenizer.vocab().special().bos);
    EXPECT_EQ(m.tokenizer.detokenize(std::span<const TokenId>(p.tokens).first(4), false, true),
              "<bos><start_of_turn>user\n");
}

TEST(NiahPrompt, PlainWithoutAChatTemplate) {
    // llama.cpp's SentencePiece test vocabulary: a llama file without a
    // template, whose tokenizer puts a space before the text.
    GgufFile f = GgufFile::open(test::vocab_dir() / "ggml-vocab-llama-spm.gguf");
    Tokenizer tok = Tokenizer::load(f);
    NiahPromptTemplate tpl = niah_prompt_template(f, tok, NiahPromptStyle::automatic);
    EXPECT_EQ(tpl.origin, "plain");
    EXPECT_EQ(tpl.suffix, "\n\nAnswer:");
    const std::string text = "First sentence here. Second one follows. Third one ends it.";
    NiahHaystack haystack(text, tok, "inline");
    const NiahNeedle needle = niah_default_needle();
    NiahPromptBuilder builder(tok, tpl, haystack, needle);
    NiahPrompt p = builder.build(builder.overhead_tokens() + 9, 100);
    ASSERT_EQ(p.tokens[0], tok.vocab().special().bos);
    EXPECT_EQ(tok.detokenize(std::span<const TokenId>(p.tokens).subspan(1)),
              "First sentence here. Second one follows. " + needle.needle + "\n\n" +
                  needle.question + "\n\nAnswer:");
    // And when the user asks for it.
    EXPECT_EQ(
        niah_prompt_template(smollm2().file, smollm2().tokenizer, NiahPromptStyle::plain).origin,
        "plain");
    // No template to ask for: ChatML would be a guess.
    EXPECT_EQ(kind_of([&] { niah_prompt_template(f, tok, NiahPromptStyle::chat); }),
              ErrorKind::unsupported);
}

TEST(NiahPrompt, ShortHaystackStartsOver) {
    const Loaded& m = smollm2();
    NiahPromptTemplate tpl = niah_prompt_template(m.file, m.tokenizer, NiahPromptStyle::automatic);
    NiahHaystack haystack("One small text. It is short.\n", m.tokenizer, "inline");
    NiahPromptBuilder builder(m.tokenizer, tpl, haystack, niah_default_needle());
    NiahPrompt p = builder.build(300, 50);
    EXPECT_TRUE(p.repeated);
    EXPECT_LE(p.tokens.size(), 300u);
    EXPECT_GE(p.tokens.size(), 290u);
    const std::string text = m.tokenizer.detokenize(p.tokens, false, true);
    EXPECT_NE(text.find("It is short.\nOne small text."), std::string::npos);
}

TEST(NiahInput, BadHaystackLengthsAndDepths) {
    const Loaded& m = smollm2();
    EXPECT_EQ(kind_of([&] { NiahHaystack("", m.tokenizer, "empty.txt"); }),
              ErrorKind::invalid_argument);
    EXPECT_EQ(kind_of([&] { NiahHaystack(" \n\n\t ", m.tokenizer, "blank.txt"); }),
              ErrorKind::invalid_argument);
    NiahPromptTemplate tpl = niah_prompt_template(m.file, m.tokenizer, NiahPromptStyle::automatic);
    NiahHaystack haystack(niah_default_haystack(), m.tokenizer, "built-in");
    NiahPromptBuilder builder(m.tokenizer, tpl, haystack, niah_default_needle());
    EXPECT_EQ(kind_of([&] { builder.build(builder.overhead_tokens() - 1, 50); }),
              ErrorKind::invalid_argument);
    EXPECT_EQ(kind_of([&] { builder.build(1000, 101); }), ErrorKind::invalid_argument);

    const int overhead = builder.overhead_tokens();
    NiahOptions o;
    o.lengths = {512, 1024};
    o.depths = {0, 50, 100};
    EXPECT_NO_THROW(niah_validate(o, 8192, overhead));
    auto check = [&](NiahOptions bad, const char* why) {
        SCOPED_TRACE(why);
        EXPECT_EQ(kind_of([&] { niah_validate(bad, 8192, overhead); }),
                  ErrorKind::invalid_argument);
    };
    NiahOptions b = o;
    b.lengths = {512, 16384};
    check(b, "longer than the context");
    b.lengths = {overhead + o.max_tokens};
    check(b, "no room for the haystack");
    b.lengths = {1024, 512};
    check(b, "descending");
    b.lengths = {};
    check(b, "no lengths");
    b = o;
    b.depths = {-1};
    check(b, "negative depth");
    b.depths = {100.5};
    check(b, "depth above 100");
    b = o;
    b.max_tokens = 0;
    check(b, "no reply");
}

TEST(Heatmap, WritesPngAndSvgWithLabels) {
    Heatmap map;
    map.title = "Needle in a haystack: test #1";
    map.x_title = "Context length (tokens)";
    map.y_title = "Needle depth";
    map.value_title = "Score";
    map.x_labels = {"1k", "2k", "4k"};
    map.y_labels = {"0%", "50%", "100%"};
    map.values = {1, 0, 0.5, 1, 1, 0, 0, 1, 0.25};
    map.width = 800;
    map.height = 500;
    const auto dir =
        std::filesystem::temp_directory_path() / ("slim-heatmap-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    write_heatmap(map, (dir / "h.png").string(), HeatmapFormat::png);
    write_heatmap(map, (dir / "h.svg").string(), HeatmapFormat::svg);

    const std::string png = test::read_file_text(dir / "h.png");
    ASSERT_GT(png.size(), 1000u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    auto be32 = [&](size_t at) {
        return uint32_t(uint8_t(png[at])) << 24 | uint32_t(uint8_t(png[at + 1])) << 16 |
               uint32_t(uint8_t(png[at + 2])) << 8 | uint32_t(uint8_t(png[at + 3]));
    };
    EXPECT_EQ(png.substr(12, 4), "IHDR");
    EXPECT_EQ(be32(16), 800u);
    EXPECT_EQ(be32(20), 500u);

    // Python's XML parser (python3 is a build dependency) reads the SVG and
    // lists its text.
    const std::string script =
        "import sys, xml.etree.ElementTree as E\n"
        "root = E.parse(sys.argv[1]).getroot()\n"
        "assert root.tag.endswith('svg'), root.tag\n"
        "print('\\n'.join(''.join(t.itertext()) for t in root.iter() if t.tag.endswith('text')))\n";
    std::ofstream(dir / "svg_text.py") << script;
    test::CommandResult r = test::run_command("python3 " + (dir / "svg_text.py").string() + " " +
                                              (dir / "h.svg").string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* label :
         {"Needle in a haystack: test #1", "Context length (tokens)", "Needle depth", "Score", "1k",
          "4k", "50%", "100%", "0.25", "0.50", "1.0"}) {
        EXPECT_NE(r.out.find(label), std::string::npos) << label << " in:\n" << r.out;
    }
    std::filesystem::remove_all(dir);
}

TEST(Heatmap, BadInput) {
    Heatmap map;
    map.x_labels = {"a", "b"};
    map.y_labels = {"c"};
    map.values = {0.5};
    const std::string path = (std::filesystem::temp_directory_path() / "slim-bad.png").string();
    EXPECT_EQ(kind_of([&] { write_heatmap(map, path, HeatmapFormat::png); }),
              ErrorKind::invalid_argument);
    map.values = {0.5, 1.5};
    EXPECT_EQ(kind_of([&] { write_heatmap(map, path, HeatmapFormat::png); }),
              ErrorKind::invalid_argument);
    map.values = {0.5, 1};
    EXPECT_EQ(kind_of([&] { write_heatmap(map, "/nonexistent-dir/h.png", HeatmapFormat::png); }),
              ErrorKind::io);
    EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace slim
