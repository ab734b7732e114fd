#include "agent/loader/netns_table.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "agent/loader/bpffs.h"

namespace sluice {

sluice_netns_listener to_abi(const NamespaceRoute& route) {
    sluice_netns_listener value{};
    std::memcpy(value.addr4, route.addr4.data(), 16);
    std::memcpy(value.addr6, route.addr6.data(), 16);
    value.port4 = htons(route.port4);
    value.port6 = htons(route.port6);
    value.flags =
        static_cast<uint8_t>((route.v4 ? SLUICE_NETNS_V4 : 0u) | (route.v6 ? SLUICE_NETNS_V6 : 0u));
    return value;
}

NamespaceRoute from_abi(const sluice_netns_listener& value) {
    NamespaceRoute route;
    std::memcpy(route.addr4.data(), value.addr4, 16);
    std::memcpy(route.addr6.data(), value.addr6, 16);
    route.port4 = ntohs(value.port4);
    route.port6 = ntohs(value.port6);
    route.v4 = (value.flags & SLUICE_NETNS_V4) != 0;
    route.v6 = (value.flags & SLUICE_NETNS_V6) != 0;
    return route;
}

NetnsTable NetnsTable::from_fd(int map_fd) {
    int fd = ::fcntl(map_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("dup map fd: ") + std::strerror(errno));
    return NetnsTable(UniqueFd(fd));
}

NetnsTable NetnsTable::open_pinned(const std::string& pin_dir) {
    const std::string path = maps_pin_dir(pin_dir) + "/netns_listeners";
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    return NetnsTable(UniqueFd(fd));
}

void NetnsTable::put(uint64_t netns_cookie, const NamespaceRoute& route) const {
    const sluice_netns_listener value = to_abi(route);
    if (bpf_map_update_elem(fd_.get(), &netns_cookie, &value, BPF_ANY) != 0)
        throw std::runtime_error("cannot record the listener of network namespace " +
                                 std::to_string(netns_cookie) + ": " + std::strerror(errno));
}

bool NetnsTable::erase(uint64_t netns_cookie) const {
    return bpf_map_delete_elem(fd_.get(), &netns_cookie) == 0;
}

std::map<uint64_t, NamespaceRoute> NetnsTable::entries() const {
    std::map<uint64_t, NamespaceRoute> out;
    uint64_t key = 0, next = 0;
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd_.get(), prev, &next) == 0) {
        sluice_netns_listener value{};
        if (bpf_map_lookup_elem(fd_.get(), &next, &value) == 0) out[next] = from_abi(value);
        key = next;
        prev = &key;
    }
    return out;
}

size_t NetnsTable::size() const {
    size_t count = 0;
    uint64_t key = 0, next = 0;
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd_.get(), prev, &next) == 0) {
        ++count;
        key = next;
        prev = &key;
    }
    return count;
}

}  // namespace sluice
