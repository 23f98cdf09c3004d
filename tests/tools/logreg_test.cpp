// Softmax regression (src/tools/logreg.h) against scikit-learn's
// LogisticRegression on the same data and penalty
// (tests/reference/classify/logreg.json, tools/reference/make_classify_refs.py):
// the optimum weights, the biases up to their common constant, and the
// probabilities on rows not trained on.
#include "tools/logreg.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "format/error.h"
#include "run_command.h"
#include "test_paths.h"

namespace slim {
namespace {

nlohmann::json reference() {
    return nlohmann::json::parse(
        test::read_file_text(test::reference_dir() / "classify" / "logreg.json"));
}

TEST(LogReg, MatchesScikitLearnOptimum) {
    const nlohmann::json ref = reference();
    ASSERT_EQ(ref["cases"].size(), 3u);
    for (const nlohmann::json& c : ref["cases"]) {
        SCOPED_TRACE(c["name"].get<std::string>());
        const int n_classes = c["n_classes"], d = c["d"];
        const std::vector<double> x = c["x"], x_test = c["x_test"];
        const std::vector<int> y = c["y"];
        const std::vector<double> weight = c["weight"], bias = c["bias"],
                                  probs = c["probabilities"];
        LogRegOptions o;
        o.l2 = c["l2"];
        o.tolerance = 1e-9;
        const LogRegFit fit = logreg_train(x, y, n_classes, d, o);
        EXPECT_TRUE(fit.converged)
            << fit.iterations << " iterations, gradient " << fit.gradient_max;
        // The reference is scikit-learn's optimum polished by Newton steps to a
        // gradient of 1e-16; a gradient of 1e-9 leaves slim's within about
        // |gradient| / l2 of it (strong convexity, modulus l2).
        const double tol = 1e-9 / o.l2 * 10;
        ASSERT_EQ(fit.model.weight.size(), weight.size());
        for (size_t k = 0; k < weight.size(); ++k)
            EXPECT_NEAR(fit.model.weight[k], weight[k], tol) << "weight " << k;
        double mean = 0;
        for (double b : fit.model.bias) mean += b / n_classes;
        for (size_t k = 0; k < bias.size(); ++k)
            EXPECT_NEAR(fit.model.bias[k] - mean, bias[k], tol) << "bias " << k;
        std::vector<double> p;
        logreg_probabilities(fit.model, x_test, p);
        ASSERT_EQ(p.size(), probs.size());
        for (size_t k = 0; k < p.size(); ++k) EXPECT_NEAR(p[k], probs[k], 1e-6) << "prob " << k;
    }
}

TEST(LogReg, BadInputsThrow) {
    const std::vector<double> x = {0, 1, 2, 3};
    const std::vector<int> y = {0, 1};
    LogRegOptions o;
    EXPECT_THROW(logreg_train(x, y, 1, 2, o), Error);                          // one class
    EXPECT_THROW(logreg_train(x, std::vector<int>{0, 2}, 2, 2, o), Error);     // label range
    EXPECT_THROW(logreg_train(x, std::vector<int>{0, 1, 0}, 2, 2, o), Error);  // sizes
    o.l2 = -1;
    EXPECT_THROW(logreg_train(x, y, 2, 2, o), Error);
}

TEST(Standardizer, PopulationMeanAndDeviation) {
    // Two features: {1, 3, 5, 7} (mean 4, population sd sqrt(5)) and a constant.
    std::vector<double> x = {1, 9, 3, 9, 5, 9, 7, 9};
    const Standardizer s = Standardizer::fit(x, 2);
    EXPECT_DOUBLE_EQ(s.mean[0], 4.0);
    EXPECT_DOUBLE_EQ(s.inv_std[0], 1.0 / std::sqrt(5.0));
    EXPECT_DOUBLE_EQ(s.mean[1], 9.0);
    EXPECT_DOUBLE_EQ(s.inv_std[1], 1.0);
    s.apply(x);
    EXPECT_DOUBLE_EQ(x[0], -3.0 / std::sqrt(5.0));
    EXPECT_DOUBLE_EQ(x[1], 0.0);
}

}  // namespace
}  // namespace slim
