#include "apps/cli/common.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

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

size_t peak_rss_bytes() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return size_t(usage.ru_maxrss) * 1024;
}

size_t current_rss_bytes() {
    // statm's second field: resident pages.
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    const int n = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return n == 2 ? size_t(resident) * size_t(sysconf(_SC_PAGESIZE)) : 0;
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

}  // namespace slim::cli
