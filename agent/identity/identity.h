// Who made a connection: the kernel's record (uid, gid, tgid, comm, cgroup id) joined with what
// /proc, the cgroup tree and NSS say about it. This is the first stage of the data path; policy
// and audit take an Identity and never go back to the kernel record.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/identity/cgroup_attribution.h"
#include "agent/identity/cgroup_path_cache.h"
#include "agent/identity/cgroup_trust.h"
#include "agent/identity/container_records.h"
#include "agent/identity/lru_map.h"
#include "agent/identity/process_cache.h"
#include "agent/identity/user_directory.h"

namespace sluice {

// Names found in the part of the cgroup path a user controls (cgroup_trust.h): that user's
// labels, kept apart from the system identity so "uid 65534 claiming ci-build.service" reads as
// exactly that.
struct UserControlledCgroup {
    std::optional<uint32_t> owner_uid;  // whose subtree it is, when the kernel's facts say
    std::string delegated_at;           // the delegated directory (a system path)
    std::string cgroup;                 // the path below it, every name chosen by that user
    CgroupAttribution labels;           // unit, slice, container, pod those names claim
};

struct Identity {
    uint32_t uid = 0;
    uint32_t gid = 0;
    uint32_t pid = 0;  // the tgid: what users call the process id
    std::string user;  // "" when the uid has no passwd entry
    std::string comm;
    std::string exe;           // "" when the process is gone or its exe is unreadable
    bool exe_trusted = false;  // exe_trust.h: the file and every directory above are root's
    std::string cmdline;       // "" when the process is gone
    uint64_t cgroup_id = 0;
    // Path under the cgroup2 mount, "" if the id could not be found. Only the system's part:
    // when the cgroup lies in a delegated subtree, this stops at the delegation point and the
    // rest is in user_controlled. unit, slice, container and pod come from this part alone.
    std::string cgroup;
    std::string unit;
    std::string slice;
    std::string container_runtime;
    std::string container_id;
    std::string pod_uid;
    // From the runtime's own records of that container (container_records.h), when the
    // system wrote them: its name and image, and the Kubernetes pod it is in.
    std::string container_name;
    std::string container_image;
    std::string pod_name;
    std::string pod_namespace;
    // The uid inside the process's own user namespace (rootless containers), when it has one:
    // `uid` stays the host's.
    std::optional<uint32_t> namespace_uid;
    std::vector<std::string> groups;
    std::optional<UserControlledCgroup> user_controlled;  // set when the path is delegated

    // The audit record's "identity" object: always uid, user, pid, exe, comm, cgroup, unit;
    // then gid, groups, cmdline, cgroup_id, slice, exe_trusted; container fields
    // (container_runtime, container_id, container_name, container_image, pod_uid, pod_name,
    // pod_namespace, namespace_uid) only when set; "user_controlled" {uid, delegated_at, cgroup,
    // unit, slice, container_runtime, container_id, pod_uid, rootless} when the cgroup is in a
    // delegated subtree. Strings that are not valid UTF-8 (paths and argv are bytes) have bad bytes
    // replaced by U+FFFD so the record always serialises.
    nlohmann::json to_json() const;
};

// Where the resolver reads the system from; tests point these at their own trees.
struct IdentitySources {
    std::string cgroup_root = "/sys/fs/cgroup";  // the cgroup2 mount, not the attach point
    std::string proc_root = "/proc";
    // Who owns the system part of the cgroup tree: root on a host. Unprivileged tests set
    // their own uid so the trees they make count as the system's.
    uint32_t system_uid = 0;
    // Where container runtimes keep their records (its system_uid is system_uid above).
    ContainerRecordSources containers{};
};

class IdentityResolver {
public:
    explicit IdentityResolver(IdentitySources sources = {});
    IdentityResolver(IdentitySources sources, UserDirectory::Lookup user_lookup);

    // Safe to call from several threads. Checks /proc at call time (start time and exe of a
    // known process, everything for a new one, see ProcessCache); when the process is gone the
    // kernel's comm stands alone and exe/cmdline stay empty.
    Identity resolve(uint32_t tgid, uint32_t uid, uint32_t gid, std::string_view kernel_comm,
                     uint64_t cgroup_id);

    ProcessCacheStats process_cache_stats() const { return processes_.stats(); }

private:
    struct CgroupFacts {
        CgroupTrustBoundary boundary;
        SplitCgroupAttribution attribution;
    };
    // Cgroup ids are kernfs inode numbers, not reused while the host is up, so a found path
    // and what it says (unit, container) never go stale for that id. Nor does its trust
    // boundary in practice: systemd chowns a delegated directory before it moves a process
    // in, and a user's mkdir is the user's from the start; a later chown by root is seen once
    // the entry is evicted. Caching by id keeps the stat walk (two per directory down to the
    // delegation point) off all but the first connection from each cgroup.
    static constexpr std::size_t kMaxCgroupFacts = 4096;

    std::optional<CgroupFacts> cgroup_facts(uint64_t cgroup_id,
                                            const std::optional<ProcessInfo>& proc);

    const IdentitySources sources_;
    ProcessCache processes_;
    CgroupPathCache cgroups_;
    ContainerRecords containers_;
    UserDirectory users_;
    std::mutex cgroup_facts_mu_;  // guards cgroup_facts_
    LruMap<uint64_t, CgroupFacts> cgroup_facts_{kMaxCgroupFacts};
};

// Replaces bytes that are not well-formed UTF-8 with U+FFFD. Exposed for tests.
std::string sanitize_utf8(std::string_view bytes);

}  // namespace sluice
