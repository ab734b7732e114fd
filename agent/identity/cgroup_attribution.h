// Turns a cgroup2 path into what an operator recognises: the systemd unit, the slice, and the
// container or Kubernetes pod it belongs to. Pure string work, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

struct CgroupAttribution {
    std::string unit;               // innermost *.service / *.scope / *.socket, "" if none
    std::string slice;              // innermost *.slice, "" if none
    std::string container_runtime;  // "docker", "containerd", "cri-o", "podman", "cri" or ""
    std::string container_id;       // hex id as the runtime prints it, "" if not a container
    std::string pod_uid;            // Kubernetes pod UID with dashes, "" if not in a pod
};

// `path` is relative to the cgroup2 mount, as in /proc/<pid>/cgroup ("/system.slice/x.service").
// Recognises systemd and cgroupfs layouts of docker, containerd (CRI), CRI-O, podman and
// kubelet. Unknown layouts yield just unit/slice.
CgroupAttribution parse_cgroup_path(std::string_view path);

// The same parse, with each finding filed by where it was found: names in the first
// `trusted_components` components of the path (the system's part, cgroup_trust.h) go to
// `system`, names below them to `user_controlled`. A layout is still recognised across the
// boundary (a cgroupfs pod directory above, a container id below), but a name never moves from
// one side to the other.
struct SplitCgroupAttribution {
    CgroupAttribution system;
    CgroupAttribution user_controlled;
};
SplitCgroupAttribution attribute_cgroup_path(std::string_view path, size_t trusted_components);

// Finds the cgroup2 mount point in the text of /proc/mounts; "" if there is none.
std::string find_cgroup2_mount(std::string_view proc_mounts_text);

}  // namespace sluice
