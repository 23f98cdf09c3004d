// Which tokens `slim classify --target-word` averages: for texts with
// punctuation, case, hyphens, accents, CJK and several forms of the word, the
// token range must be the tokens whose character offsets Hugging Face's
// tokenizer puts inside the word (tests/reference/classify/target_tokens.json,
// tools/reference/make_target_token_refs.py), on all-MiniLM-L6-v2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "embed_models.h"
#include "run_command.h"
#include "test_paths.h"
#include "tools/classify.h"

namespace slim {
namespace {

TEST(ClassifyTargetTokens, MatchHuggingFaceOffsets) {
    ASSERT_TRUE(std::filesystem::exists(test::minilm_dir() / "model.safetensors"))
        << "run scripts/get-models.sh";
    const GgufFile file =
        GgufFile::open(test::ConvertedModels::get().path("all-minilm-l6-v2", "f32"));
    auto backend = make_cpu_backend({1});
    Embedder embedder(file, *backend);
    const nlohmann::json ref = nlohmann::json::parse(
        test::read_file_text(test::reference_dir() / "classify" / "target_tokens.json"));
    ASSERT_GE(ref["cases"].size(), 10u);
    for (const nlohmann::json& c : ref["cases"]) {
        const std::string text = c["text"];
        SCOPED_TRACE(text);
        const std::vector<int32_t> ids = embedder.tokenize(text);
        ASSERT_EQ(ids, c["ids"].get<std::vector<int32_t>>());
        FeatureExtractor fx(embedder, parse_target_forms(c["forms"].get<std::string>()));
        const auto range = fx.target_tokens(text, ids);
        ASSERT_TRUE(range.has_value());
        EXPECT_EQ(range->first, c["begin"].get<size_t>());
        EXPECT_EQ(range->second, c["end"].get<size_t>());
    }
}

}  // namespace
}  // namespace slim
