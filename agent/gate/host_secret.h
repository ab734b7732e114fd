// A per-host random secret kept in state_dir (0600): the key for masking's keyed hashes, so a
// value hashes the same across restarts on this host and cannot be brute-forced elsewhere.
#pragma once

#include <string>

namespace sluice {

// Reads `path`, or creates it with 32 random bytes (mode 0600) when it does not exist.
// Throws std::runtime_error with one line when it can be neither read nor created.
std::string load_or_create_host_secret(const std::string& path);

}  // namespace sluice
