// CleanTextMemo: short texts a thread's recognizers found no entity in. A request's member
// names and enumerations ("model", "messages", "role", "user", "content", "max_tokens") come
// again in every request, and each costs the recognizers' fixed setup (two Hyperscan scans, the
// SIMD scan, the candidate tables) many times its few bytes (docs/benchmarks.md, issue 15).
//
// Exact: RecognizerSet::find is a function of the set, the enabled entities and the text, and a
// set's id is never reused, so a remembered "clean" is what find would say again. Only clean
// results are kept; a slot holds one text and a colliding text replaces it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "policy/masking/entity.h"

namespace sluice::masking {

class CleanTextMemo {
public:
    static constexpr std::size_t kMaxTextBytes = 32;

    bool known_clean(uint64_t set_id, EntitySet enabled, std::string_view text) const {
        if (text.size() > kMaxTextBytes) return false;
        const Entry& e = entries_[slot(set_id, text)];
        return e.set_id == set_id && e.enabled == enabled && e.size == text.size() &&
               std::memcmp(e.bytes, text.data(), text.size()) == 0;
    }

    void remember_clean(uint64_t set_id, EntitySet enabled, std::string_view text) {
        if (text.size() > kMaxTextBytes) return;
        Entry& e = entries_[slot(set_id, text)];
        e.set_id = set_id;
        e.enabled = enabled;
        e.size = static_cast<uint8_t>(text.size());
        std::memcpy(e.bytes, text.data(), text.size());
    }

private:
    static constexpr std::size_t kSlots = 64;

    struct Entry {
        uint64_t set_id = 0;  // 0: empty (set ids start at 1)
        EntitySet enabled;
        uint8_t size = 0;
        char bytes[kMaxTextBytes];
    };

    static std::size_t slot(uint64_t set_id, std::string_view text) {
        uint64_t h = 0xcbf29ce484222325u ^ set_id;  // FNV-1a
        for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3u;
        return static_cast<std::size_t>(h ^ (h >> 29)) % kSlots;
    }

    std::array<Entry, kSlots> entries_{};
};

}  // namespace sluice::masking
