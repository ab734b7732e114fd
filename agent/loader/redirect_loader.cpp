#include "agent/loader/redirect_loader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>

#include "agent/common/netns_cookie.h"
#include "agent/common/unique_fd.h"
#include "agent/loader/abi_codec.h"
#include "agent/loader/bpffs.h"
#include "agent/loader/pinned_state.h"

namespace sluice {
namespace {

std::string errno_text() { return std::strerror(errno); }

sluice_config config_from(const LoaderOptions& options) {
    const auto proxy4 = parse_ip_address(options.proxy_host);
    if (!proxy4 || !is_v4_mapped(*proxy4)) {
        throw std::runtime_error("proxy_host must be an IPv4 address, got '" + options.proxy_host +
                                 "'");
    }
    const auto proxy6 = parse_ip_address(options.proxy_host6);
    if (!proxy6 || is_v4_mapped(*proxy6)) {
        throw std::runtime_error("proxy_host6 must be an IPv6 address, got '" +
                                 options.proxy_host6 + "'");
    }
    if (options.proxy_port == 0) throw std::runtime_error("proxy_port must not be 0");

    sluice_config config{};
    std::memcpy(config.proxy_addr4, proxy4->data(), 16);
    std::memcpy(config.proxy_addr6, proxy6->data(), 16);
    config.proxy_port = htons(options.proxy_port);
    config.fail_open = options.fail_open ? 1 : 0;
    config.enabled = 1;
    config.exempt_tgid = options.exempt_tgid;
    config.exempt_cgroup_id = options.exempt_cgroup_id;
    config.serve_netns = options.serve_netns ? 1 : 0;
    return config;
}

using KeyBytes = std::array<uint8_t, sizeof(sluice_target_key)>;

KeyBytes bytes_of(const sluice_target_key& key) {
    KeyBytes bytes{};
    std::memcpy(bytes.data(), &key, sizeof(key));
    return bytes;
}

}  // namespace

void RedirectLoader::LinkDeleter::operator()(bpf_link* link) const noexcept {
    // For cgroup links this only closes our fd; the pin keeps the link (and the redirect) alive.
    bpf_link__destroy(link);
}

RedirectLoader::RedirectLoader(LoaderOptions options, std::string cgroup_path)
    : options_(std::move(options)), cgroup_path_(std::move(cgroup_path)) {}

RedirectLoader::~RedirectLoader() = default;

std::unique_ptr<RedirectLoader> RedirectLoader::load(const LoaderOptions& options) {
    const sluice_config config = config_from(options);
    std::string cgroup_path =
        options.cgroup_path.empty() ? find_cgroup2_root() : options.cgroup_path;
    if (!is_cgroup2_dir(cgroup_path)) {
        throw std::runtime_error("cgroup " + cgroup_path + " is not a cgroup2 directory");
    }
    prepare_pin_dir(options.pin_dir);

    std::unique_ptr<RedirectLoader> loader(new RedirectLoader(options, std::move(cgroup_path)));
    loader->skel_ = open_redirect_skeleton(maps_pin_dir(options.pin_dir));
    load_redirect_skeleton(*loader->skel_);
    // Config first: on a restart the old programs are still running and read this map, so the
    // new exemptions (sluiced's new pid) apply before anything else changes.
    loader->write_config(config);
    loader->connections_ = ConnectionTable::from_fd(connections_map_fd(*loader->skel_));
    loader->host_netns_cookie_ = current_netns_cookie();
    loader->reset_namespace_routes();
    loader->attach_all();
    return loader;
}

NamespaceRoute RedirectLoader::host_route() const {
    NamespaceRoute route;
    route.addr4 = *parse_ip_address(options_.proxy_host);
    route.addr6 = *parse_ip_address(options_.proxy_host6);
    route.port4 = route.port6 = options_.proxy_port;
    route.v4 = route.v6 = true;
    return route;
}

// Before the programs are swapped in: the host's route is the proxy address (as the config
// says), and no other namespace has one until sluiced listens there again.
void RedirectLoader::reset_namespace_routes() {
    const NetnsTable table = netns_table();
    table.put(host_netns_cookie_, host_route());
    for (const auto& [cookie, route] : table.entries())
        if (cookie != host_netns_cookie_) table.erase(cookie);
}

NetnsTable RedirectLoader::netns_table() const {
    return NetnsTable::from_fd(netns_listeners_map_fd(*skel_));
}

int RedirectLoader::netns_events_fd() const { return netns_events_map_fd(*skel_); }

void RedirectLoader::attach_all() {
    UniqueFd cgroup_fd(::open(cgroup_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup_fd)
        throw std::runtime_error("cannot open cgroup " + cgroup_path_ + ": " + errno_text());
    const uint64_t cgroup_id = cgroup_id_of(cgroup_path_);
    const std::string links_dir = links_pin_dir(options_.pin_dir);
    std::set<std::string> ours;

    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, object_of(*skel_)) {
        const std::string name = bpf_program__name(prog);
        const std::string pin = links_dir + "/" + name;
        ours.insert(name);

        LinkPtr pinned;
        if (::access(pin.c_str(), F_OK) == 0) pinned.reset(bpf_link__open(pin.c_str()));
        if (!pinned && errno != ENOENT) {
            throw std::runtime_error("cannot open pinned link " + pin + ": " + errno_text());
        }
        // Restart: swap the new program into the live link. The old program runs until the
        // kernel switches, so there is no instant in which a target connection goes direct.
        if (pinned && pinned_link_cgroup_id(bpf_link__fd(pinned.get())) == cgroup_id &&
            bpf_link__update_program(pinned.get(), prog) == 0) {
            links_.push_back(std::move(pinned));
            continue;
        }
        // First start, a defunct link (its cgroup was removed: ENOLINK) or a different cgroup:
        // attach the new link before retiring the old one.
        LinkPtr fresh(bpf_program__attach_cgroup(prog, cgroup_fd.get()));
        if (!fresh) {
            throw std::runtime_error("cannot attach " + name + " at " + cgroup_path_ + ": " +
                                     errno_text());
        }
        if (pinned) ::unlink(pin.c_str());
        if (bpf_link__pin(fresh.get(), pin.c_str()) != 0) {
            throw std::runtime_error("cannot pin link " + pin + ": " + errno_text());
        }
        if (pinned) bpf_link_detach(bpf_link__fd(pinned.get()));
        links_.push_back(std::move(fresh));
    }
    // Links of programs an older version had and this one does not.
    for (const std::string& name : list_dir(links_dir)) {
        if (!ours.contains(name)) detach_pinned_link(links_dir + "/" + name);
    }
}

void RedirectLoader::write_config(const sluice_config& config) {
    const uint32_t zero = 0;
    if (bpf_map_update_elem(config_map_fd(*skel_), &zero, &config, BPF_ANY) != 0) {
        throw std::runtime_error("cannot write the BPF config: " + errno_text());
    }
}

sluice_config RedirectLoader::read_config() const {
    const uint32_t zero = 0;
    sluice_config config{};
    if (bpf_map_lookup_elem(config_map_fd(*skel_), &zero, &config) != 0) {
        throw std::runtime_error("cannot read the BPF config: " + errno_text());
    }
    return config;
}

void RedirectLoader::set_exemptions(uint32_t exempt_tgid, uint64_t exempt_cgroup_id) {
    sluice_config config = read_config();
    config.exempt_tgid = exempt_tgid;
    config.exempt_cgroup_id = exempt_cgroup_id;
    write_config(config);
}

void RedirectLoader::set_enabled(bool enabled) {
    sluice_config config = read_config();
    config.enabled = enabled ? 1 : 0;
    write_config(config);
}

void RedirectLoader::set_serve_netns(bool serve) {
    sluice_config config = read_config();
    config.serve_netns = serve ? 1 : 0;
    write_config(config);
}

void RedirectLoader::replace_targets(const std::vector<TargetEntry>& targets) {
    const int fd = targets_map_fd(*skel_);
    std::set<KeyBytes> wanted;
    for (const TargetEntry& target : targets) {
        const sluice_target_key key = target_key(target.addr, target.port);
        const sluice_target_value value{target.expires_unix_s};
        if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0) {
            throw std::runtime_error("cannot add target " + format_ip_address(target.addr) +
                                     " port " + std::to_string(target.port) + ": " + errno_text());
        }
        wanted.insert(bytes_of(key));
    }
    std::vector<sluice_target_key> stale;
    sluice_target_key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        if (!wanted.contains(bytes_of(next))) stale.push_back(next);
        key = next;
        prev = &key;
    }
    for (const sluice_target_key& old : stale) {
        if (bpf_map_delete_elem(fd, &old) != 0 && errno != ENOENT) {
            throw std::runtime_error("cannot remove a stale target: " + errno_text());
        }
    }
}

std::optional<sluice_conn_meta> RedirectLoader::take_connection(uint64_t netns_cookie,
                                                                const sockaddr* client_peer,
                                                                socklen_t len) const {
    return connections_->take(netns_cookie, client_peer, len);
}

LoaderStatus RedirectLoader::status() const { return read_status(options_.pin_dir); }

void RedirectLoader::unload(const std::string& pin_dir) { remove_pinned_state(pin_dir); }

LoaderStatus RedirectLoader::read_status(const std::string& pin_dir) {
    return read_pinned_state(pin_dir);
}

}  // namespace sluice
