// Paths the tests read from, fixed at configure time.
#pragma once

#include <filesystem>
#include <string>

namespace slim::test {

inline std::filesystem::path testdata_dir() {
    return SLIM_TESTDATA_DIR;
}
inline std::filesystem::path vocab_dir() {
    return testdata_dir() / "vocab";
}
inline std::filesystem::path models_dir() {
    return SLIM_MODELS_DIR;
}
inline std::filesystem::path reference_dir() {
    return SLIM_REFERENCE_DIR;
}
inline std::filesystem::path slim_binary() {
    return SLIM_BINARY;
}
// The checkout: committed inputs such as the fuzz corpora in tests/fuzz/corpus/.
inline std::filesystem::path source_dir() {
    return SLIM_SOURCE_DIR;
}

// The two real models scripts/get-models.sh puts into models/.
inline std::filesystem::path default_model() {
    return models_dir() / "gemma-3-270m-Q4_K_M.gguf";
}
inline std::filesystem::path smollm2_model() {
    return models_dir() / "SmolLM2-135M-Instruct-Q4_1.gguf";
}

}  // namespace slim::test
