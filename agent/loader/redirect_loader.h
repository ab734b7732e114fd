// The facade over bpf/redirect.bpf.c (Katran style: one options struct in, verbs out).
// Lifecycle: open -> configure -> load -> attach (or adopt the pinned links) -> run -> destroy.
// Destroying the loader leaves the pinned links attached: target connections keep going to the
// proxy port (fail closed while sluiced is away); unload() is the only way to detach.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/loader/cgroup.h"
#include "agent/loader/connection_table.h"
#include "agent/loader/netns_table.h"
#include "agent/loader/redirect_skeleton.h"
#include "bpf/redirect_abi.h"

struct bpf_link;

namespace sluice {

struct LoaderOptions {
    std::string cgroup_path;  // "" = find_cgroup2_root()
    std::string pin_dir = "/sys/fs/bpf/sluice";
    std::string proxy_host = "127.0.0.1";  // where IPv4 (and v4-mapped) targets go
    std::string proxy_host6 = "::1";       // where IPv6 targets go
    uint16_t proxy_port = 0;               // host order, same for both families
    bool fail_open = false;
    uint32_t exempt_tgid = 0;  // sluiced's pid (initial pid namespace); 0 = none
    uint64_t exempt_cgroup_id = 0;
    // sluiced serves other network namespaces (a listener in each, agent/netns): a connect
    // from a namespace it does not serve yet is held and announced rather than refused.
    bool serve_netns = false;
};

struct TargetEntry {
    std::array<uint8_t, 16> addr{};  // v4-mapped for IPv4
    uint16_t port = 0;               // host order
    uint64_t expires_unix_s = 0;     // informational; 0 = fixed
    bool operator==(const TargetEntry&) const = default;
};

struct AttachedProgram {
    std::string name;
    std::string attach_type;
    uint32_t prog_id = 0;
    uint32_t link_id = 0;
};

struct LoaderStatus {
    std::vector<AttachedProgram> programs;
    std::string cgroup_path;  // "" if the links' cgroup could not be found
    std::vector<TargetEntry> targets;
    std::map<std::string, uint64_t> counters;
    size_t tracked_connections = 0;
    size_t served_namespaces = 0;  // entries of netns_listeners, the loader's own included
};

class RedirectLoader {
public:
    // Opens the skeleton, loads it against the maps pinned under pin_dir (creating and pinning
    // them on first start), writes the config, then for every program either swaps it into the
    // pinned link (bpf_link_update: no instant without a program) or attaches at the cgroup and
    // pins the link. Mounts bpffs at /sys/fs/bpf if needed. The calling thread's network
    // namespace is the host's: its entry in netns_listeners is the proxy address; entries a
    // previous run left for other namespaces are dropped (their listeners died with it).
    // Throws std::runtime_error.
    static std::unique_ptr<RedirectLoader> load(const LoaderOptions& options);
    ~RedirectLoader();  // does NOT detach
    RedirectLoader(const RedirectLoader&) = delete;
    RedirectLoader& operator=(const RedirectLoader&) = delete;

    // Adds every new entry first, then deletes the stale ones, so a target present in both the
    // old and the new set is never absent. Throws std::runtime_error (e.g. map full).
    void replace_targets(const std::vector<TargetEntry>& targets);
    // Changes who is never redirected, without reloading.
    void set_exemptions(uint32_t exempt_tgid, uint64_t exempt_cgroup_id);
    // false: every program passes everything through (already redirected sockets keep their
    // getpeername translation).
    void set_enabled(bool enabled);
    // Whether a connect from a namespace without a listener is held (sluiced serves
    // namespaces) or refused.
    void set_serve_netns(bool serve);

    // For the proxy after accept(): the record of the connection whose client end is
    // `client_peer` (getpeername of the accepted socket), deleted as it is returned.
    // `netns_cookie`: the namespace of the listener that accepted the connection.
    [[nodiscard]] std::optional<sluice_conn_meta> take_connection(uint64_t netns_cookie,
                                                                  const sockaddr* client_peer,
                                                                  socklen_t len) const;
    // The namespace the loader ran in, and the route written for it.
    [[nodiscard]] uint64_t host_netns_cookie() const { return host_netns_cookie_; }
    [[nodiscard]] NamespaceRoute host_route() const;
    // Where each namespace's redirects go (a copy of the map's descriptor).
    [[nodiscard]] NetnsTable netns_table() const;
    // The ring buffer the programs announce namespaces on (borrowed descriptor).
    [[nodiscard]] int netns_events_fd() const;
    [[nodiscard]] LoaderStatus status() const;
    [[nodiscard]] const std::string& pin_dir() const { return options_.pin_dir; }
    [[nodiscard]] const std::string& cgroup_path() const { return cgroup_path_; }

    // Detaches every link pinned under pin_dir and removes all pins and the directory.
    // Idempotent: nothing pinned is not an error. Throws std::runtime_error on a real failure.
    static void unload(const std::string& pin_dir);
    // What is pinned under pin_dir, without loading anything (for `sluicectl status`).
    static LoaderStatus read_status(const std::string& pin_dir);

private:
    struct LinkDeleter {
        void operator()(bpf_link* link) const noexcept;
    };
    using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

    RedirectLoader(LoaderOptions options, std::string cgroup_path);
    void write_config(const sluice_config& config);
    [[nodiscard]] sluice_config read_config() const;
    void attach_all();
    void reset_namespace_routes();

    LoaderOptions options_;
    std::string cgroup_path_;
    RedirectSkeleton skel_;
    std::vector<LinkPtr> links_;
    std::optional<ConnectionTable> connections_;
    uint64_t host_netns_cookie_ = 0;
};

}  // namespace sluice
