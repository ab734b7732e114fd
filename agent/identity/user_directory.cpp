#include "agent/identity/user_directory.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sluice {
namespace {

// NSS buffers: start at the size sysconf suggests, grow on ERANGE up to a sane cap.
constexpr size_t kMaxNssBuffer = 1 << 20;

std::string group_name(gid_t gid) {
    std::vector<char> buf(4096);
    for (;;) {
        struct group gr {};
        struct group* result = nullptr;
        const int rc = ::getgrgid_r(gid, &gr, buf.data(), buf.size(), &result);
        if (rc == ERANGE && buf.size() < kMaxNssBuffer) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0 || result == nullptr) return std::to_string(gid);
        return result->gr_name;
    }
}

}  // namespace

UserRecord lookup_user(uint32_t uid, uint32_t gid) {
    UserRecord record;
    std::vector<char> buf(4096);
    struct passwd pw {};
    struct passwd* result = nullptr;
    for (;;) {
        const int rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result);
        if (rc == ERANGE && buf.size() < kMaxNssBuffer) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0) result = nullptr;
        break;
    }
    if (result == nullptr) {
        record.groups.push_back(group_name(gid));
        return record;
    }
    record.name = result->pw_name;

    std::vector<gid_t> gids(32);
    for (;;) {
        int count = static_cast<int>(gids.size());
        if (::getgrouplist(result->pw_name, result->pw_gid, gids.data(), &count) >= 0) {
            gids.resize(static_cast<size_t>(count));
            break;
        }
        // count now holds the number needed; anything else is a broken NSS module.
        if (count <= static_cast<int>(gids.size()) || count > 65536) {
            gids.assign(1, result->pw_gid);
            break;
        }
        gids.resize(static_cast<size_t>(count));
    }
    for (gid_t g : gids) {
        std::string name = group_name(g);
        if (std::find(record.groups.begin(), record.groups.end(), name) == record.groups.end()) {
            record.groups.push_back(std::move(name));
        }
    }
    return record;
}

UserDirectory::UserDirectory(std::chrono::seconds ttl, Lookup lookup, Clock clock)
    : ttl_(ttl), lookup_(std::move(lookup)), clock_(std::move(clock)) {}

UserRecord UserDirectory::find(uint32_t uid, uint32_t gid) {
    const uint64_t key = (static_cast<uint64_t>(uid) << 32) | gid;
    const auto now = clock_();
    {
        std::lock_guard lock(mu_);
        auto it = cache_.find(key);
        if (it != cache_.end() && now - it->second.fetched < ttl_) return it->second.record;
    }
    // The NSS call happens outside the lock: a slow directory server must not serialise
    // every session behind one lookup.
    UserRecord record = lookup_(uid, gid);
    std::lock_guard lock(mu_);
    if (cache_.size() >= kMaxEntries) cache_.clear();
    cache_[key] = Entry{record, now};
    return record;
}

}  // namespace sluice
