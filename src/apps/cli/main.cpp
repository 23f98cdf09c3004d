// `slim <verb>`: the one command-line entry point.
#include <cstdio>
#include <exception>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "apps/cli/commands.h"
#include "format/error.h"
#include "slim/version.h"

int main(int argc, char** argv) {
    CLI::App app{"slim: run, measure, quantize and serve small language models"};
    app.set_version_flag("--version",
                         fmt::format("slim {} ({})", slim::kVersion, slim::kGitCommit));
    app.require_subcommand(1);
    slim::cli::add_info_command(app);
    slim::cli::add_tokenize_commands(app);
    slim::cli::add_run_command(app);
    slim::cli::add_perplexity_command(app);
    slim::cli::add_kld_command(app);
    slim::cli::add_mc_command(app);
    slim::cli::add_convert_command(app);
    slim::cli::add_bench_command(app);
    slim::cli::add_embed_command(app);
    slim::cli::add_niah_command(app);
    slim::cli::add_classify_command(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const slim::Error& e) {
        fmt::print(stderr, "slim: error: {}\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "slim: error: {}\n", e.what());
        return 1;
    }
    return 0;
}
