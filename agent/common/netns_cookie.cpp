#include "agent/common/netns_cookie.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "agent/common/unique_fd.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace sluice {

std::optional<uint64_t> socket_netns_cookie(int fd) {
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);
    if (::getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) return std::nullopt;
    return cookie;
}

uint64_t current_netns_cookie() {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) throw std::runtime_error(std::string("cannot open a socket: ") + std::strerror(errno));
    const std::optional<uint64_t> cookie = socket_netns_cookie(fd.get());
    if (!cookie)
        throw std::runtime_error(
            std::string("the kernel does not tell a socket's network namespace "
                        "(SO_NETNS_COOKIE, Linux 5.14): ") +
            std::strerror(errno));
    return *cookie;
}

}  // namespace sluice
