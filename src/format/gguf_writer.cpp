// GGUF writer. Lays the file out the way llama.cpp and gguf-py do (header,
// key/values, tensor infos, padding to the alignment, then each tensor's data
// padded to the alignment), so a file read and written back is byte-identical.
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>

#include "format/error.h"
#include "format/gguf.h"

namespace slim {

namespace {

using Sink = std::function<void(const void*, size_t)>;

class Encoder {
  public:
    explicit Encoder(Sink sink) : sink_(std::move(sink)) {}

    uint64_t written() const { return written_; }

    void bytes(const void* p, size_t n) {
        if (n == 0) return;
        sink_(p, n);
        written_ += n;
    }
    template <class T>
    void pod(T v) {
        bytes(&v, sizeof(v));
    }
    void string(std::string_view s) {
        pod<uint64_t>(s.size());
        bytes(s.data(), s.size());
    }
    void zeros(size_t n) {
        static const uint8_t kZeros[256] = {};
        while (n > 0) {
            size_t k = std::min(n, sizeof(kZeros));
            bytes(kZeros, k);
            n -= k;
        }
    }
    void pad_to(uint64_t alignment) { zeros((alignment - written_ % alignment) % alignment); }

    void array(const GgufArray& a) {
        pod<uint32_t>(static_cast<uint32_t>(a.elem_type));
        pod<uint64_t>(a.count);
        if (a.elem_type == GgufType::string) {
            for (std::string_view s : a.strings) string(s);
        } else if (a.elem_type == GgufType::array) {
            for (const GgufArray& inner : a.arrays) array(inner);
        } else {
            bytes(a.scalars, a.count * gguf_scalar_size(a.elem_type));
        }
    }
    void value(const GgufValue& v) {
        if (auto s = v.as_string()) {
            string(*s);
        } else if (const GgufArray* a = v.as_array()) {
            array(*a);
        } else {
            bytes(v.raw(), gguf_scalar_size(v.type()));
        }
    }

  private:
    Sink sink_;
    uint64_t written_ = 0;
};

uint32_t alignment_of(const GgufContents& contents) {
    for (const auto& [key, value] : contents.kvs) {
        if (key != "general.alignment") continue;
        std::optional<uint64_t> a = value.as_u64();
        if (value.type() != GgufType::u32 || !a || *a == 0 || (*a & (*a - 1)) != 0) {
            throw Error(ErrorKind::invalid_argument, "", "general.alignment", std::nullopt,
                        "a u32 power of two", gguf_type_name(value.type()));
        }
        return uint32_t(*a);
    }
    return 32;
}

void check_array_count(const GgufArray& a, std::string_view key) {
    size_t n = a.elem_type == GgufType::string  ? a.strings.size()
               : a.elem_type == GgufType::array ? a.arrays.size()
                                                : a.count;
    if (n != a.count) {
        throw Error(ErrorKind::invalid_argument, "", std::string(key), std::nullopt,
                    fmt::format("{} elements", a.count), std::to_string(n));
    }
    for (const GgufArray& inner : a.arrays) check_array_count(inner, key);
}

void encode(const GgufContents& contents, Encoder& enc) {
    uint32_t alignment = alignment_of(contents);
    for (const auto& [key, value] : contents.kvs) {
        if (const GgufArray* a = value.as_array()) check_array_count(*a, key);
    }
    enc.bytes("GGUF", 4);
    enc.pod<uint32_t>(contents.version);
    enc.pod<uint64_t>(contents.tensors.size());
    enc.pod<uint64_t>(contents.kvs.size());
    for (const auto& [key, value] : contents.kvs) {
        enc.string(key);
        enc.pod<uint32_t>(static_cast<uint32_t>(value.type()));
        enc.value(value);
    }
    uint64_t offset = 0;
    for (const GgufTensorToWrite& t : contents.tensors) {
        GgmlTypeTraits traits = ggml_type_traits(t.type);
        uint64_t n_elements = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) n_elements *= uint64_t(t.ne[d]);
        uint64_t expected = n_elements / traits.block_size * traits.type_size;
        if (t.n_dims > kGgufMaxDims || t.ne[0] % traits.block_size != 0 ||
            t.data.size() != expected) {
            throw Error(ErrorKind::invalid_argument, "", fmt::format("tensor '{}'", t.name),
                        std::nullopt, fmt::format("{} bytes of {}", expected, traits.name),
                        std::to_string(t.data.size()));
        }
        enc.string(t.name);
        enc.pod<uint32_t>(t.n_dims);
        for (uint32_t d = 0; d < t.n_dims; ++d) enc.pod<int64_t>(t.ne[d]);
        enc.pod<uint32_t>(static_cast<uint32_t>(t.type));
        enc.pod<uint64_t>(offset);
        offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    if (contents.tensors.empty()) return;
    enc.pad_to(alignment);
    for (const GgufTensorToWrite& t : contents.tensors) {
        enc.bytes(t.data.data(), t.data.size());
        enc.pad_to(alignment);
    }
}

}  // namespace

GgufContents gguf_contents(const GgufFile& file) {
    GgufContents c;
    c.version = file.version();
    c.kvs.reserve(file.kvs().size());
    for (const GgufKv& kv : file.kvs()) c.kvs.emplace_back(kv.key, kv.value);
    c.tensors.reserve(file.tensors().size());
    for (const GgufTensorInfo& t : file.tensors()) {
        c.tensors.push_back(GgufTensorToWrite{t.name, t.type, t.n_dims, t.ne, file.tensor_data(t)});
    }
    return c;
}

std::vector<uint8_t> gguf_serialize(const GgufContents& contents) {
    std::vector<uint8_t> out;
    Encoder enc([&](const void* p, size_t n) {
        auto* b = static_cast<const uint8_t*>(p);
        out.insert(out.end(), b, b + n);
    });
    encode(contents, enc);
    return out;
}

void gguf_write(const std::filesystem::path& path, const GgufContents& contents) {
    std::string final_name = path.string();
    std::string tmp_name = fmt::format("{}.tmp.{}", final_name, ::getpid());
    FILE* f = std::fopen(tmp_name.c_str(), "wb");
    if (!f) {
        throw Error(ErrorKind::io, final_name, "open", std::nullopt, "a writable file",
                    std::strerror(errno));
    }
    std::vector<char> buffer(1 << 20);
    std::setvbuf(f, buffer.data(), _IOFBF, buffer.size());
    auto fail = [&](const char* what) {
        int saved = errno;
        std::fclose(f);
        std::remove(tmp_name.c_str());
        throw Error(ErrorKind::io, final_name, what, std::nullopt, "success", std::strerror(saved));
    };
    try {
        Encoder enc([&](const void* p, size_t n) {
            if (std::fwrite(p, 1, n, f) != n) fail("write");
        });
        encode(contents, enc);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::io) {
            std::fclose(f);
            std::remove(tmp_name.c_str());
        }
        throw;
    }
    if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0) fail("flush");
    if (std::fclose(f) != 0) {
        std::remove(tmp_name.c_str());
        throw Error(ErrorKind::io, final_name, "close", std::nullopt, "success",
                    std::strerror(errno));
    }
    if (std::rename(tmp_name.c_str(), final_name.c_str()) != 0) {
        int saved = errno;
        std::remove(tmp_name.c_str());
        throw Error(ErrorKind::io, final_name, "rename", std::nullopt, "success",
                    std::strerror(saved));
    }
}

}  // namespace slim
