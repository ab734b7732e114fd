// The proxy's view of `conn_by_tuple`: after accept(), the accepted socket's peer address finds
// the kernel's record of who connected and where they were going. Needs only the pinned map, so
// the proxy works across loader restarts.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

#include "agent/common/unique_fd.h"
#include "bpf/redirect_abi.h"

namespace sluice {

class ConnectionTable {
public:
    // Opens <pin_dir>/maps/conn_by_tuple. Throws std::runtime_error.
    static ConnectionTable open_pinned(const std::string& pin_dir);
    // Borrows nothing: duplicates `map_fd`.
    static ConnectionTable from_fd(int map_fd);

    // Looks the connection whose client end is `client_peer`, in the network namespace
    // `netns_cookie` (the accepting listener's), up and deletes its entry (each record is
    // handed out once). nullopt if there is none, e.g. the connection did not come through the
    // redirect.
    [[nodiscard]] std::optional<sluice_conn_meta> take(uint64_t netns_cookie,
                                                       const sockaddr* client_peer,
                                                       socklen_t len) const;
    // Number of live entries (walks the map; for status and tests, not the data path).
    [[nodiscard]] size_t size() const;

private:
    explicit ConnectionTable(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace sluice
