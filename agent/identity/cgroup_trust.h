// Where a cgroup path stops being the system's. cgroup v2 delegates subtrees to users
// (systemd's Delegate=yes on user@UID.service chowns the directory and its cgroup.procs to the
// user), and whoever may write a cgroup directory may mkdir children with any name. So the
// names in a path are only as trustworthy as the directory they were created in: a
// "ci-build.service" made by uid 65534 under its own user@65534.service is that user's label,
// not the CI system unit. The rule, from the kernel's facts about each directory walking down
// from the cgroup2 root:
//
//   the first directory owned by another uid than the system's, writable by another uid, whose
//   cgroup.procs another uid owns, or named user@UID.service, is the *delegation point*. Its
//   own name was chosen by its parent's owner (the system) and is trusted; every name below it
//   is user-controlled, owned by the uid the facts name.
//
// A directory that cannot be examined (it vanished mid-walk) is a delegation point with no
// known owner: what cannot be proven the system's is never treated as the system's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// What the kernel says about one cgroup directory (read by cgroup_ownership.h).
struct CgroupDirFacts {
    bool present = false;      // the directory could be examined
    bool system_only = false;  // only the system uid may write it (root_only_access.h)
    uint32_t owner_uid = 0;
    std::optional<uint32_t> procs_owner_uid;  // owner of its cgroup.procs; nullopt if absent
};

struct CgroupTrustBoundary {
    // Leading components of the path whose names the system chose. Equals the number of
    // components when nothing in the path is delegated.
    std::size_t trusted_components = 0;
    // The path reaches a delegation point (possibly the cgroup itself, with no user-made names
    // below it).
    bool delegated = false;
    std::optional<uint32_t> owner_uid;  // the user the delegated part belongs to, when known
    std::string system_path;  // the trusted components: "/user.slice/.../user@65534.service"
    std::string user_path;    // the rest, relative to system_path: "/app.slice/x.service"
};

// `facts_of(prefix)` answers for the directory at `prefix` under the cgroup2 mount ("" is the
// mount itself, then "/user.slice", "/user.slice/user-1000.slice", ...); it is asked walking
// down and not past the delegation point. `system_uid` is 0 on a real host.
CgroupTrustBoundary find_trust_boundary(
    std::string_view path, const std::function<CgroupDirFacts(std::string_view prefix)>& facts_of,
    uint32_t system_uid = 0);

// The uid in a "user@UID.service" component, nullopt for any other name.
std::optional<uint32_t> user_manager_uid(std::string_view component);

}  // namespace sluice
