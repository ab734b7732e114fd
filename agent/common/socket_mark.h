// sluiced marks its own outbound sockets so the redirect programs never touch them.
#pragma once

namespace sluice {

// Sets SO_MARK = SLUICE_BYPASS_MARK. Needs CAP_NET_ADMIN; returns false without it (the tgid
// exemption in the programs still holds).
bool mark_as_sluice_socket(int fd);

}  // namespace sluice
