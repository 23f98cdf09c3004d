#include "apps/cli/common.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <vector>

#include "format/error.h"
#include "format/gguf.h"

namespace slim::cli {

std::string default_model_path() {
    const char* kFile = "gemma-3-270m-Q4_K_M.gguf";
    std::vector<std::filesystem::path> candidates;
    if (const char* env = std::getenv("SLIM_MODEL"); env && *env) candidates.emplace_back(env);
    candidates.push_back(std::filesystem::path("models") / kFile);
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back(exe.parent_path().parent_path().parent_path() / "models" / kFile);
    for (const auto& c : candidates) {
        if (std::filesystem::exists(c, ec)) return c.string();
    }
    return candidates.front().string();
}

std::string default_data_dir() {
    std::vector<std::filesystem::path> candidates;
    if (const char* env = std::getenv("SLIM_DATA_DIR"); env && *env) candidates.emplace_back(env);
    candidates.push_back(std::filesystem::path("..") / "shared" / "testdata" / "eval");
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        // build/release/slim -> the checkout -> shared/ beside it.
        candidates.push_back(exe.parent_path().parent_path().parent_path().parent_path() /
                             "shared" / "testdata" / "eval");
    }
    for (const auto& c : candidates) {
        if (std::filesystem::is_directory(c, ec)) return c.string();
    }
    return candidates.front().string();
}

std::string model_name(const GgufFile& file, const std::string& path) {
    std::optional<std::string_view> name = file.get_string("general.name");
    const std::string base = std::filesystem::path(path).filename().string();
    return name && !name->empty() ? fmt::format("{} ({})", *name, base) : base;
}

std::string human_bytes(double n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (n >= 1024 && u < 4) {
        n /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{:.0f} B", n) : fmt::format("{:.2f} {}", n, units[u]);
}

std::string format_duration(double seconds) {
    const long s = std::lround(std::max(0.0, seconds));
    if (s >= 3600) return fmt::format("{}h{:02}m{:02}s", s / 3600, (s / 60) % 60, s % 60);
    if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
    return fmt::format("{}s", s);
}

ProgressBar::ProgressBar(std::string unit)
    : unit_(std::move(unit)), tty_(::isatty(STDERR_FILENO) != 0) {}

void ProgressBar::update(int done, int total, double seconds, const std::string& status,
                         double work_done) {
    const double eta = work_done > 0 && work_done <= 1 ? seconds / work_done * (1 - work_done)
                       : done > 0                      ? seconds / done * (total - done)
                                                       : 0.0;
    constexpr int kWidth = 30;
    const int filled = total > 0 ? int(int64_t(done) * kWidth / total) : kWidth;
    const double per = done > 0 ? seconds / done : 0.0;
    const std::string rate =
        per >= 0.1 || per == 0 ? fmt::format("{:.1f} s/{}", per, unit_.substr(0, unit_.size() - 1))
                               : fmt::format("{:.1f} {}/s", 1 / per, unit_);
    fmt::print(stderr, "{}[{}{}] {}/{} {}  {}  {}  ETA {}{}", tty_ ? "\r" : "",
               std::string(size_t(filled), '#'), std::string(size_t(kWidth - filled), '.'), done,
               total, unit_, status, rate, format_duration(eta), tty_ && done < total ? "" : "\n");
    std::fflush(stderr);
}

void check_trained_context(const GgufFile& file, int64_t n_ctx, const std::string& flag) {
    std::optional<std::string_view> arch = file.get_string("general.architecture");
    if (!arch) return;  // load_model reports it
    std::optional<int64_t> n_ctx_train = file.get_i64(fmt::format("{}.context_length", *arch));
    if (n_ctx_train && *n_ctx_train > 0 && n_ctx > *n_ctx_train) {
        throw Error(ErrorKind::invalid_argument, file.path(), flag, std::nullopt,
                    fmt::format("at most the model's trained context of {} tokens", *n_ctx_train),
                    std::to_string(n_ctx));
    }
}

}  // namespace slim::cli
