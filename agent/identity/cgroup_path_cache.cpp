#include "agent/identity/cgroup_path_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace sluice {

CgroupPathCache::CgroupPathCache(std::string root, std::chrono::milliseconds min_rescan_interval,
                                 Clock clock)
    : root_(std::move(root)), min_rescan_interval_(min_rescan_interval), clock_(std::move(clock)) {
    // Paths are reported relative to root_, so it must not end in '/'.
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::optional<std::string> CgroupPathCache::lookup(uint64_t cgroup_id, std::string_view hint) {
    std::lock_guard lock(mu_);
    if (auto it = paths_.find(cgroup_id); it != paths_.end()) return it->second;

    if (!hint.empty() && hint.front() == '/' && hint.find("/..") == std::string_view::npos) {
        struct stat st {};
        const std::string full = root_ + std::string(hint);
        if (::stat(full.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
            static_cast<uint64_t>(st.st_ino) == cgroup_id) {
            std::string path(hint);
            if (path.size() > 1 && path.back() == '/') path.pop_back();
            paths_[cgroup_id] = path;
            return path;
        }
    }

    // Rate limited: a stream of connections from a cgroup that is already gone must not turn
    // into a stream of full walks of the hierarchy.
    const auto now = clock_();
    if (last_scan_ && now - *last_scan_ < min_rescan_interval_) return std::nullopt;
    rescan_locked();
    if (auto it = paths_.find(cgroup_id); it != paths_.end()) return it->second;
    return std::nullopt;
}

void CgroupPathCache::rescan() {
    std::lock_guard lock(mu_);
    rescan_locked();
}

void CgroupPathCache::rescan_locked() {
    last_scan_ = clock_();
    ++scans_;
    truncated_ = false;
    std::unordered_map<uint64_t, std::string> fresh;

    struct stat st {};
    if (::stat(root_.c_str(), &st) != 0) {
        paths_ = std::move(fresh);
        return;
    }
    fresh[st.st_ino] = "/";

    // Depth-first with an explicit stack of relative paths (not open fds, so the walk holds one
    // directory open at a time). readdir's d_ino is the inode, so no stat per cgroup. Cgroups
    // vanish while we walk; a directory that cannot be opened any more is skipped.
    std::vector<std::string> pending{""};
    while (!pending.empty() && !truncated_) {
        const std::string rel = std::move(pending.back());
        pending.pop_back();
        const std::string dir_path = rel.empty() ? root_ : root_ + rel;
        const int fd = ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(fd), &::closedir);
        if (!dir) {
            ::close(fd);
            continue;
        }
        while (const dirent* ent = ::readdir(dir.get())) {
            const std::string_view name = ent->d_name;
            if (name == "." || name == "..") continue;
            bool is_dir = ent->d_type == DT_DIR;
            if (ent->d_type == DT_UNKNOWN) {
                // Filesystems without d_type (some test tmpfs setups): ask directly.
                struct stat est {};
                is_dir =
                    ::fstatat(::dirfd(dir.get()), ent->d_name, &est, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISDIR(est.st_mode);
            }
            if (!is_dir) continue;
            if (fresh.size() >= kMaxEntries) {
                truncated_ = true;
                break;
            }
            std::string child = rel + "/" + std::string(name);
            fresh[static_cast<uint64_t>(ent->d_ino)] = child;
            pending.push_back(std::move(child));
        }
    }
    paths_ = std::move(fresh);
}

size_t CgroupPathCache::size() const {
    std::lock_guard lock(mu_);
    return paths_.size();
}

size_t CgroupPathCache::scans() const {
    std::lock_guard lock(mu_);
    return scans_;
}

bool CgroupPathCache::entries_truncated() const {
    std::lock_guard lock(mu_);
    return truncated_;
}

}  // namespace sluice
