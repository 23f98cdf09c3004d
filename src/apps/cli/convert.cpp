// `slim convert HF_DIR -o model.gguf [--type f32|f16|q8_0]`: a Hugging Face
// model folder to GGUF (src/tools/convert.h).
#include <fmt/format.h>

#include <memory>

#include "apps/cli/commands.h"
#include "tools/convert.h"

namespace slim::cli {

void add_convert_command(CLI::App& app) {
    struct Options {
        std::string hf_dir;
        std::string out;
        std::string type = "f16";
    };
    auto opts = std::make_shared<Options>();
    CLI::App* cmd = app.add_subcommand(
        "convert", "Convert a Hugging Face folder (config.json, tokenizer, *.safetensors) to GGUF");
    cmd->add_option("hf_dir", opts->hf_dir, "Hugging Face model folder")->required();
    cmd->add_option("-o,--output", opts->out, "GGUF file to write")->required();
    cmd->add_option("--type", opts->type, "Type of the weight matrices: f32, f16 or q8_0")
        ->capture_default_str();
    cmd->callback([opts] {
        ConvertOptions o;
        o.hf_dir = opts->hf_dir;
        o.out = opts->out;
        o.type = convert_type_from_name(opts->type);
        o.progress = [](size_t i, size_t n, const std::string& name, GgmlType type) {
            fmt::print(stderr, "[{:>4}/{}] {:<32} {}\n", i + 1, n, name, ggml_type_name(type));
        };
        const ConvertReport r = convert_hf(o);
        fmt::print(stderr, "wrote {}: {} ({} tensors, {} parameters, {} bytes of tensor data)\n",
                   opts->out, r.architecture, r.n_tensors, r.n_parameters, r.n_bytes);
    });
}

}  // namespace slim::cli
