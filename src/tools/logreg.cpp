#include "tools/logreg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

#include "format/error.h"

namespace slim {

namespace {

// The objective and its gradient at theta = [W (C x D, row-major), b (C)].
class Objective {
  public:
    Objective(std::span<const double> x, std::span<const int> y, int n_classes, int n_features,
              double l2)
        : x_(x), y_(y), c_(size_t(n_classes)), d_(size_t(n_features)), l2_(l2) {}

    size_t size() const { return c_ * d_ + c_; }

    double operator()(std::span<const double> theta, std::vector<double>& grad) const {
        const size_t n = y_.size();
        grad.assign(size(), 0.0);
        const double* w = theta.data();
        const double* b = theta.data() + c_ * d_;
        double* gw = grad.data();
        double* gb = grad.data() + c_ * d_;
        std::vector<double> z(c_);
        double loss = 0;
        for (size_t i = 0; i < n; ++i) {
            const double* xi = x_.data() + i * d_;
            double zmax = -std::numeric_limits<double>::infinity();
            for (size_t c = 0; c < c_; ++c) {
                double s = b[c];
                const double* wc = w + c * d_;
                for (size_t j = 0; j < d_; ++j) s += wc[j] * xi[j];
                z[c] = s;
                zmax = std::max(zmax, s);
            }
            double sum = 0;
            for (size_t c = 0; c < c_; ++c) sum += std::exp(z[c] - zmax);
            const double lse = zmax + std::log(sum);
            loss += lse - z[size_t(y_[i])];
            // d loss_i / d z_c = p_c - [c == y_i]
            for (size_t c = 0; c < c_; ++c) {
                const double r = std::exp(z[c] - lse) - (c == size_t(y_[i]) ? 1.0 : 0.0);
                gb[c] += r;
                double* gwc = gw + c * d_;
                for (size_t j = 0; j < d_; ++j) gwc[j] += r * xi[j];
            }
        }
        const double inv_n = 1.0 / double(n);
        double penalty = 0;
        for (size_t k = 0; k < c_ * d_; ++k) {
            grad[k] = grad[k] * inv_n + l2_ * w[k];
            penalty += w[k] * w[k];
        }
        for (size_t c = 0; c < c_; ++c) gb[c] *= inv_n;
        return loss * inv_n + 0.5 * l2_ * penalty;
    }

