// CleanTextMemo: short texts a thread's scan engine found nothing in. A request's member names
// and enumerations ("model", "messages", "role", "user", "content", "max_tokens") come again in
// every request, and each costs an engine's fixed setup (Hyperscan scans, the SIMD scan, the
// candidate tables) many times its few bytes (docs/benchmarks.md, issue 15).
//
// Exact: each user's answer is a function of an immutable engine (named by an id never reused),
// a 64-bit choice of what it looks for (the enabled entities) and the text, so a remembered
// "nothing" is what the engine would say again. Only "nothing" is kept; a slot holds one text
// and a colliding text replaces it.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice {

class CleanTextMemo {
public:
    static constexpr std::size_t kMaxTextBytes = 32;

    // An id for a newly built engine: never 0, never handed out twice in the process.
    static uint64_t new_engine_id() {
        static std::atomic<uint64_t> next{1};
        return next.fetch_add(1);
    }

    bool known_clean(uint64_t engine_id, uint64_t choice, std::string_view text) const {
        if (text.size() > kMaxTextBytes) return false;
        const Entry& e = entries_[slot(engine_id, text)];
        return e.engine_id == engine_id && e.choice == choice && e.size == text.size() &&
               std::memcmp(e.bytes, text.data(), text.size()) == 0;
    }

    void remember_clean(uint64_t engine_id, uint64_t choice, std::string_view text) {
        if (text.size() > kMaxTextBytes) return;
        Entry& e = entries_[slot(engine_id, text)];
        e.engine_id = engine_id;
        e.choice = choice;
        e.size = static_cast<uint8_t>(text.size());
        std::memcpy(e.bytes, text.data(), text.size());
    }

private:
    static constexpr std::size_t kSlots = 64;

    struct Entry {
        uint64_t engine_id = 0;  // 0: empty (engine ids start at 1)
        uint64_t choice = 0;
        uint8_t size = 0;
        char bytes[kMaxTextBytes];
    };

    static std::size_t slot(uint64_t engine_id, std::string_view text) {
        uint64_t h = 0xcbf29ce484222325u ^ engine_id;  // FNV-1a
        for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3u;
        return static_cast<std::size_t>(h ^ (h >> 29)) % kSlots;
    }

    std::array<Entry, kSlots> entries_{};
};

}  // namespace sluice
