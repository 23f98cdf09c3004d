#include "format/error.h"

#include <fmt/format.h>

namespace slim {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::io:
            return "io";
        case ErrorKind::truncated:
            return "truncated";
        case ErrorKind::bad_magic:
            return "bad_magic";
        case ErrorKind::unsupported:
            return "unsupported";
        case ErrorKind::bad_value:
            return "bad_value";
        case ErrorKind::bad_type:
            return "bad_type";
        case ErrorKind::too_large:
            return "too_large";
        case ErrorKind::out_of_range:
            return "out_of_range";
        case ErrorKind::misaligned:
            return "misaligned";
        case ErrorKind::overlap:
            return "overlap";
        case ErrorKind::duplicate:
            return "duplicate";
        case ErrorKind::invalid_argument:
            return "invalid_argument";
    }
    return "unknown";
}

static std::string format_message(const std::string& file, const std::string& field,
                                  std::optional<uint64_t> offset, const std::string& expected,
                                  const std::string& found) {
    std::string msg = file.empty() ? std::string() : file + ": ";
    msg += field;
    if (offset) msg += fmt::format(" (byte {})", *offset);
    msg += fmt::format(": expected {}", expected);
    if (!found.empty()) msg += fmt::format(", found {}", found);
    return msg;
}

Error::Error(ErrorKind kind, std::string file, std::string field, std::optional<uint64_t> offset,
             std::string expected, std::string found)
    : std::runtime_error(format_message(file, field, offset, expected, found)),
      kind_(kind),
      file_(std::move(file)),
      field_(std::move(field)),
      offset_(offset),
      expected_(std::move(expected)),
      found_(std::move(found)) {}

}  // namespace slim
