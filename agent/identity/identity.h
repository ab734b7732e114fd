// Who made a connection: the kernel's record (uid, gid, tgid, comm, cgroup id) joined with what
// /proc, the cgroup tree and NSS say about it. This is the first stage of the data path; policy
// and audit take an Identity and never go back to the kernel record.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/identity/cgroup_attribution.h"
#include "agent/identity/cgroup_path_cache.h"
#include "agent/identity/lru_map.h"
#include "agent/identity/process_cache.h"
#include "agent/identity/user_directory.h"

namespace sluice {

struct Identity {
    uint32_t uid = 0;
    uint32_t gid = 0;
    uint32_t pid = 0;  // the tgid: what users call the process id
    std::string user;  // "" when the uid has no passwd entry
    std::string comm;
    std::string exe;      // "" when the process is gone or its exe is unreadable
    std::string cmdline;  // "" when the process is gone
    uint64_t cgroup_id = 0;
    std::string cgroup;  // path under the cgroup2 mount, "" if the id could not be found
    std::string unit;
    std::string slice;
    std::string container_runtime;
    std::string container_id;
    std::string pod_uid;
    std::vector<std::string> groups;

    // The audit record's "identity" object: always uid, user, pid, exe, comm, cgroup, unit;
    // then gid, groups, cmdline, cgroup_id, slice; container fields only when set. Strings
    // that are not valid UTF-8 (paths and argv are bytes) have bad bytes replaced by U+FFFD so
    // the record always serialises.
    nlohmann::json to_json() const;
};

// Where the resolver reads the system from; tests point these at their own trees.
struct IdentitySources {
    std::string cgroup_root = "/sys/fs/cgroup";  // the cgroup2 mount, not the attach point
    std::string proc_root = "/proc";
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
        std::string path;
        CgroupAttribution attribution;
    };
    // Cgroup ids are kernfs inode numbers, not reused while the host is up, so a found path
    // and what it says (unit, container) never go stale for that id.
    static constexpr std::size_t kMaxCgroupFacts = 4096;

    std::optional<CgroupFacts> cgroup_facts(uint64_t cgroup_id, const std::optional<ProcessInfo>& proc);

    const IdentitySources sources_;
    ProcessCache processes_;
    CgroupPathCache cgroups_;
    UserDirectory users_;
    std::mutex cgroup_facts_mu_;  // guards cgroup_facts_
    LruMap<uint64_t, CgroupFacts> cgroup_facts_{kMaxCgroupFacts};
};

// Replaces bytes that are not well-formed UTF-8 with U+FFFD. Exposed for tests.
std::string sanitize_utf8(std::string_view bytes);

}  // namespace sluice
