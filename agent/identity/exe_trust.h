// Whether the executable a process runs is one only the system could have put there. A policy
// rule `exes: ["*/ci-runner"]` is worth nothing if any user can copy a binary to
// /tmp/ci-runner: so `exes` matches only executables whose file and every directory above it
// (up to the process's own root) are writable only by root. Judged from the kernel's view of
// the process, not from the path text: the walk starts at /proc/<pid>/root (the process's root,
// so a container's own filesystem), goes down the components of /proc/<pid>/exe without
// following symlinks, and the file found must be the very inode the process maps (stat of
// /proc/<pid>/exe). A deleted or replaced binary, or anything unreadable, is not trusted.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

// True only when the exe of `tgid` and each directory above it are writable only by
// `system_uid` (0 on a real host). A few syscalls per path component; called when a process
// is first seen (ProcessCache keeps the answer with the process).
bool exe_is_system_only(uint32_t tgid, std::string_view proc_root = "/proc",
                        uint32_t system_uid = 0);

}  // namespace sluice
