// RAII over the bpftool-generated skeleton of bpf/redirect.bpf.c. Only redirect_skeleton.cpp
// includes the generated header (its functions are `static`); everything else reaches the maps
// through the typed accessors below (skel->maps.x: a renamed map fails the build, not the start).
#pragma once

#include <memory>
#include <string>

struct redirect_bpf;
struct bpf_object;

namespace sluice {

struct RedirectSkeletonDeleter {
    void operator()(redirect_bpf* skel) const noexcept;
};
using RedirectSkeleton = std::unique_ptr<redirect_bpf, RedirectSkeletonDeleter>;

// Opens (does not load) the skeleton. Maps declared LIBBPF_PIN_BY_NAME are pinned under, or
// re-adopted from, `map_pin_dir` at load time. Throws std::runtime_error.
RedirectSkeleton open_redirect_skeleton(const std::string& map_pin_dir);

// Verifies and loads the programs into the kernel. A map pinned by an older version whose
// definition differs (key, value, size, flags) is unpinned first and made anew: programs still
// attached keep their old map until they are swapped out. Throws std::runtime_error.
void load_redirect_skeleton(redirect_bpf& skel);

// Unpins every pinned map of `object` whose pinned counterpart no longer matches its
// definition, so libbpf creates it afresh instead of failing the load. Call before loading.
void unpin_incompatible_maps(bpf_object* object);

bpf_object* object_of(redirect_bpf& skel);

// Descriptors of the loaded maps.
int targets_map_fd(redirect_bpf& skel);
int config_map_fd(redirect_bpf& skel);
int connections_map_fd(redirect_bpf& skel);
int netns_listeners_map_fd(redirect_bpf& skel);
int netns_events_map_fd(redirect_bpf& skel);

}  // namespace sluice
