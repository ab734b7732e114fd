#include "agent/loader/pinned_state.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "agent/common/unique_fd.h"
#include "agent/loader/abi_codec.h"
#include "agent/loader/bpffs.h"
#include "agent/loader/cgroup.h"
#include "agent/loader/connection_table.h"
#include "agent/loader/netns_table.h"
#include "agent/loader/redirect_loader.h"

namespace sluice {
namespace {

std::optional<bpf_link_info> link_info(int link_fd) {
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(link_fd, &info, &len) != 0) return std::nullopt;
    return info;
}

UniqueFd open_pin(const std::string& path) { return UniqueFd(bpf_obj_get(path.c_str())); }

std::vector<TargetEntry> read_targets(int fd) {
    std::vector<TargetEntry> targets;
    sluice_target_key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        sluice_target_value value{};
        if (bpf_map_lookup_elem(fd, &next, &value) == 0) {
            TargetEntry entry;
            std::memcpy(entry.addr.data(), next.addr, 16);
            entry.port = ntohs(next.port);
            entry.expires_unix_s = value.expires_unix_s;
            targets.push_back(entry);
        }
        key = next;
        prev = &key;
    }
    return targets;
}

std::map<std::string, uint64_t> read_counters(int fd) {
    std::map<std::string, uint64_t> counters;
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return counters;
    std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
    for (uint32_t stat = 0; stat < SLUICE_STAT_MAX; ++stat) {
        if (bpf_map_lookup_elem(fd, &stat, per_cpu.data()) != 0) continue;
        uint64_t sum = 0;
        for (uint64_t value : per_cpu) sum += value;
        counters[stat_name(stat)] = sum;
    }
    return counters;
}

void remove_path(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        throw std::runtime_error("cannot remove pin " + path + ": " + std::strerror(errno));
    }
}

void remove_dir(const std::string& path) {
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
        throw std::runtime_error("cannot remove " + path + ": " + std::strerror(errno));
    }
}

}  // namespace

std::optional<uint64_t> pinned_link_cgroup_id(int link_fd) {
    const auto info = link_info(link_fd);
    if (!info || info->type != BPF_LINK_TYPE_CGROUP) return std::nullopt;
    return info->cgroup.cgroup_id;
}

void detach_pinned_link(const std::string& path) {
    if (UniqueFd link = open_pin(path)) {
        // A defunct link (cgroup gone) is already detached; anything else must detach now,
        // even if another process still holds the link open.
        if (bpf_link_detach(link.get()) != 0 && errno != ENOLINK && errno != EINVAL) {
            throw std::runtime_error("cannot detach " + path + ": " + std::strerror(errno));
        }
    }
    remove_path(path);
}

LoaderStatus read_pinned_state(const std::string& pin_dir) {
    LoaderStatus status;
    const std::string links_dir = links_pin_dir(pin_dir);
    std::optional<uint64_t> cgroup_id;
    for (const std::string& name : list_dir(links_dir)) {
        UniqueFd link = open_pin(links_dir + "/" + name);
        if (!link) continue;
        const auto info = link_info(link.get());
        if (!info) continue;
        AttachedProgram program;
        program.name = name;
        program.prog_id = info->prog_id;
        program.link_id = info->id;
        if (info->type == BPF_LINK_TYPE_CGROUP) {
            const char* type =
                libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(info->cgroup.attach_type));
            program.attach_type = type != nullptr ? type : "unknown";
            if (!cgroup_id && info->cgroup.cgroup_id != 0) cgroup_id = info->cgroup.cgroup_id;
        }
        status.programs.push_back(std::move(program));
    }
    if (cgroup_id) {
        try {
            status.cgroup_path = find_cgroup_path(find_cgroup2_root(), *cgroup_id).value_or("");
        } catch (const std::runtime_error&) {
            // No cgroup2 mount: leave the path empty rather than fail a status query.
        }
    }
    const std::string maps_dir = maps_pin_dir(pin_dir);
    if (UniqueFd targets = open_pin(maps_dir + "/targets"))
        status.targets = read_targets(targets.get());
    if (UniqueFd stats = open_pin(maps_dir + "/stats"))
        status.counters = read_counters(stats.get());
    if (UniqueFd conns = open_pin(maps_dir + "/conn_by_tuple")) {
        status.tracked_connections = ConnectionTable::from_fd(conns.get()).size();
    }
    if (UniqueFd routes = open_pin(maps_dir + "/netns_listeners"))
        status.served_namespaces = NetnsTable::from_fd(routes.get()).size();
    return status;
}

void remove_pinned_state(const std::string& pin_dir) {
    std::error_code ec;
    if (!std::filesystem::exists(pin_dir, ec)) return;
    const std::string links_dir = links_pin_dir(pin_dir);
    // Links first: once they are gone nothing uses the maps any more.
    for (const std::string& name : list_dir(links_dir)) detach_pinned_link(links_dir + "/" + name);
    const std::string maps_dir = maps_pin_dir(pin_dir);
    for (const std::string& name : list_dir(maps_dir)) remove_path(maps_dir + "/" + name);
    remove_dir(links_dir);
    remove_dir(maps_dir);
    remove_dir(pin_dir);
}

}  // namespace sluice
