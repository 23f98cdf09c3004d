// `slim niah` end to end on SmolLM2-135M-Instruct with a 2 x 2 grid: the
// files it writes, scores that follow from the replies it records, and
// prompts and greedy replies equal to llama.cpp's for the same cells
// (tests/reference/niah/smollm2.json, tools/reference/make_niah_refs.py,
// which builds the prompts with llama.cpp's tokenizer and jinja2). slim
// computes SmolLM2 with llama.cpp's arithmetic bit for bit, so the replies
// must match token for token, although slim reuses the KV cache between
// cells and llama.cpp starts each from an empty one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

TEST(NiahRun, SmolLM2TinyGrid) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("slim-niah-run-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string prefix = (dir / "grid").string();
    test::CommandResult r = test::run_command(
        test::slim_binary().string() + " niah -m " + test::smollm2_model().string() +
        " --lengths 160,256 --depths 0,100 --max-tokens 20 -t 2 -o " + prefix);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Progress with cells and an ETA on stderr.
    EXPECT_NE(r.err.find("4/4 cells"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;

    const nlohmann::json j = nlohmann::json::parse(test::read_file_text(prefix + ".json"));
    EXPECT_EQ(j["model"]["n_ctx_train"], 8192);
    EXPECT_EQ(j["settings"]["template"], "tokenizer.chat_template");
    EXPECT_EQ(j["settings"]["max_tokens"], 20);
    const std::string answer = j["settings"]["answer"];
    EXPECT_EQ(answer, "Dolores Park");
    ASSERT_EQ(j["cells"].size(), 4u);
    int found = 0;
    const nlohmann::json ref = nlohmann::json::parse(
        test::read_file_text(test::reference_dir() / "niah" / "smollm2.json"));
    ASSERT_EQ(ref["max_tokens"], 20);
    EXPECT_EQ(ref["needle"], j["settings"]["needle"]);
    EXPECT_EQ(ref["question"], j["settings"]["question"]);
    std::set<std::pair<int, double>> grid;
    for (const auto& c : j["cells"]) {
        SCOPED_TRACE(c.dump());
        const auto llama = std::find_if(ref["cells"].begin(), ref["cells"].end(), [&](auto& rc) {
            return rc["length"] == c["length"] &&
                   rc["depth"].template get<double>() == c["depth"].template get<double>();
        });
        ASSERT_NE(llama, ref["cells"].end());
        for (const char* key : {"prompt_tokens", "needle_token", "haystack_tokens", "depth_actual",
                                "reply", "reply_tokens"}) {
            EXPECT_EQ(c[key], (*llama)[key]) << key;
        }
        const int length = c["length"];
        const double depth = c["depth"];
        grid.insert({length, depth});
        const std::string reply = c["reply"];
        // The score is the reply's: it contains the answer or it does not.
        const int expected = lower(reply).find(lower(answer)) != std::string::npos ? 1 : 0;
        EXPECT_EQ(c["score"], expected);
        found += expected;
        const int prompt = c["prompt_tokens"];
        EXPECT_LE(prompt, length - 20);
        EXPECT_GE(prompt, length - 20 - 80);  // short by less than a sentence
        EXPECT_LT(c["reused_tokens"].get<int>(), prompt);
        EXPECT_LE(c["reply_tokens"].get<int>(), 20);
        EXPECT_EQ(c["depth_actual"].get<double>(), depth);  // 0 and 100 are exact
        EXPECT_GT(c["prompt_seconds"].get<double>(), 0);
        EXPECT_FALSE(c["haystack_repeated"].get<bool>());
    }
    EXPECT_EQ(grid, (std::set<std::pair<int, double>>{{160, 0}, {160, 100}, {256, 0}, {256, 100}}));
    EXPECT_EQ(j["summary"]["found"], found);
    // SmolLM2 finds the needle in contexts this short (every cell when written).
    EXPECT_GE(found, 1);
    // The table on stdout.
    EXPECT_NE(r.out.find("depth"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("found " + std::to_string(found) + "/4"), std::string::npos) << r.out;

    const std::string png = test::read_file_text(prefix + ".png");
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    const std::string svg = test::read_file_text(prefix + ".svg");
    EXPECT_NE(svg.find("<svg"), std::string::npos);
    // Its labels are text (tests/tools/niah_test.cpp reads them with an XML parser).
    EXPECT_NE(svg.find("<text"), std::string::npos);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slim
