// What /proc says about a process, cached by (tgid, start time), so a process that opens a
// connection per request does not pay a /proc walk (stat, readlink, three open/read/close) on
// each one. A hit costs one read of /proc/<tgid>/stat and one readlink of its exe:
//  - the start time tells a reused pid from the process we cached (a reused pid starts later);
//  - the exe tells an execve() from the cached image (execve keeps pid and start time).
// A process that execs its own binary with new arguments keeps its cached cmdline until it is
// evicted; cmdline is informational in the audit, exe and the kernel's comm are not cached
// guesses.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "agent/identity/lru_map.h"
#include "agent/identity/process_info.h"

namespace sluice {

struct ProcessCacheStats {
    uint64_t hits = 0;
    uint64_t misses = 0;
};

class ProcessCache {
public:
    // Processes that talk to the API on one host are few; a fork-per-request workload churns
    // through entries, and the bound keeps that from growing memory.
    static constexpr std::size_t kDefaultMaxEntries = 4096;

    explicit ProcessCache(std::string proc_root = "/proc",
                          std::size_t max_entries = kDefaultMaxEntries);

    // Same contract as read_process(): nullopt if the process is gone. Safe from several
    // threads; /proc is read outside the lock.
    std::optional<ProcessInfo> lookup(uint32_t tgid);

    ProcessCacheStats stats() const;
    std::size_t size() const;

private:
    struct Entry {
        uint64_t start_time = 0;
        ProcessInfo info;
    };

    const std::string proc_root_;
    mutable std::mutex mu_;  // guards entries_ and stats_
    LruMap<uint32_t, Entry> entries_;
    ProcessCacheStats stats_;
};

}  // namespace sluice
