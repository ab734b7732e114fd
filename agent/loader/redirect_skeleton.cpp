#include "agent/loader/redirect_skeleton.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

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

void load_redirect_skeleton(redirect_bpf& skel) {
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

}  // namespace sluice
