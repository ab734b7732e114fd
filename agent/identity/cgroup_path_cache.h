// Maps a cgroup id (what the BPF programs record, bpf_get_current_cgroup_id()) to its path
// relative to the cgroup2 mount. On cgroup2 the id *is* the inode number of the cgroup's
// directory (kernfs node id), so a walk of the mount builds the map without any BPF help.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice {

class CgroupPathCache {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    // A host churning containers can have many cgroups; past this the walk stops (and says so
    // through entries_truncated()) rather than grow without bound.
    static constexpr size_t kMaxEntries = 200'000;

    // `root` is the cgroup2 mount (or, in tests, any directory tree). A miss rescans the tree
    // at most once per `min_rescan_interval`.
    explicit CgroupPathCache(
        std::string root, std::chrono::milliseconds min_rescan_interval = std::chrono::seconds(1),
        Clock clock = &std::chrono::steady_clock::now);

    // Path like "/system.slice/foo.service" ("/" for the root), or nullopt if unknown even
    // after a rescan (or a rescan was not allowed yet). `hint` is a path the caller believes
    // the cgroup has (from /proc/<pid>/cgroup): it is accepted only if its inode matches, which
    // saves a full walk for a cgroup created since the last one.
    std::optional<std::string> lookup(uint64_t cgroup_id, std::string_view hint = {});

    // Rebuilds the map from the tree now, regardless of the rate limit.
    void rescan();

    size_t size() const;
    size_t scans() const;
    bool entries_truncated() const;

private:
    void rescan_locked();

    std::string root_;
    const std::chrono::milliseconds min_rescan_interval_;
    const Clock clock_;

    mutable std::mutex mu_;  // guards everything below
    std::unordered_map<uint64_t, std::string> paths_;
    std::optional<std::chrono::steady_clock::time_point> last_scan_;
    size_t scans_ = 0;
    bool truncated_ = false;
};

}  // namespace sluice
