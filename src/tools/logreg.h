// Multinomial (softmax) logistic regression with an L2 penalty, trained by
// L-BFGS on the whole data set, for the classifier heads of `slim classify`.
//
// The objective, over n examples x_i with labels y_i in [0, C):
//
//   L(W, b) = (1/n) sum_i [ logsumexp_c(z_ic) - z_i,y_i ] + (l2 / 2) ||W||^2,
//   z_ic = W_c . x_i + b_c,
//
// the bias unpenalised. It is scikit-learn's LogisticRegression(C=1/(n l2))
// (lbfgs, multinomial) divided by n, so the optimum is the same
// (tests/tools/logreg_test.cpp checks it against scikit-learn's).
//
// Why L-BFGS: the problem is smooth and, with l2 > 0, strictly convex in W;
// one L-BFGS step costs a gradient (about 4 n C D flops), and a few hundred
// steps reach a gradient of 1e-6 with no learning rate to tune. Newton's
// method would form the (C D)^2 Hessian, 2,304^2 entries for 6 classes of 384
// features each summed over every example: over 10 GFLOP per step for the
// 2,368 "interest" sentences. A backtracking (Armijo) line search suffices on
// a convex objective; curvature pairs with s.y <= 0 are skipped.
//
// Library code: no I/O, deterministic (no threads, no randomness).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace slim {

struct LogRegOptions {
    double l2 = 1e-3;           // penalty on the weights (not the bias)
    double tolerance = 1e-6;    // stop when every |gradient component| <= this
    int max_iterations = 2000;  // L-BFGS iterations
    int history = 10;           // curvature pairs kept
};

struct LogRegModel {
    int n_classes = 0;
    int n_features = 0;
    std::vector<double> weight;  // n_classes rows of n_features
    std::vector<double> bias;    // n_classes
};

struct LogRegFit {
    LogRegModel model;
    int iterations = 0;
    double loss = 0;          // the objective at the returned weights
    double gradient_max = 0;  // its largest |gradient component|
    bool converged = false;   // gradient_max <= tolerance
};

// Trains on n rows of n_features doubles (row-major) with labels in
// [0, n_classes). Throws Error(invalid_argument) for mismatched sizes, a label
// out of range, fewer than two classes or a negative l2.
LogRegFit logreg_train(std::span<const double> x, std::span<const int> y, int n_classes,
                       int n_features, const LogRegOptions& options);

// Class probabilities of each row of x (n rows of model.n_features), n rows
// of n_classes into `probs` (resized).
void logreg_probabilities(const LogRegModel& model, std::span<const double> x,
                          std::vector<double>& probs);

// Per-feature mean and 1/standard deviation (population) of the rows of x;
// a constant feature gets a scale of 1 (it becomes 0 once centred).
struct Standardizer {
    std::vector<double> mean, inv_std;
    static Standardizer fit(std::span<const double> x, int n_features);
    // (x - mean) * inv_std, in place.
    void apply(std::span<double> x) const;
};

}  // namespace slim
