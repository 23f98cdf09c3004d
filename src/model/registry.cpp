#include "model/registry.h"

#include <fmt/format.h>

#include "format/error.h"

namespace slim {

namespace {

struct Family {
    const char* arch;
    ModelLoader load;
};

// Adding a family: its file, and one line here.
constexpr Family kFamilies[] = {
    {"llama", load_llama},
    {"qwen2", load_qwen2},
    {"gemma3", load_gemma3},
};

}  // namespace

std::vector<std::string> known_architectures() {
    std::vector<std::string> names;
    for (const Family& f : kFamilies) names.emplace_back(f.arch);
    return names;
}

std::unique_ptr<Model> load_model(const GgufFile& file, Backend& backend, int max_batch) {
    std::optional<std::string_view> arch = file.get_string("general.architecture");
    if (!arch) {
        throw Error(ErrorKind::bad_value, file.path(), "general.architecture", std::nullopt,
                    "an architecture name", "none (key missing)");
    }
    for (const Family& f : kFamilies) {
        if (*arch == f.arch) return f.load(file, backend, max_batch);
    }
    throw Error(ErrorKind::unsupported, file.path(), "general.architecture", std::nullopt,
                fmt::format("one of: {}", fmt::join(known_architectures(), ", ")),
                std::string(*arch));
}

}  // namespace slim
