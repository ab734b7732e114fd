// user space's view of `netns_listeners` (bpf/netns_maps.h): which listener of sluiced's each
// network namespace's redirects go to. sluiced writes an entry once the listeners accept and
// deletes it before it closes them.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "agent/common/ip_address.h"
#include "agent/common/unique_fd.h"
#include "bpf/redirect_abi.h"

namespace sluice {

struct NamespaceRoute {
    IpAddress addr4{};  // v4-mapped
    IpAddress addr6{};
    uint16_t port4 = 0;  // host order
    uint16_t port6 = 0;
    bool v4 = false;  // a listener of that family accepts in the namespace
    bool v6 = false;
    bool operator==(const NamespaceRoute&) const = default;
};

sluice_netns_listener to_abi(const NamespaceRoute& route);
NamespaceRoute from_abi(const sluice_netns_listener& value);

class NetnsTable {
public:
    // Borrows nothing: duplicates `map_fd`.
    static NetnsTable from_fd(int map_fd);
    // Opens <pin_dir>/maps/netns_listeners. Throws std::runtime_error.
    static NetnsTable open_pinned(const std::string& pin_dir);

    // Throws std::runtime_error (e.g. the map is full).
    void put(uint64_t netns_cookie, const NamespaceRoute& route) const;
    // true if there was an entry.
    bool erase(uint64_t netns_cookie) const;
    [[nodiscard]] std::map<uint64_t, NamespaceRoute> entries() const;
    [[nodiscard]] size_t size() const;

private:
    explicit NetnsTable(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace sluice
