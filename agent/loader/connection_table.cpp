#include "agent/loader/connection_table.h"

#include <bpf/bpf.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "agent/loader/abi_codec.h"
#include "agent/loader/bpffs.h"

namespace sluice {
namespace {
constexpr int kKernelENOTSUPP = 524;  // kernel-internal errno, not in user-space headers
}  // namespace

ConnectionTable ConnectionTable::open_pinned(const std::string& pin_dir) {
    const std::string path = maps_pin_dir(pin_dir) + "/conn_by_tuple";
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    return ConnectionTable(UniqueFd(fd));
}

ConnectionTable ConnectionTable::from_fd(int map_fd) {
    int fd = ::fcntl(map_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("dup map fd: ") + std::strerror(errno));
    return ConnectionTable(UniqueFd(fd));
}

std::optional<sluice_conn_meta> ConnectionTable::take(uint64_t netns_cookie,
                                                      const sockaddr* client_peer,
                                                      socklen_t len) const {
    const auto key = netns_conn_key(netns_cookie, client_peer, len);
    if (!key) return std::nullopt;
    sluice_conn_meta meta{};
    if (bpf_map_lookup_and_delete_elem(fd_.get(), &*key, &meta) == 0) return meta;
    // LOOKUP_AND_DELETE on hash maps needs 5.14; older kernels get lookup, then delete.
    if (errno != EINVAL && errno != kKernelENOTSUPP && errno != EOPNOTSUPP) return std::nullopt;
    if (bpf_map_lookup_elem(fd_.get(), &*key, &meta) != 0) return std::nullopt;
    bpf_map_delete_elem(fd_.get(), &*key);
    return meta;
}

size_t ConnectionTable::size() const {
    size_t count = 0;
    sluice_netns_conn_key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd_.get(), prev, &next) == 0) {
        ++count;
        key = next;
        prev = &key;
    }
    return count;
}

}  // namespace sluice
