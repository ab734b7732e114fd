// Reads what the kernel says about who may write a cgroup directory (cgroup_trust.h says what
// that means). Two stat() calls: the directory, and its cgroup.procs, which systemd chowns to
// the user when it delegates (Delegate=yes) even where the directory's mode alone would not show
// it.
#pragma once

#include <cstdint>
#include <string>

#include "agent/identity/cgroup_trust.h"

namespace sluice {

// `dir` is an absolute path (mount + cgroup path). Absent or not a directory: present = false.
CgroupDirFacts read_cgroup_dir_facts(const std::string& dir, uint32_t system_uid = 0);

// The trust boundary of `path` (relative to `cgroup_root`, the cgroup2 mount) from the live
// tree: one read_cgroup_dir_facts per directory down to the delegation point.
CgroupTrustBoundary read_trust_boundary(const std::string& cgroup_root, std::string_view path,
                                        uint32_t system_uid = 0);

}  // namespace sluice
