// Each verb of `slim` lives in its own file and adds itself to the app here.
#pragma once

#include <CLI/CLI.hpp>

namespace slim::cli {

void add_info_command(CLI::App& app);
void add_tokenize_commands(CLI::App& app);  // tokenize, detokenize
void add_run_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_kld_command(CLI::App& app);
void add_mc_command(CLI::App& app);
void add_convert_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_niah_command(CLI::App& app);
void add_classify_command(CLI::App& app);

}  // namespace slim::cli
