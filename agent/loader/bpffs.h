// The bpffs side of the loader: making sure pins have a bpf file system to live on, and the
// layout of one pin directory:
//   <pin_dir>/maps/<map name>    (libbpf LIBBPF_PIN_BY_NAME, re-adopted on restart)
//   <pin_dir>/links/<prog name>  (cgroup bpf_links; programs are swapped in place on restart)
#pragma once

#include <string>
#include <vector>

namespace sluice {

inline constexpr const char* kDefaultBpffsMount = "/sys/fs/bpf";

std::string maps_pin_dir(const std::string& pin_dir);
std::string links_pin_dir(const std::string& pin_dir);

// Mounts bpffs at /sys/fs/bpf when pin_dir lives there and nothing is mounted yet, then creates
// pin_dir and its maps/ and links/ subdirectories. Throws std::runtime_error if pin_dir does not
// end up on a bpffs.
void prepare_pin_dir(const std::string& pin_dir);

// Names of the entries of a directory (empty if it does not exist).
std::vector<std::string> list_dir(const std::string& dir);

}  // namespace sluice
