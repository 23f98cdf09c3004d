// Typed errors for input from outside the program: files, requests, flags.
//
// Every error names where the bad input is (file, field path such as
// `tensor[12].offset`, byte offset) and what was expected versus found, so a
// user can fix the file and a test can assert exactly which check fired.
// Nothing in slim answers bad input with abort(), exit() or assert().
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace slim {

enum class ErrorKind {
    io,                // the OS refused: open, stat, mmap, write, rename
    truncated,         // the input ends before a field it must contain
    bad_magic,         // not the file format we were asked to read
    unsupported,       // a well-formed input we do not handle (version, type)
    bad_value,         // a field holds a value outside its allowed set
    bad_type,          // a field has the wrong type (a known key with a wrong value type)
    too_large,         // a count, length or product cannot fit the input or overflows
    out_of_range,      // an offset or index points outside what it refers to
    misaligned,        // an offset is not a multiple of the required alignment
    overlap,           // two regions that must be disjoint overlap
    duplicate,         // a name that must be unique appears twice
    invalid_argument,  // a bad flag or request parameter
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, std::string file, std::string field, std::optional<uint64_t> offset,
          std::string expected, std::string found);

    ErrorKind kind() const { return kind_; }
    const std::string& file() const { return file_; }
    const std::string& field() const { return field_; }
    std::optional<uint64_t> offset() const { return offset_; }
    const std::string& expected() const { return expected_; }
    const std::string& found() const { return found_; }

  private:
    ErrorKind kind_;
    std::string file_;
    std::string field_;
    std::optional<uint64_t> offset_;
    std::string expected_;
    std::string found_;
};

}  // namespace slim
