// Whether a file or directory can be changed only by the system's owner (root): the one test
// both the cgroup trust boundary and executable trust apply to what stat() says.
#pragma once

#include <sys/stat.h>

#include <cstdint>

namespace sluice {

// True when only `system_uid` (0 on a real host) may write the object: it owns it, no other
// user may write it, and a group may write it only when that group is the system's own (gid
// 0, whose members are administrators by convention). ACLs are not consulted: cgroupfs has
// none, and an exe under a path with a write ACL for a user is outside what this vouches for.
inline bool writable_only_by_system(const struct stat& st, uint32_t system_uid = 0) {
    if (st.st_uid != system_uid) return false;
    if ((st.st_mode & S_IWOTH) != 0) return false;
    if ((st.st_mode & S_IWGRP) != 0 && st.st_gid != 0 && st.st_gid != system_uid) return false;
    return true;
}

}  // namespace sluice
