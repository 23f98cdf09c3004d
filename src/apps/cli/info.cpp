// `slim info MODEL.gguf [--json] [--all]`: what a GGUF file holds.
#include <fmt/format.h>

#include <memory>

#include "apps/cli/commands.h"
#include "apps/cli/common.h"
#include "format/gguf.h"
#include "tools/model_info.h"

namespace slim::cli {

namespace {

using json = nlohmann::ordered_json;

std::string human_count(double n) {
    if (n >= 1e9) return fmt::format("{:.2f} B", n / 1e9);
    if (n >= 1e6) return fmt::format("{:.2f} M", n / 1e6);
    if (n >= 1e3) return fmt::format("{:.2f} K", n / 1e3);
    return fmt::format("{:.0f}", n);
}

// One line for a metadata value: scalars and short arrays as JSON, long
// arrays as "[N x type] head, ...".
std::string value_text(const json& v) {
    if (v.is_object() && v.value("type", "") == "array") {
        std::string head;
        for (const json& item : v["head"]) head += (head.empty() ? "" : ", ") + item.dump();
        return fmt::format("[{} x {}] {}, ...", v["count"].get<uint64_t>(),
                           v["elem_type"].get<std::string>(), head);
    }
    return v.dump();
}

void print_text(const json& info, bool all_tensors) {
    fmt::print("file:            {}\n", info["file"].get<std::string>());
    fmt::print("size:            {} ({} bytes), GGUF v{}, alignment {}\n",
               human_bytes(info["file_size"].get<double>()), info["file_size"].get<uint64_t>(),
               info["version"].get<uint32_t>(), info["alignment"].get<uint32_t>());
    fmt::print("architecture:    {}\n", info["architecture"].get<std::string>());
    fmt::print("name:            {}\n", info["name"].get<std::string>());
    fmt::print("parameters:      {} ({})\n", human_count(info["n_parameters"].get<double>()),
               info["n_parameters"].get<uint64_t>());
    fmt::print("tensor data:     {}, {:.2f} bits per weight\n",
               human_bytes(info["n_tensor_bytes"].get<double>()),
               info["bits_per_weight"].get<double>());

    const json& hp = info["hyperparameters"];
    if (!hp.empty()) {
        fmt::print("\nhyper-parameters\n");
        for (auto& [k, v] : hp.items()) fmt::print("  {:<40} {}\n", k, value_text(v));
    }

    fmt::print("\nmetadata ({} keys)\n", info["metadata"].size());
    for (auto& [k, v] : info["metadata"].items()) fmt::print("  {:<40} {}\n", k, value_text(v));

    const json& tensors = info["tensors"];
    if (!tensors.empty()) {
        fmt::print("\ntensors ({})\n", tensors.size());
        fmt::print("  {:>5}  {:<40} {:<8} {:<24} {:>12}\n", "#", "name", "type", "shape", "bytes");
        // Long tables are cut in the middle unless --all: the first and last
        // layers tell the shapes, the middle repeats them.
        size_t n = tensors.size(), head = all_tensors ? n : 24, tail = all_tensors ? 0 : 8;
        for (size_t i = 0; i < n; ++i) {
            if (!all_tensors && n > head + tail && i == head) {
                fmt::print("  {:>5}  ... {} more (--all shows every tensor)\n", "",
                           n - head - tail);
                i = n - tail - 1;
                continue;
            }
            const json& t = tensors[i];
            std::string shape;
            for (const json& d : t["shape"]) shape += (shape.empty() ? "" : " x ") + d.dump();
            fmt::print("  {:>5}  {:<40} {:<8} {:<24} {:>12}\n", i, t["name"].get<std::string>(),
                       t["type"].get<std::string>(), shape, t["bytes"].get<uint64_t>());
        }
        fmt::print("\ntotals per type\n");
        fmt::print("  {:<8} {:>8} {:>16} {:>14} {:>7}\n", "type", "tensors", "parameters", "bytes",
                   "bpw");
        for (auto& [type, t] : info["types"].items()) {
            double params = t["parameters"].get<double>(), bytes = t["bytes"].get<double>();
            fmt::print("  {:<8} {:>8} {:>16} {:>14} {:>7.2f}\n", type, t["tensors"].get<uint64_t>(),
                       t["parameters"].get<uint64_t>(), human_bytes(bytes), 8 * bytes / params);
        }
    }
}

}  // namespace

void add_info_command(CLI::App& app) {
    struct Options {
        std::string model;
        bool json = false;
        bool all = false;
    };
    auto opts = std::make_shared<Options>();
    CLI::App* cmd = app.add_subcommand("info", "Describe a GGUF file: metadata, tensors, sizes");
    cmd->add_option("model", opts->model, "GGUF file")->required();
    cmd->add_flag("--json", opts->json, "Print one JSON document instead of text");
    cmd->add_flag("--all", opts->all, "List every tensor (text output)");
    cmd->callback([opts] {
        GgufFile file = GgufFile::open(opts->model);
        json info = model_info(file);
        if (opts->json) {
            fmt::print("{}\n", info.dump(2));
        } else {
            print_text(info, opts->all);
        }
    });
}

}  // namespace slim::cli
