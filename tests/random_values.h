// Random inputs for the kernel tests: deterministic for a seeded generator.
#pragma once

#include <random>
#include <vector>

namespace slim::test {

// n draws of N(0, 1).
inline std::vector<float> normal_floats(size_t n, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = normal(rng);
    return v;
}

}  // namespace slim::test
