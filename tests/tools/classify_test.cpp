// The parts of `slim classify` that need no model (src/tools/classify.h):
// reading text<TAB>label files and their bad lines, finding the target word,
// the metrics against scikit-learn's (tests/reference/classify/logreg.json),
// and the stratified folds.
#include "tools/classify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "format/error.h"
#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

Error tsv_error(std::string_view text) {
    try {
        parse_labeled_tsv(text, "t.tsv");
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no error for: " << text;
    return Error(ErrorKind::io, "", "", std::nullopt, "", "");
}

TEST(LabeledTsv, ReadsLinesWithTheirNumbers) {
    const auto rows = parse_labeled_tsv("a b\tx\r\nc\ty\nd e f\tx", "t.tsv");
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].text, "a b");
    EXPECT_EQ(rows[0].label, "x");
    EXPECT_EQ(rows[1].label, "y");
    EXPECT_EQ(rows[2].text, "d e f");
    EXPECT_EQ(rows[2].line, 3u);
}

TEST(LabeledTsv, MalformedLinesNameTheLine) {
    Error e = tsv_error("a\tx\nno tab here\n");
    EXPECT_EQ(e.field(), "line 2");
    EXPECT_EQ(e.found(), "no tab");
    e = tsv_error("a\tx\n\tx\n");
    EXPECT_EQ(e.field(), "line 2");
    EXPECT_EQ(e.found(), "an empty text");
    e = tsv_error("a\t \n");
    EXPECT_EQ(e.field(), "line 1");
    EXPECT_EQ(e.found(), "an empty label");
    e = tsv_error("a\tx\nb\tx\ty\n");
    EXPECT_EQ(e.found(), "more than one tab");
    e = tsv_error("a\tx\n\nb\tx\n");
    EXPECT_EQ(e.field(), "line 2");
    EXPECT_EQ(e.found(), "an empty line");
    e = tsv_error("");
    EXPECT_EQ(e.found(), "an empty file");
    EXPECT_EQ(e.file(), "t.tsv");
}

TEST(TargetWord, FirstOccurrenceOnWordBoundariesAnyCase) {
    const std::vector<std::string> forms = parse_target_forms("interest,interests");
    ASSERT_EQ(forms.size(), 2u);
    auto at = [&](std::string_view text) {
        auto r = find_target_word(text, forms);
        return r ? std::pair<int, int>(int(r->begin), int(r->end)) : std::pair<int, int>(-1, -1);
    };
    EXPECT_EQ(at("Interest rates"), std::pair(0, 8));
    EXPECT_EQ(at("their interests."), std::pair(6, 15));
    EXPECT_EQ(at("disinterest in interest"), std::pair(15, 23));
    EXPECT_EQ(at("interested parties"), std::pair(-1, -1));
    EXPECT_EQ(at("interest-bearing"), std::pair(0, 8));  // '-' is a boundary
    EXPECT_EQ(at("interest_rate or interesté"), std::pair(-1, -1));
    EXPECT_EQ(at("no such word"), std::pair(-1, -1));
    EXPECT_THROW(parse_target_forms("a,,b"), Error);
    EXPECT_THROW(parse_target_forms(""), Error);
    EXPECT_THROW(parse_target_forms("two words"), Error);
}

TEST(ClassMetrics, MatchScikitLearn) {
    const nlohmann::json m = nlohmann::json::parse(
        test::read_file_text(test::reference_dir() / "classify" / "logreg.json"))["metrics"];
    const std::vector<size_t> confusion = m["confusion"];
    const ClassMetrics r = class_metrics(confusion, 4);
    EXPECT_NEAR(r.accuracy, m["accuracy"].get<double>(), 1e-12);
    EXPECT_NEAR(r.macro_f1, m["macro_f1"].get<double>(), 1e-12);
    for (size_t c = 0; c < 4; ++c) {
        EXPECT_NEAR(r.precision[c], m["precision"][c].get<double>(), 1e-12) << c;
        EXPECT_NEAR(r.recall[c], m["recall"][c].get<double>(), 1e-12) << c;
        EXPECT_NEAR(r.f1[c], m["f1"][c].get<double>(), 1e-12) << c;
    }
    EXPECT_EQ(r.n, 50u);
}

TEST(StratifiedFolds, BalancedSeededAndChecked) {
    // 3 classes of 10, 7 and 5 examples, interleaved.
    std::vector<int> y;
    for (int i = 0; i < 10; ++i) y.push_back(0);
    for (int i = 0; i < 7; ++i) y.push_back(1);
    for (int i = 0; i < 5; ++i) y.push_back(2);
    std::rotate(y.begin(), y.begin() + 4, y.end());
    const int k = 5;
    const std::vector<int> f = stratified_folds(y, 3, k, 42);
    ASSERT_EQ(f.size(), y.size());
    std::vector<int> per_fold(k, 0);
    for (int c = 0; c < 3; ++c) {
        std::vector<int> counts(k, 0);
        int n = 0;
        for (size_t i = 0; i < y.size(); ++i)
            if (y[i] == c) ++counts[size_t(f[i])], ++n;
        for (int v : counts) {
            EXPECT_GE(v, n / k) << "class " << c;
            EXPECT_LE(v, (n + k - 1) / k) << "class " << c;
        }
    }
    for (int v : f) ++per_fold[size_t(v)];
    const auto [lo, hi] = std::minmax_element(per_fold.begin(), per_fold.end());
    EXPECT_LE(*hi - *lo, 1);
    EXPECT_EQ(stratified_folds(y, 3, k, 42), f);
    EXPECT_NE(stratified_folds(y, 3, k, 43), f);
    EXPECT_THROW(stratified_folds(y, 3, 6, 42), Error);  // the smallest class has 5
    EXPECT_THROW(stratified_folds(y, 3, 1, 42), Error);
}

}  // namespace
}  // namespace slim
