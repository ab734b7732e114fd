// Network namespace cookies: the 64-bit id the kernel gives every network namespace
// (bpf_get_netns_cookie in the redirect programs, SO_NETNS_COOKIE for a socket). Never reused
// while the host is up, unlike the namespace's inode number.
#pragma once

#include <cstdint>
#include <optional>

namespace sluice {

// The cookie of the namespace the socket `fd` lives in; nullopt if the kernel cannot say
// (before Linux 5.14).
std::optional<uint64_t> socket_netns_cookie(int fd);

// The cookie of the calling thread's network namespace. Throws std::runtime_error.
uint64_t current_netns_cookie();

}  // namespace sluice
