// uid → user name and group names through NSS (getpwuid_r / getgrouplist / getgrgid_r), cached
// because NSS may go to LDAP/SSSD and a connection must not wait on that every time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sluice {

struct UserRecord {
    std::string name;                 // "" if the uid has no passwd entry (e.g. a container uid)
    std::vector<std::string> groups;  // names of the primary and supplementary groups
};

// One uncached NSS lookup. `gid` is the primary group from the kernel record, used when the
// uid has no passwd entry.
UserRecord lookup_user(uint32_t uid, uint32_t gid);

class UserDirectory {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    using Lookup = std::function<UserRecord(uint32_t uid, uint32_t gid)>;

    // Entries are refreshed after `ttl` so renamed users and new group memberships show up.
    explicit UserDirectory(std::chrono::seconds ttl = std::chrono::seconds(300),
                           Lookup lookup = &lookup_user,
                           Clock clock = &std::chrono::steady_clock::now);

    UserRecord find(uint32_t uid, uint32_t gid);

private:
    struct Entry {
        UserRecord record;
        std::chrono::steady_clock::time_point fetched;
    };
    // Bounded: uids on a host are few, but a user-namespace-heavy host may show many.
    static constexpr size_t kMaxEntries = 4096;

    const std::chrono::seconds ttl_;
    const Lookup lookup_;
    const Clock clock_;
    std::mutex mu_;  // guards cache_
    std::unordered_map<uint64_t, Entry> cache_;
};

}  // namespace sluice
