// `slim mc`'s task readers and its errors on bad input, without running a
// model. Every bad input fails with a message naming the file and line,
// before any evaluation starts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "format/error.h"
#include "run_command.h"
#include "test_paths.h"
#include "tools/mc.h"

namespace slim {
namespace {

std::filesystem::path data_dir() {
    return test::testdata_dir() / "eval";
}

// The readers against the shipped files: the counts and first items the data
// README lists.
TEST(McReaders, HellaSwagFromBz2) {
    std::vector<McItem> items =
        load_mc_file((data_dir() / "hellaswag/hellaswag_val_full.txt.bz2").string());
    ASSERT_EQ(items.size(), 10042u);
    EXPECT_EQ(items[0].context, "Roof shingle removal: A man is sitting on a roof. he");
    EXPECT_EQ(items[0].gold, 3);
    ASSERT_EQ(items[0].endings.size(), 4u);
    EXPECT_EQ(items[0].endings[3], "starts pulling up roofing on a roof.");
    EXPECT_EQ(items[1].gold, 3);
}

TEST(McReaders, ArcJsonl) {
    std::vector<McItem> easy =
        load_mc_file((data_dir() / "arc/arc_easy_test.llm-foundry.jsonl").string());
    std::vector<McItem> challenge =
        load_mc_file((data_dir() / "arc/arc_challenge_test.llm-foundry.jsonl").string());
    EXPECT_EQ(easy.size(), 2376u);
    EXPECT_EQ(challenge.size(), 1172u);
    // lm-evaluation-harness's arc doc_to_text: "Question: {question}\nAnswer:".
    EXPECT_EQ(challenge[0].context.rfind("Question: An astronomer observes", 0), 0u);
    EXPECT_TRUE(challenge[0].context.ends_with("?\nAnswer:")) << challenge[0].context;
    EXPECT_EQ(challenge[0].endings[size_t(challenge[0].gold)],
              "Planetary days will become shorter.");
    int gold_counts[4] = {0, 0, 0, 0};
    for (const McItem& item : easy) ++gold_counts[item.gold];
    EXPECT_EQ(gold_counts[0], 565);
    EXPECT_EQ(gold_counts[1], 592);
    EXPECT_EQ(gold_counts[2], 634);
    EXPECT_EQ(gold_counts[3], 585);
}

TEST(McReaders, GenericJsonl) {
    std::vector<McItem> items = read_mc_jsonl(
        "{\"context\": \"The sky is\", \"endings\": [\"blue.\", \"made of cheese.\"], \"gold\": "
        "0}\n\n{\"context\": \"2 + 2 =\", \"endings\": [\"3\", \"4\", \"5\"], \"gold\": 1}\n",
        "mine.jsonl");
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[1].context, "2 + 2 =");
    EXPECT_EQ(items[1].endings.size(), 3u);
    EXPECT_EQ(items[1].gold, 1);
}

TEST(McReaders, Utf8Length) {
    EXPECT_EQ(utf8_length("abc"), 3u);
    EXPECT_EQ(utf8_length("caf\xc3\xa9 \xe6\x9d\x9c\xe7\x94\xab"), 7u);  // "café 杜甫"
}

TEST(McReaders, ConfidenceInterval) {
    EXPECT_NEAR(proportion_ci95(0.5, 100), 0.098, 1e-12);
    EXPECT_EQ(proportion_ci95(1.0, 10), 0.0);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
}

TEST(McReaders, MalformedHellaSwag) {
    const std::string item = "ctx\n1\na\nb\nc\nd\n";
    EXPECT_NE(
        error_of([&] { read_hellaswag(item + "ctx\n1\na\n", "h.txt"); }).find("6 lines per item"),
        std::string::npos);
    std::string msg = error_of([&] { read_hellaswag(item + "ctx\n7\na\nb\nc\nd\n", "h.txt"); });
    EXPECT_NE(msg.find("line 8"), std::string::npos) << msg;
    EXPECT_NE(msg.find("0 to 3"), std::string::npos) << msg;
    msg = error_of([&] { read_hellaswag("ctx\nx\na\nb\nc\nd\n", "h.txt"); });
    EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
    msg = error_of([&] { read_hellaswag("ctx\n0\na\n\nc\nd\n", "h.txt"); });
    EXPECT_NE(msg.find("line 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("h.txt"), std::string::npos) << msg;
}

TEST(McReaders, MalformedJsonl) {
    std::string msg = error_of([] {
        read_arc_jsonl("{\"query\": \"Q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n{\"query\": ",
                       "arc.jsonl");
    });
    EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bad JSON"), std::string::npos) << msg;
    msg = error_of([] {
        read_arc_jsonl("{\"query\": \"Q\", \"choices\": [\"a\", \"b\"], \"gold\": 2}", "arc.jsonl");
    });
    EXPECT_NE(msg.find("an index from 0 to 1"), std::string::npos) << msg;
    msg = error_of([] { read_arc_jsonl("{\"query\": \"Q\", \"gold\": 0}", "arc.jsonl"); });
    EXPECT_NE(msg.find("\"choices\""), std::string::npos) << msg;
    msg = error_of([] {
        read_mc_jsonl("{\"context\": \"c\", \"endings\": [\"a\", 5], \"gold\": 0}", "m.jsonl");
    });
    EXPECT_NE(msg.find("non-empty strings"), std::string::npos) << msg;
    msg = error_of([] { read_mc_jsonl("[1, 2]", "m.jsonl"); });
    EXPECT_NE(msg.find("a JSON object"), std::string::npos) << msg;
}

TEST(McReaders, EmptyFiles) {
    EXPECT_NE(error_of([] { read_hellaswag("", "h.txt"); }).find("an empty file"),
              std::string::npos);
    EXPECT_NE(error_of([] { read_mc_jsonl("\n\n", "m.jsonl"); }).find("an empty file"),
              std::string::npos);
}

TEST(McReaders, CorruptBz2) {
    std::string msg = error_of([] { bz2_decompress("BZh91AY&SY not really", "x.bz2"); });
    EXPECT_NE(msg.find("x.bz2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bzip2"), std::string::npos) << msg;
}

class McCliErrors : public ::testing::Test {
  protected:
    std::filesystem::path write(const std::string& name, const std::string& text) {
        auto path = std::filesystem::temp_directory_path() /
                    ("slim-mc-" + std::to_string(::getpid()) + "-" + name);
        std::ofstream(path, std::ios::binary) << text;
        paths_.push_back(path);
        return path;
    }
    void TearDown() override {
        for (const auto& p : paths_) std::filesystem::remove(p);
    }
    static test::CommandResult slim_mc(const std::string& args) {
        return test::run_command(test::slim_binary().string() + " mc -t 1 -m " +
                                 test::smollm2_model().string() + " " + args);
    }

  private:
    std::vector<std::filesystem::path> paths_;
};

TEST_F(McCliErrors, LimitZeroOrNegative) {
    for (const char* limit : {"0", "-3"}) {
        auto r = slim_mc(std::string("--task arc-easy --limit ") + limit);
        EXPECT_NE(r.exit_code, 0) << limit;
        EXPECT_NE(r.err.find("--limit"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("at least 1 item"), std::string::npos) << r.err;
    }
}

TEST_F(McCliErrors, MalformedTaskLines) {
    auto r = slim_mc("--task " + write("bad.txt", "ctx\n9\na\nb\nc\nd\n").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("bad.txt"), std::string::npos) << r.err;
    r = slim_mc("--task " + write("bad.jsonl", "{\"context\": 1}\n").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("\"context\""), std::string::npos) << r.err;
}

TEST_F(McCliErrors, EmptyTaskFile) {
    auto r = slim_mc("--task " + write("empty.jsonl", "").string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("an empty file"), std::string::npos) << r.err;
}

TEST_F(McCliErrors, MissingDataDir) {
    auto r = slim_mc("--task hellaswag --data-dir /nonexistent/eval");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("/nonexistent/eval/hellaswag/hellaswag_val_full.txt.bz2"),
              std::string::npos)
        << r.err;
}

TEST_F(McCliErrors, ContextLongerThanTheModels) {
    // SmolLM2-135M was trained on 8192 tokens; this context is ~9000.
    std::string context;
    for (int i = 0; i < 9000; ++i) context += " word";
    auto r = slim_mc("--task " +
                     write("long.jsonl", "{\"context\": \"" + context +
                                             "\", \"endings\": [\"a\", \"b\"], \"gold\": 0}\n")
                         .string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("item 1 ending 0"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("trained context of 8192"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace slim
