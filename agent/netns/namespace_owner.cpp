#include "agent/netns/namespace_owner.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "agent/common/unique_fd.h"

namespace sluice {
namespace {

bool same_namespace(int a, int b) {
    struct stat sa {
    }, sb{};
    return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_ino == sb.st_ino &&
           sa.st_dev == sb.st_dev;
}

}  // namespace

std::optional<uid_t> namespace_owner_uid(int netns_fd) {
    UniqueFd host(::open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC));
    UniqueFd user(::ioctl(netns_fd, NS_GET_USERNS));
    if (!host || !user) return std::nullopt;
    if (same_namespace(user.get(), host.get())) return 0;
    // Up to the user namespace whose parent is the host's: its creator answers for all below.
    for (;;) {
        UniqueFd parent(::ioctl(user.get(), NS_GET_PARENT));
        if (!parent) return std::nullopt;
        if (same_namespace(parent.get(), host.get())) break;
        user = std::move(parent);
    }
    uid_t owner = 0;
    if (::ioctl(user.get(), NS_GET_OWNER_UID, &owner) != 0) return std::nullopt;
    return owner;
}

}  // namespace sluice
