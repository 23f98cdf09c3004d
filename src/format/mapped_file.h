// A read-only memory map of a whole file. Weights are used in place from the
// map; nothing reads a model file into RAM.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace slim {

class MappedFile {
  public:
    // Throws Error(io) when the file cannot be opened, stat'ed or mapped.
    explicit MappedFile(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace slim
