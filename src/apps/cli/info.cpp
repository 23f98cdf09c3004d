// `slim info MODEL.gguf [--json]`
#include "apps/cli/commands.h"

namespace slim::cli {

void add_info_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("info", "Describe a GGUF file: metadata, tensors, sizes");
    (void)cmd;
}

}  // namespace slim::cli
