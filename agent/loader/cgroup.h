// cgroup v2 lookups the loader needs: where the hierarchy is mounted and cgroup ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sluice {

// The cgroup2 mount point from a mounts table (/proc/mounts format). On a hybrid v1/v2 host this
// is e.g. /sys/fs/cgroup/unified. Throws std::runtime_error if there is none.
std::string find_cgroup2_root(const std::string& mounts_path = "/proc/mounts");

// The id BPF reports for a cgroup (bpf_get_current_cgroup_id, link info): on cgroup2 it is the
// kernfs inode number of the directory. Throws std::runtime_error naming the path.
uint64_t cgroup_id_of(const std::string& cgroup_dir);

// True if the directory is on a cgroup2 file system.
bool is_cgroup2_dir(const std::string& dir);

// Walks `root` for the directory whose cgroup id is `id` (bounded depth). nullopt if not found.
std::optional<std::string> find_cgroup_path(const std::string& root, uint64_t id);

}  // namespace sluice
