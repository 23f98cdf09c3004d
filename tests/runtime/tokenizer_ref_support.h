// Reading the tokenizer reference files (tests/reference/tokenizer/, written
// by tools/reference/make_tokenizer_refs.py and make_minilm_vocab.py): the
// shared texts and id lists stored in full or as count + FNV-1a hash.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "run_command.h"
#include "runtime/vocab.h"
#include "test_paths.h"

namespace slim::test {

inline std::string fnv1a64(std::string_view bytes) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (char c : bytes) {
        h ^= uint8_t(c);
        h *= 0x100000001B3ull;
    }
    return fmt::format("{:016x}", h);
}

inline std::string from_hex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(char(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
}

// The ids as little-endian u32, the bytes the reference hashes.
inline std::string ids_bytes(const std::vector<TokenId>& ids) {
    std::string bytes;
    for (TokenId id : ids) {
        for (int k = 0; k < 4; ++k) bytes.push_back(char((uint32_t(id) >> (8 * k)) & 0xFF));
    }
    return bytes;
}

struct RefText {
    std::string name;
    std::string bytes;
};

// texts.json: each text given inline, as hex, as a repeated character, or as
// a slice of a file in the shared test data.
inline std::vector<RefText> load_reference_texts() {
    std::vector<RefText> out;
    nlohmann::json doc =
        nlohmann::json::parse(read_file_text(reference_dir() / "tokenizer" / "texts.json"));
    for (const nlohmann::json& t : doc["texts"]) {
        RefText text{t["name"].get<std::string>(), {}};
        if (t.contains("text")) {
            text.bytes = t["text"].get<std::string>();
        } else if (t.contains("hex")) {
            text.bytes = from_hex(t["hex"].get<std::string>());
        } else if (t.contains("repeat")) {
            std::string ch = t["repeat"].get<std::string>();
            for (size_t i = 0; i < t["count"].get<size_t>(); ++i) text.bytes += ch;
        } else {
            std::string file = read_file_text(testdata_dir() / t["file"].get<std::string>());
            text.bytes = file.substr(t["offset"].get<size_t>(), t["length"].get<size_t>());
        }
        out.push_back(std::move(text));
    }
    return out;
}

// An id list as the reference stores it: in full, or as count + the hash of
// the ids as little-endian u32.
inline bool ids_match(const nlohmann::json& ref, const std::vector<TokenId>& ids,
                      std::string& why) {
    if (ref.is_array()) {
        std::vector<TokenId> want = ref.get<std::vector<TokenId>>();
        if (want == ids) return true;
        why = fmt::format("expected [{}]\n  got      [{}]", fmt::join(want, ", "),
                          fmt::join(ids, ", "));
        return false;
    }
    std::string h = fnv1a64(ids_bytes(ids));
    if (ref["n"].get<size_t>() == ids.size() && ref["fnv64"].get<std::string>() == h) return true;
    why = fmt::format("expected {} ids (fnv64 {}), got {} ids (fnv64 {})", ref["n"].get<size_t>(),
                      ref["fnv64"].get<std::string>(), ids.size(), h);
    return false;
}

}  // namespace slim::test
