// Runs a command line through the shell and captures what it printed, for
// tests of the `slim` binary as a user calls it.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace slim::test {

struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

inline std::string read_file_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline CommandResult run_command(const std::string& command) {
    static int counter = 0;
    std::filesystem::path err_path =
        std::filesystem::temp_directory_path() /
        ("slim-test-stderr-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    CommandResult r;
    std::string full = command + " 2>" + err_path.string();
    FILE* pipe = ::popen(full.c_str(), "r");
    if (!pipe) return r;
    std::array<char, 65536> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
    int status = ::pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.err = read_file_text(err_path);
    std::filesystem::remove(err_path);
    return r;
}

}  // namespace slim::test