  private:
    std::span<const double> x_;
    std::span<const int> y_;
    size_t c_, d_;
    double l2_;
};

double dot(std::span<const double> a, std::span<const double> b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}

double max_abs(std::span<const double> a) {
    double m = 0;
    for (double v : a) m = std::max(m, std::abs(v));
    return m;
}

}  // namespace

LogRegFit logreg_train(std::span<const double> x, std::span<const int> y, int n_classes,
                       int n_features, const LogRegOptions& options) {
    if (n_classes < 2) {
        throw Error(ErrorKind::invalid_argument, "", "n_classes", std::nullopt,
                    "at least two classes", std::to_string(n_classes));
    }
    if (n_features <= 0 || y.empty() || x.size() != y.size() * size_t(n_features)) {
        throw Error(ErrorKind::invalid_argument, "", "x", std::nullopt,
                    fmt::format("{} rows of {} features", y.size(), n_features),
                    fmt::format("{} values", x.size()));
    }
    if (!(options.l2 >= 0)) {
        throw Error(ErrorKind::invalid_argument, "", "l2", std::nullopt, "a penalty >= 0",
                    fmt::format("{}", options.l2));
    }
    for (size_t i = 0; i < y.size(); ++i) {
        if (y[i] < 0 || y[i] >= n_classes) {
            throw Error(ErrorKind::invalid_argument, "", fmt::format("y[{}]", i), std::nullopt,
                        fmt::format("a class in [0, {})", n_classes), std::to_string(y[i]));
        }
    }

    const Objective f(x, y, n_classes, n_features, options.l2);
    const size_t m = f.size();
    std::vector<double> theta(m, 0.0), grad, trial(m), trial_grad, dir(m);
    double loss = f(theta, grad);

    // Two-loop recursion state: the last `history` pairs (s, y) with rho = 1 / s.y.
    struct Pair {
        std::vector<double> s, y;
        double rho;
    };
    std::deque<Pair> pairs;
    std::vector<double> alpha;

    LogRegFit fit;
    int it = 0;
    for (; it < options.max_iterations; ++it) {
        if (max_abs(grad) <= options.tolerance) break;
        // dir = -H grad
        for (size_t k = 0; k < m; ++k) dir[k] = -grad[k];
        alpha.assign(pairs.size(), 0.0);
        for (size_t p = pairs.size(); p-- > 0;) {
            alpha[p] = pairs[p].rho * dot(pairs[p].s, dir);
            for (size_t k = 0; k < m; ++k) dir[k] -= alpha[p] * pairs[p].y[k];
        }
        if (!pairs.empty()) {
            const Pair& last = pairs.back();
            const double gamma = 1.0 / (last.rho * dot(last.y, last.y));
            for (double& v : dir) v *= gamma;
        }
        for (size_t p = 0; p < pairs.size(); ++p) {
            const double beta = pairs[p].rho * dot(pairs[p].y, dir);
            for (size_t k = 0; k < m; ++k) dir[k] += (alpha[p] - beta) * pairs[p].s[k];
        }
        double slope = dot(grad, dir);
        if (!(slope < 0)) {  // not a descent direction: restart from steepest descent
            pairs.clear();
            for (size_t k = 0; k < m; ++k) dir[k] = -grad[k];
            slope = dot(grad, dir);
        }
        // The first step (no curvature yet) is scaled to unit length.
        double step = pairs.empty() ? std::min(1.0, 1.0 / std::sqrt(-slope)) : 1.0;
        double trial_loss = 0;
        bool accepted = false;
        for (int halvings = 0; halvings < 60; ++halvings, step *= 0.5) {
            for (size_t k = 0; k < m; ++k) trial[k] = theta[k] + step * dir[k];
            trial_loss = f(trial, trial_grad);
            if (trial_loss <= loss + 1e-4 * step * slope) {
                accepted = true;
                break;
            }
        }
        if (!accepted) break;  // no decrease left at double precision
        Pair p{std::vector<double>(m), std::vector<double>(m), 0.0};
        for (size_t k = 0; k < m; ++k) {
            p.s[k] = trial[k] - theta[k];
            p.y[k] = trial_grad[k] - grad[k];
        }
        const double sy = dot(p.s, p.y);
        if (sy > 1e-12 * std::sqrt(dot(p.s, p.s) * dot(p.y, p.y))) {
            p.rho = 1.0 / sy;
            pairs.push_back(std::move(p));
            if (int(pairs.size()) > options.history) pairs.pop_front();
        }
        theta.swap(trial);
        grad.swap(trial_grad);
        loss = trial_loss;
    }

    fit.iterations = it;
    fit.loss = loss;
    fit.gradient_max = max_abs(grad);
    fit.converged = fit.gradient_max <= options.tolerance;
    LogRegModel& model = fit.model;
    model.n_classes = n_classes;
    model.n_features = n_features;
    const size_t cd = size_t(n_classes) * size_t(n_features);
    model.weight.assign(theta.begin(), theta.begin() + ptrdiff_t(cd));
    model.bias.assign(theta.begin() + ptrdiff_t(cd), theta.end());
    return fit;
}

void logreg_probabilities(const LogRegModel& model, std::span<const double> x,
                          std::vector<double>& probs) {
    const size_t c_n = size_t(model.n_classes), d = size_t(model.n_features);
    const size_t n = d > 0 ? x.size() / d : 0;
    probs.assign(n * c_n, 0.0);
    for (size_t i = 0; i < n; ++i) {
        double* p = probs.data() + i * c_n;
        double zmax = -std::numeric_limits<double>::infinity();
        for (size_t c = 0; c < c_n; ++c) {
            double s = model.bias[c];
            for (size_t j = 0; j < d; ++j) s += model.weight[c * d + j] * x[i * d + j];
            p[c] = s;
            zmax = std::max(zmax, s);
        }
        double sum = 0;
        for (size_t c = 0; c < c_n; ++c) sum += (p[c] = std::exp(p[c] - zmax));
        for (size_t c = 0; c < c_n; ++c) p[c] /= sum;
    }
}

Standardizer Standardizer::fit(std::span<const double> x, int n_features) {
    const size_t d = size_t(n_features);
    const size_t n = d > 0 ? x.size() / d : 0;
    Standardizer s;
    s.mean.assign(d, 0.0);
    s.inv_std.assign(d, 1.0);
    if (n == 0) return s;
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d; ++j) s.mean[j] += x[i * d + j];
    for (double& v : s.mean) v /= double(n);
    std::vector<double> var(d, 0.0);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d; ++j) {
            const double t = x[i * d + j] - s.mean[j];
            var[j] += t * t;
        }
    for (size_t j = 0; j < d; ++j) {
        const double sd = std::sqrt(var[j] / double(n));
        if (sd > 0) s.inv_std[j] = 1.0 / sd;
    }
    return s;
}

void Standardizer::apply(std::span<double> x) const {
    const size_t d = mean.size();
    for (size_t i = 0; d > 0 && i < x.size() / d; ++i)
        for (size_t j = 0; j < d; ++j) x[i * d + j] = (x[i * d + j] - mean[j]) * inv_std[j];
}

}  // namespace slim
