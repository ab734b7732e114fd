#include "agent/identity/process_cache.h"

namespace sluice {

ProcessCache::ProcessCache(std::string proc_root, std::size_t max_entries)
    : proc_root_(std::move(proc_root)), entries_(max_entries) {}

std::optional<ProcessInfo> ProcessCache::lookup(uint32_t tgid) {
    const std::optional<uint64_t> start = read_process_start_time(tgid, proc_root_);
    if (!start) {
        // Gone (or a tree without a stat file): nothing to key a cache entry on.
        {
            std::lock_guard lock(mu_);
            entries_.erase(tgid);
            ++stats_.misses;
        }
        return read_process(tgid, proc_root_);
    }
    const std::string exe = read_process_exe(tgid, proc_root_);
    {
        std::lock_guard lock(mu_);
        if (const Entry* entry = entries_.find(tgid);
            entry != nullptr && entry->start_time == *start && entry->info.exe == exe) {
            ++stats_.hits;
            return entry->info;
        }
        ++stats_.misses;
    }
    // If the pid is reused between the two reads, the entry below is keyed by the old start
    // time and no later lookup (which reads the new start time) can match it.
    std::optional<ProcessInfo> info = read_process(tgid, proc_root_);
    std::lock_guard lock(mu_);
    if (info) {
        entries_.put(tgid, Entry{*start, *info});
    } else {
        entries_.erase(tgid);
    }
    return info;
}

ProcessCacheStats ProcessCache::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

std::size_t ProcessCache::size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

}  // namespace sluice
