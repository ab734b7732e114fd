#include "agent/loader/redirect_skeleton.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "agent/common/unique_fd.h"
#include "redirect.skel.h"

namespace sluice {

void RedirectSkeletonDeleter::operator()(redirect_bpf* skel) const noexcept {
    // Closes program, map and link fds. Pinned maps and links live on in bpffs.
    redirect_bpf__destroy(skel);
}

RedirectSkeleton open_redirect_skeleton(const std::string& map_pin_dir) {
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = map_pin_dir.c_str());
    RedirectSkeleton skel(redirect_bpf__open_opts(&opts));
    if (!skel) {
        throw std::runtime_error(std::string("cannot open the redirect BPF object: ") +
                                 std::strerror(errno));
    }
    return skel;
}

void unpin_incompatible_maps(bpf_object* object) {
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, object) {
        const char* path = bpf_map__pin_path(map);
        if (path == nullptr) continue;
        UniqueFd pinned(bpf_obj_get(path));
        if (!pinned) continue;
        bpf_map_info info{};
        uint32_t len = sizeof(info);
        if (bpf_obj_get_info_by_fd(pinned.get(), &info, &len) != 0) continue;
        const bool same = info.type == bpf_map__type(map) &&
                          info.key_size == bpf_map__key_size(map) &&
                          info.value_size == bpf_map__value_size(map) &&
                          info.max_entries == bpf_map__max_entries(map) &&
                          info.map_flags == bpf_map__map_flags(map);
        if (!same && ::unlink(path) != 0 && errno != ENOENT) {
            throw std::runtime_error(std::string("cannot replace the outdated pinned map ") + path +
                                     ": " + std::strerror(errno));
        }
    }
}

void load_redirect_skeleton(redirect_bpf& skel) {
    unpin_incompatible_maps(skel.obj);
    if (int err = redirect_bpf__load(&skel); err != 0) {
        throw std::runtime_error(
            std::string("cannot load the redirect BPF programs (verifier log above; pinned maps "
                        "from an incompatible version need `sluicectl unload`): ") +
            std::strerror(-err));
    }
}

bpf_object* object_of(redirect_bpf& skel) { return skel.obj; }

int targets_map_fd(redirect_bpf& skel) { return bpf_map__fd(skel.maps.targets); }
int config_map_fd(redirect_bpf& skel) { return bpf_map__fd(skel.maps.config_map); }
int connections_map_fd(redirect_bpf& skel) { return bpf_map__fd(skel.maps.conn_by_tuple); }
int netns_listeners_map_fd(redirect_bpf& skel) { return bpf_map__fd(skel.maps.netns_listeners); }
int netns_events_map_fd(redirect_bpf& skel) { return bpf_map__fd(skel.maps.netns_events); }

}  // namespace sluice
