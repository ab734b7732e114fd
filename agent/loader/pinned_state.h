// What a pin directory holds, read or removed without loading any program: used by
// `sluicectl status` / `sluicectl unload` and by RedirectLoader on restart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sluice {

struct LoaderStatus;

// The cgroup a cgroup bpf_link is attached to (0 when the link is defunct).
std::optional<uint64_t> pinned_link_cgroup_id(int link_fd);

// Detaches the link pinned at `path` (if any) and removes the pin.
void detach_pinned_link(const std::string& path);

LoaderStatus read_pinned_state(const std::string& pin_dir);
void remove_pinned_state(const std::string& pin_dir);

}  // namespace sluice
