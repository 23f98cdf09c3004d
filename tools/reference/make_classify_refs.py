#!/usr/bin/env python3
"""scikit-learn's L2-regularised logistic regression on small fixed data sets,
for tests/tools/logreg_test.cpp (slim's softmax regression, src/tools/logreg.h),
and its classification metrics for tests/tools/classify_test.cpp.

slim minimises (1/n) sum_i cross-entropy_i + (l2/2) ||W||^2 with the bias
unpenalised. scikit-learn's LogisticRegression minimises
C sum_i cross-entropy_i + (1/2) ||W||^2; dividing by n C shows that C = 1/(n l2)
gives the same optimum for the multinomial model (three or more classes).
For two classes scikit-learn fits one sigmoid vector w, bias b: slim's softmax
optimum is then W_1 = -W_0 = w/2 (the penalty makes the rows sum to zero),
whose penalty (l2/2)(|W_0|^2 + |W_1|^2) = (l2/4)|w|^2 matches C = 2/(n l2), and
b_1 - b_0 = b. Softmax biases are only defined up to a common constant, so the
file stores them centred (summing to zero).

scikit-learn's lbfgs stops at a gradient of about 1e-8 (its ftol), which
leaves weights 1e-5 from the optimum when the penalty is weak; so its solution
is polished with Newton steps in numpy (the exact Hessian of this small
problem, solved by least squares because the biases' common shift is a flat
direction) until the gradient is below 1e-12. The file records both
gradients; the polished weights are within 1e-4 of scikit-learn's.

Output: tests/reference/classify/logreg.json with, per case, the training rows
x (n x d, row-major), labels y, l2, the optimum weight (C x d) and centred
bias, and the probabilities scikit-learn gives for a few other rows x_test;
and "metrics": random true and predicted labels over 4 classes (class 3 never
predicted) with scikit-learn's confusion matrix, accuracy, macro-F1 and
per-class precision, recall and F1 (zero_division=0).

Test-only: needs numpy and scikit-learn.
"""
import json
from pathlib import Path

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

OUT = Path(__file__).resolve().parents[2] / "tests" / "reference" / "classify" / "logreg.json"


def make_data(rng, n, d, n_classes):
    centres = rng.normal(0.0, 1.5, size=(n_classes, d))
    y = np.arange(n) % n_classes
    x = centres[y] + rng.normal(0.0, 1.0, size=(n, d))
    return x, y


def fit(x, y, n_classes, l2):
    n = len(y)
    c = (1.0 / (n * l2)) if n_classes > 2 else (2.0 / (n * l2))
    model = LogisticRegression(C=c, solver="lbfgs", tol=1e-14, max_iter=100000)
    model.fit(x, y)
    if n_classes > 2:
        w = model.coef_
        b = model.intercept_ - model.intercept_.mean()
    else:
        w = np.stack([-model.coef_[0] / 2, model.coef_[0] / 2])
        b = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
    return model, w, b


def softmax(z):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def gradient(x, y, w, b, l2):
    n, n_classes = len(y), w.shape[0]
    r = softmax(x @ w.T + b) - np.eye(n_classes)[y]
    return np.concatenate([(r.T @ x / n + l2 * w).ravel(), r.mean(axis=0)])


def newton_polish(x, y, w, b, l2):
    n, d = x.shape
    n_classes = w.shape[0]
    xb = np.hstack([x, np.ones((n, 1))])  # the bias as a last feature
    for _ in range(20):
        g = gradient(x, y, w, b, l2)
        if np.abs(g).max() < 1e-13:
            break
        p = softmax(x @ w.T + b)
        # Hessian over theta = [W (C x d) row-major, b (C)], via the (C(d+1))
        # layout [class c: w_c, b_c], then permuted.
        h = np.zeros((n_classes * (d + 1), n_classes * (d + 1)))
        for c in range(n_classes):
            for k in range(n_classes):
                coef = p[:, c] * ((c == k) - p[:, k])
                h[c * (d + 1):(c + 1) * (d + 1), k * (d + 1):(k + 1) * (d + 1)] = (xb.T * coef) @ xb / n
        for c in range(n_classes):
            idx = np.arange(c * (d + 1), c * (d + 1) + d)
            h[idx, idx] += l2
        order = [c * (d + 1) + j for c in range(n_classes) for j in range(d)] + [c * (d + 1) + d for c in range(n_classes)]
        h = h[np.ix_(order, order)]
        step = np.linalg.lstsq(h, g, rcond=None)[0]
        theta = np.concatenate([w.ravel(), b]) - step
        w = theta[: n_classes * d].reshape(n_classes, d)
        b = theta[n_classes * d:]
    return w, b - b.mean(), float(np.abs(gradient(x, y, w, b, l2)).max())


def main():
    rng = np.random.default_rng(20261125)
    cases = []
    for name, n, d, n_classes, l2 in [
        ("three-classes", 90, 5, 3, 0.05),
        ("five-classes-weak-penalty", 120, 7, 5, 0.002),
        ("two-classes", 60, 4, 2, 0.1),
    ]:
        x, y = make_data(rng, n, d, n_classes)
        x_test, _ = make_data(rng, 8, d, n_classes)
        model, w0, b0 = fit(x, y, n_classes, l2)
        sklearn_gradient = float(np.abs(gradient(x, y, w0, b0, l2)).max())
        w, b, polished_gradient = newton_polish(x, y, w0, b0, l2)
        assert polished_gradient < 1e-12, polished_gradient
        assert np.abs(w - w0).max() < 1e-4 and np.abs(b - b0).max() < 1e-4
        probs = softmax(x_test @ w.T + b)
        assert np.abs(probs - model.predict_proba(x_test)).max() < 1e-5
        cases.append({
            "name": name,
            "sklearn_gradient_max": sklearn_gradient,
            "polished_gradient_max": polished_gradient,
            "n": n, "d": d, "n_classes": n_classes, "l2": l2,
            "x": [float(v) for v in x.ravel()],
            "y": [int(v) for v in y],
            "weight": [float(v) for v in w.ravel()],
            "bias": [float(v) for v in b],
            "x_test": [float(v) for v in x_test.ravel()],
            "probabilities": [float(v) for v in probs.ravel()],
        })
    y_true = rng.integers(0, 4, size=50)
    y_pred = np.where(rng.random(50) < 0.6, y_true, rng.integers(0, 3, size=50))
    y_pred[y_pred == 3] = 0
    labels = [0, 1, 2, 3]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    metrics = {
        "confusion": [int(v) for v in confusion_matrix(y_true, y_pred, labels=labels).ravel()],
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "precision": [float(v) for v in p],
        "recall": [float(v) for v in r],
        "f1": [float(v) for v in f],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "generator": "tools/reference/make_classify_refs.py",
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "cases": cases,
        "metrics": metrics,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
