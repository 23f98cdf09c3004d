// Splitting a text file into lines, shared by the verbs that read one item
// per line (embed, mc).
#pragma once

#include <string_view>
#include <vector>

namespace slim {

// The lines of a text: "\n" or "\r\n" ends a line, a final line without one
// counts, and a final newline does not start an empty line. Empty lines
// inside the text are kept. The views point into `text`.
inline std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t begin = 0;
    while (begin < text.size()) {
        size_t end = text.find('\n', begin);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(begin, end - begin);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        begin = end + 1;
    }
    return lines;
}

}  // namespace slim
