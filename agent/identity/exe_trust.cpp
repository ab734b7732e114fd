#include "agent/identity/exe_trust.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "agent/common/unique_fd.h"
#include "agent/identity/process_info.h"
#include "agent/identity/root_only_access.h"

namespace sluice {
namespace {

bool system_only_fd(int fd, uint32_t system_uid) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && writable_only_by_system(st, system_uid);
}

}  // namespace

bool exe_is_system_only(uint32_t tgid, std::string_view proc_root, uint32_t system_uid) {
    const std::string proc = std::string(proc_root) + "/" + std::to_string(tgid);
    struct stat mapped {};
    if (::stat((proc + "/exe").c_str(), &mapped) != 0 || !S_ISREG(mapped.st_mode)) return false;
    if (!writable_only_by_system(mapped, system_uid)) return false;

    const std::string exe = read_process_exe(tgid, proc_root);
    // The kernel appends " (deleted)" to an unlinked exe's path: the name then says nothing.
    constexpr std::string_view kDeleted = " (deleted)";
    if (exe.empty() || exe.front() != '/' ||
        (exe.size() >= kDeleted.size() && exe.ends_with(kDeleted))) {
        return false;
    }
    UniqueFd dir(::open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0 || !system_only_fd(dir.get(), system_uid)) return false;

    std::size_t pos = 1;
    for (;;) {
        std::size_t slash = exe.find('/', pos);
        if (slash == std::string::npos) break;
        if (slash > pos) {
            const std::string name = exe.substr(pos, slash - pos);
            // readlink of /proc/<pid>/exe is the resolved path: ".." or a symlink on the way
            // means the tree changed since the exec, and nothing is vouched for.
            if (name == "..") return false;
            dir.reset(
                ::openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (dir.get() < 0 || !system_only_fd(dir.get(), system_uid)) return false;
        }
        pos = slash + 1;
    }
    struct stat found {};
    if (pos >= exe.size() ||
        ::fstatat(dir.get(), exe.c_str() + pos, &found, AT_SYMLINK_NOFOLLOW) != 0) {
        return false;
    }
    // The file at that path must be the one the process runs, and no user may replace it.
    return found.st_dev == mapped.st_dev && found.st_ino == mapped.st_ino &&
           writable_only_by_system(found, system_uid);
}

}  // namespace sluice
