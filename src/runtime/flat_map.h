// Small open-addressing hash maps for the tokenizers' hot loops.
//
// std::unordered_map allocates a node per entry and chases a pointer per
// probe; the tokenizers do one lookup per candidate merge, so the maps here
// keep keys and values in flat arrays with linear probing instead. They only
// grow (vocabularies are built once) and never erase.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace slim {

// 64-bit hash of a byte string (a multiply-xorshift over 8-byte words).
inline uint64_t hash_bytes(const char* p, size_t n) {
    constexpr uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t h = 0x243F6A8885A308D3ull ^ (n * k);
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ (w * k)) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t w = 0;
        std::memcpy(&w, p, n);
        h = (h ^ (w * k)) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
    }
    h *= 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

inline uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    return x ^ (x >> 33);
}

// uint64 key -> uint64 value. The key ~0 is reserved as the empty marker.
class FlatMapU64 {
  public:
    static constexpr uint64_t kEmpty = ~uint64_t(0);

    void reserve(size_t n) {
        size_t cap = 16;
        while (cap < n * 2) cap <<= 1;
        if (cap > keys_.size()) rehash(cap);
    }
    // Inserts when absent; returns false (and keeps the old value) otherwise.
    bool insert(uint64_t key, uint64_t value) {
        if ((size_ + 1) * 2 > keys_.size()) rehash(keys_.empty() ? 16 : keys_.size() * 2);
        size_t mask = keys_.size() - 1;
        for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
            if (keys_[i] == kEmpty) {
                keys_[i] = key;
                values_[i] = value;
                ++size_;
                return true;
            }
            if (keys_[i] == key) return false;
        }
    }
    const uint64_t* find(uint64_t key) const {
        if (keys_.empty()) return nullptr;
        size_t mask = keys_.size() - 1;
        for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
            if (keys_[i] == key) return &values_[i];
            if (keys_[i] == kEmpty) return nullptr;
        }
    }
    size_t size() const { return size_; }

  private:
    void rehash(size_t cap) {
        std::vector<uint64_t> keys(cap, kEmpty), values(cap);
        size_t mask = cap - 1;
        for (size_t j = 0; j < keys_.size(); ++j) {
            if (keys_[j] == kEmpty) continue;
            size_t i = hash_u64(keys_[j]) & mask;
            while (keys[i] != kEmpty) i = (i + 1) & mask;
            keys[i] = keys_[j];
            values[i] = values_[j];
        }
        keys_.swap(keys);
        values_.swap(values);
    }

    std::vector<uint64_t> keys_;
    std::vector<uint64_t> values_;
    size_t size_ = 0;
};

// Byte string -> int32 id. Keys are copied into an arena the map owns.
class StringIdMap {
  public:
    void reserve(size_t n) {
        size_t cap = 16;
        while (cap < n * 2) cap <<= 1;
        if (cap > slots_.size()) rehash(cap);
    }
    // Sets key -> id, replacing an existing id (the last insert wins, as
    // llama.cpp's token_to_id map does for duplicate token texts).
    void assign(std::string_view key, int32_t id) {
        if (int32_t* v = find_slot(key)) {
            *v = id;
            return;
        }
        if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
        Slot s{hash_bytes(key.data(), key.size()), uint32_t(arena_.size()), uint32_t(key.size()),
               id};
        arena_.append(key);
        place(s);
        ++size_;
    }
    // The id of key, or -1.
    int32_t find(std::string_view key) const {
        if (slots_.empty()) return -1;
        uint64_t h = hash_bytes(key.data(), key.size());
        size_t mask = slots_.size() - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
            const Slot& s = slots_[i];
            if (s.id == kNone) return -1;
            if (s.hash == h && s.len == key.size() &&
                std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
                return s.id;
            }
        }
    }
    size_t size() const { return size_; }

  private:
    static constexpr int32_t kNone = INT32_MIN;
    struct Slot {
        uint64_t hash = 0;
        uint32_t offset = 0;
        uint32_t len = 0;
        int32_t id = kNone;
    };

    int32_t* find_slot(std::string_view key) {
        if (slots_.empty()) return nullptr;
        uint64_t h = hash_bytes(key.data(), key.size());
        size_t mask = slots_.size() - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
            Slot& s = slots_[i];
            if (s.id == kNone) return nullptr;
            if (s.hash == h && s.len == key.size() &&
                std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
                return &s.id;
            }
        }
    }
    void place(const Slot& s) {
        size_t mask = slots_.size() - 1;
        size_t i = s.hash & mask;
        while (slots_[i].id != kNone) i = (i + 1) & mask;
        slots_[i] = s;
    }
    void rehash(size_t cap) {
        std::vector<Slot> old;
        old.swap(slots_);
        slots_.assign(cap, Slot{});
        for (const Slot& s : old) {
            if (s.id != kNone) place(s);
        }
    }

    std::vector<Slot> slots_;
    std::string arena_;
    size_t size_ = 0;
};

}  // namespace slim
