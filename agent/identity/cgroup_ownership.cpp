#include "agent/identity/cgroup_ownership.h"

#include <sys/stat.h>

#include "agent/identity/root_only_access.h"

namespace sluice {

CgroupDirFacts read_cgroup_dir_facts(const std::string& dir, uint32_t system_uid) {
    CgroupDirFacts facts;
    struct stat st {};
    // lstat: cgroupfs has no symlinks; a test tree that has one is not trusted through it.
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return facts;
    facts.present = true;
    facts.owner_uid = st.st_uid;
    facts.system_only = writable_only_by_system(st, system_uid);
    struct stat procs {};
    if (::lstat((dir + "/cgroup.procs").c_str(), &procs) == 0) facts.procs_owner_uid = procs.st_uid;
    return facts;
}

CgroupTrustBoundary read_trust_boundary(const std::string& cgroup_root, std::string_view path,
                                        uint32_t system_uid) {
    return find_trust_boundary(
        path,
        [&](std::string_view prefix) {
            return read_cgroup_dir_facts(cgroup_root + std::string(prefix), system_uid);
        },
        system_uid);
}

}  // namespace sluice
